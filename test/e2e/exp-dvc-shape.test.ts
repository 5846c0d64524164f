/**
 * exp run / show / diff on a project shaped like DVC's example-get-started: raw data tracked by a `.dvc`
 * file (git-ignored, so only the cache can put it into an experiment's workspace), the evaluation's
 * metrics declared only in the top-level `metrics:` section, a key (`accuracy`) in two metrics files, and a
 * top-level `plots:` entry drawn from a file no stage declares.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempProject } from '../helpers/project.js';
import { run as uiRun } from '../../src/ui/data.js';

const DVC_YAML = `stages:
  prepare:
    cmd: mkdir -p data/prepared && wc -l < data/data.xml | tr -d ' ' > data/prepared/n.txt
    deps: [data/data.xml]
    params: [prepare.split]
    outs: [data/prepared]
  train:
    cmd: |
      n=$(sed -n 's/^ *n_est: *//p' params.yaml)
      mkdir -p train && echo "{\\"accuracy\\": 0.$n, \\"loss\\": 1}" > train/metrics.json && echo "$n" > model.txt
      echo "[{\\"fpr\\": 0, \\"tpr\\": 0}, {\\"fpr\\": 1, \\"tpr\\": 0.$n}]" > train/roc.json
    deps: [data/prepared]
    params: [train.n_est]
    outs: [model.txt]
    metrics:
      - train/metrics.json:
          cache: false
  evaluate:
    cmd: |
      n=$(cat model.txt); k=$(cat data/prepared/n.txt)
      mkdir -p eval && echo "{\\"accuracy\\": 0.$n$k, \\"avg_prec\\": 0.9}" > eval/metrics.json
    deps: [model.txt, data/prepared]
    outs:
      - eval:
          cache: false
metrics:
  - eval/metrics.json
plots:
  - ROC:
      x: fpr
      y:
        train/roc.json: tpr
`;

interface Row {
  type: string;
  name: string;
  sha?: string;
  metrics: Record<string, Record<string, unknown>>;
  params: Record<string, Record<string, unknown>>;
}

test(`exp run checks .dvc-tracked data out into its workspace; exp show has DVC rows, top-level metrics, file:key \
labels; exp diff NAME and HEAD NAME`, async () => {
  const p = await tempProject({
    'dvc.yaml': DVC_YAML,
    'params.yaml': 'prepare:\n  split: 0.2\ntrain:\n  n_est: 5\n',
    'data/data.xml': '<a/>\n<b/>\n<c/>\n',
    '.gitignore': '/model.txt\n/train/\n/eval/\n',
  });
  const added = await p.run(['add', 'data/data.xml']);
  assert.equal(added.exitCode, 0, added.all);
  await p.git('rm', '-q', '--cached', 'data/data.xml');
  await p.git('add', '-A');
  await p.git('commit', '-qm', 'track data/data.xml with a .dvc file');
  assert.equal((await p.git('ls-files', 'data')).trim(), 'data/.gitignore\ndata/data.xml.dvc');

  const run = await p.run(['exp', 'run', '-S', 'train.n_est=7', '-n', 'e7']);
  assert.equal(run.exitCode, 0, run.all);
  assert.match(
    run.stderr,
    /done +e7 .* accuracy 0\.73/,
    'the headline is the evaluation metric (top-level metrics first)',
  );

  const rows = JSON.parse((await p.run(['exp', 'show', '--json'])).stdout) as Row[];
  assert.deepEqual(
    rows.map((r) => [r.type, r.name]),
    [
      ['workspace', 'workspace'],
      ['baseline', 'main'],
      ['experiment', 'e7'],
    ],
  );
  // the prepare stage counted the 3 lines of the .dvc-tracked file (accuracy 0.7 + "3")
  assert.deepEqual(rows[2]!.metrics, {
    'eval/metrics.json': { accuracy: 0.73, avg_prec: 0.9 },
    'train/metrics.json': { accuracy: 0.7, loss: 1 },
  });
  assert.deepEqual(rows[1]!.params, { 'params.yaml': { 'prepare.split': 0.2, 'train.n_est': 5 } });

  const csv = (await p.run(['exp', 'show', '--csv'])).stdout.split('\n');
  assert.equal(
    csv[0],
    'baseline,type,Experiment,Created,State,train.n_est,eval/metrics.json:accuracy,avg_prec,' +
      'train/metrics.json:accuracy,loss',
  );
  // narrow: the evaluation's accuracy and the changed param stay, the training's columns give way
  const narrow = await p.run(['exp', 'show', '--width', '60']);
  assert.match(narrow.stdout, /│ Experiment │ train\.n_est │ eval\/metrics\.json:accuracy │\n/);
  assert.match(narrow.stdout, /│ └── e7 +│ +7 │ +0\.73 │/);
  assert.match(narrow.stderr, /not shown: Created, State, avg_prec, train\/metrics\.json:accuracy, loss/);

  // the top-level plot of the experiment, for plots diff and for the ui's run view
  const plots = await p.run(['plots', 'diff', 'HEAD', 'e7', '--json']);
  assert.equal(plots.exitCode, 0, plots.all);
  const roc = (
    JSON.parse(plots.stdout) as Record<string, Array<{ content: { data: { values: Array<Record<string, unknown>> } } }>>
  ).ROC?.[0]?.content.data.values;
  assert.deepEqual(
    roc?.map((v) => [v.rev, v.x, v.y]),
    [
      ['e7', 0, 0],
      ['e7', 1, 0.7],
    ],
  );
  const view = await uiRun({ root: p.dir, cacheDir: path.join(p.dir, '.cache') }, rows[2]!.sha!);
  assert.deepEqual(
    view.plots.map((x) => [x.id, x.kind === 'vega' ? x.points : 0]),
    [['ROC', 2]],
  );

  // one argument: the experiment against the workspace; a git revision against an experiment
  const one = JSON.parse((await p.run(['exp', 'diff', 'e7', '--json'])).stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(one[0], { kind: 'param', file: 'params.yaml', key: 'train.n_est', a: 7, b: 5, change: -2 });
  const headVs = await p.run(['exp', 'diff', 'HEAD', 'e7']);
  assert.equal(headVs.exitCode, 0, headVs.all);
  assert.match(headVs.stdout, /│ param +│ params\.yaml +│ train\.n_est │ +5 │ +7 │ +2 │/);
  assert.match(headVs.stdout, /│ metric │ eval\/metrics\.json +│ accuracy +│ +- │ 0\.73 │/);
  assert.equal((await p.run(['exp', 'diff'])).stderr.trim(), 'HEAD and workspace have the same params and metrics.');
  // fault: the tracked data's object is gone from the cache: the experiment fails naming the .dvc file
  const md5 = /md5: ([0-9a-f]{32})/.exec(await p.read('data/data.xml.dvc'))![1]!;
  await fs.rm(path.join(p.dir, '.cache', 'files', 'md5', md5.slice(0, 2), md5.slice(2)));
  const lost = await p.run(['exp', 'run', '-S', 'prepare.split=0.3', '-n', 'lost']);
  assert.equal(lost.exitCode, 1, lost.all);
  assert.match(
    lost.stderr,
    /FAILED +lost .*dependency 'data\/data\.xml' is tracked by data\/data\.xml\.dvc but is not in the workspace/,
  );

  const bad = await p.run(['exp', 'diff', 'nosuch']);
  assert.equal(bad.exitCode, 1);
  assert.equal(
    bad.stderr.trim(),
    "lockstep: 'nosuch' is neither an experiment nor a git revision. Name an experiment (lockstep exp list), a " +
      'commit, branch or tag, or `workspace`.',
  );

  // a baseline's git-ignored metrics are read through its lock file from the cache (not from the working tree)
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.git('add', '-A');
  await p.git('commit', '-qm', 'ran the pipeline');
  assert.equal((await p.git('ls-files', 'eval', 'train')).trim(), '', 'the metrics are not in git');
  await fs.rm(path.join(p.dir, 'eval'), { recursive: true });
  await fs.rm(path.join(p.dir, 'train'), { recursive: true });
  const after = JSON.parse((await p.run(['exp', 'show', '--json'])).stdout) as Row[];
  assert.deepEqual(
    after.map((r) => [r.type, r.name, r.metrics]),
    [
      ['workspace', 'workspace', {}],
      [
        'baseline',
        'main',
        { 'eval/metrics.json': { accuracy: 0.53, avg_prec: 0.9 }, 'train/metrics.json': { accuracy: 0.5, loss: 1 } },
      ],
    ],
  );
  const vsHead = JSON.parse((await p.run(['exp', 'diff', 'HEAD', 'e7', '--json'])).stdout) as Array<
    Record<string, unknown>
  >;
  assert.deepEqual(
    vsHead.find((r) => r.file === 'eval/metrics.json' && r.key === 'accuracy'),
    { kind: 'metric', file: 'eval/metrics.json', key: 'accuracy', a: 0.53, b: 0.73, change: 0.19999999999999996 },
  );
});
