import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleGit } from 'simple-git';
import path from 'node:path';
import { runCli, tempProject } from '../helpers/project.js';

// A stage writing a cached plot file (not in git): its rows are `{step, v}` for step < STEPS.
const WRITE_PLOT = `import fs from 'node:fs';
const n = Number(fs.readFileSync('steps.txt', 'utf8'));
fs.mkdirSync('plots', { recursive: true });
fs.writeFileSync('plots/curve.json', JSON.stringify(Array.from({ length: n }, (_, step) => ({ step, v: step * n }))));
`;

const SUB_PIPELINE = `stages:
  curve:
    cmd: node write-plot.mjs
    deps: [write-plot.mjs, steps.txt]
    plots:
      - plots/curve.json:
          x: step
          y: v
`;

type PlotsJson = Record<string, Array<{ revs: string[]; content: { data: { values: Array<{ rev: string }> } } }>>;

const rowsPerRev = (json: PlotsJson, id: string, rev: string) =>
  json[id]?.[0]?.content.data.values.filter((v) => v.rev === rev).length;

test(`plots diff over a revision reads a sub-pipeline's cached plot through that pipeline's own lock file, also when \
the project is a folder of a larger git repository`, async () => {
  const p = await tempProject({
    '.gitignore': '.cache/\n',
    'proj/pipeline.yaml': 'stages:\n  root:\n    cmd: echo root > root.txt\n    outs: [root.txt]\n',
    'proj/sub/pipeline.yaml': SUB_PIPELINE,
    'proj/sub/write-plot.mjs': WRITE_PLOT,
    'proj/sub/steps.txt': '3',
  });
  await p.write('proj/.lockstep/config.yaml', '{}\n');
  const run = (args: string[]) => runCli(path.join(p.dir, 'proj'), args);
  let r = await run(['repro', '-P']);
  assert.equal(r.exitCode, 0, r.all);
  await simpleGit(p.dir).add('.').commit('three steps');
  // the plot file is a cached output: git ignores it, only sub/pipeline.lock records it
  assert.doesNotMatch(await p.git('ls-files'), /curve\.json/);
  assert.match(await p.git('ls-files'), /proj\/sub\/pipeline\.lock/);

  await p.write('proj/sub/steps.txt', '5');
  r = await run(['repro', '-P']);
  assert.equal(r.exitCode, 0, r.all);
  r = await run(['plots', 'diff', 'HEAD', '--json']);
  assert.equal(r.exitCode, 0, r.all);
  const json = JSON.parse(r.stdout) as PlotsJson;
  const id = 'sub/plots/curve.json';
  assert.deepEqual(json[id]?.[0]?.revs, ['workspace', 'HEAD']);
  assert.equal(rowsPerRev(json, id, 'workspace'), 5);
  assert.equal(rowsPerRev(json, id, 'HEAD'), 3, "HEAD's rows came from the cache through sub/pipeline.lock");
});
