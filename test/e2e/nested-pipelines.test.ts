/**
 * Pipelines in subfolders (a monorepo's `sub/dvc.yaml`): collected from the root as DVC collects them, stages
 * addressed `sub/dvc.yaml:stage`, each file's lock beside it, one graph across files, and every path still
 * inside the project.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { runCli, tempProject, type TempProject } from '../helpers/project.js';

const ROOT_YAML = `stages:
  report:
    cmd: mkdir -p runs && echo x >> runs/report && cat sub/out.txt > report.txt
    deps:
    - sub/out.txt
    outs:
    - report.txt
`;
// paths and params relative to sub/ (the stage's default wdir), as DVC reads them
const SUB_YAML = `stages:
  make:
    cmd: mkdir -p runs && echo x >> runs/make && echo made \${n} $(cat in.txt) > out.txt
    deps:
    - in.txt
    params:
    - n
    outs:
    - out.txt
`;

async function nested(extra: Record<string, string> = {}, git = true): Promise<TempProject> {
  return tempProject(
    {
      'dvc.yaml': ROOT_YAML,
      'sub/dvc.yaml': SUB_YAML,
      'sub/params.yaml': 'n: 1\n',
      'sub/in.txt': 'input\n',
      '.gitignore': 'runs/\n',
      'sub/.gitignore': 'runs/\n',
      ...extra,
    },
    { git },
  );
}

const runs = async (p: TempProject, file: string) =>
  (await p.exists(file)) ? (await p.read(file)).split('\n').filter(Boolean).length : 0;
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const cached = (p: TempProject, hash: string) => p.exists(`.cache/files/md5/${hash.slice(0, 2)}/${hash.slice(2)}`);

test('a sub-pipeline is collected from the root: addresses, own lock beside it, one graph across files', async () => {
  const p = await nested();
  const dag = await p.run(['dag']);
  assert.equal(dag.exitCode, 0, dag.all);
  assert.equal(dag.stdout, 'sub/dvc.yaml:make\n└── report');
  const st = await p.run(['status']);
  assert.match(st.stdout, /^sub\/dvc\.yaml:make:\n\tnever run/m);
  assert.match(st.stdout, /^report:\n/m);

  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  assert.match(r.stdout, /Running stage 'sub\/dvc\.yaml:make'[\s\S]*Running stage 'report'/);
  assert.equal(await p.read('report.txt'), 'made 1 input\n');
  // each file's lock beside it, names local to the file and paths relative to sub/
  const root = YAML.parse(await p.read('dvc.lock'));
  assert.deepEqual(Object.keys(root.stages), ['report']);
  assert.equal(root.stages.report.deps[0].path, 'sub/out.txt');
  const sub = YAML.parse(await p.read('sub/dvc.lock'));
  assert.deepEqual(Object.keys(sub.stages), ['make']);
  assert.deepEqual(
    sub.stages.make.deps.map((d: { path: string }) => d.path),
    ['in.txt'],
  );
  assert.deepEqual(sub.stages.make.params, { 'params.yaml': { n: 1 } });
  assert.equal(sub.stages.make.outs[0].path, 'out.txt');
  assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');

  // an edit in the sub-pipeline makes the root's stage stale through the cross-file edge
  await p.write('sub/params.yaml', 'n: 2\n');
  const st2 = await p.run(['status']);
  assert.match(st2.stdout, /^sub\/dvc\.yaml:make:\n(\t.*\n)*\tparams changed: n 1 -> 2/m);
  // as in DVC, status lists the stages stale by themselves; repro then runs what is downstream
  assert.doesNotMatch(st2.stdout, /^report:/m);
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.equal(await runs(p, 'sub/runs/make'), 2);
  assert.equal(await runs(p, 'runs/report'), 2);
  assert.equal(await p.read('report.txt'), 'made 2 input\n');

  // checkout restores a sub-pipeline's output from the cache
  await fs.rm(path.join(p.dir, 'sub/out.txt'));
  const co = await p.run(['checkout']);
  assert.equal(co.exitCode, 0, co.all);
  assert.equal(await p.read('sub/out.txt'), 'made 2 input\n');
});

test('targets: sub/dvc.yaml:stage and the whole file from the root, a plain name from inside sub/', async () => {
  const p = await nested();
  const one = await p.run(['repro', 'sub/dvc.yaml:make']);
  assert.equal(one.exitCode, 0, one.all);
  assert.equal(await runs(p, 'sub/runs/make'), 1);
  assert.equal(await runs(p, 'runs/report'), 0);
  // a plain name is a stage of the root's file: say where the name does exist
  const plain = await p.run(['repro', 'make']);
  assert.equal(plain.exitCode, 2, plain.all);
  assert.match(plain.stderr, /no stage named 'make'.*Did you mean 'sub\/dvc\.yaml:make'\?/);
  const whole = await p.run(['status', 'sub/dvc.yaml']);
  assert.equal(whole.stdout, 'Data and pipelines are up to date.');

  // from inside sub/: the project is still the root, plain names are sub/dvc.yaml's
  const sub = path.join(p.dir, 'sub');
  await p.write('sub/in.txt', 'changed\n');
  const st = await runCli(sub, ['status', 'make']);
  assert.equal(st.exitCode, 0, st.all);
  assert.match(st.stdout, /^sub\/dvc\.yaml:make:\n\tdeps changed: sub\/in\.txt/m);
  const r = await runCli(sub, ['repro', 'make']);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await runs(p, 'sub/runs/make'), 2);
  assert.equal(await runs(p, 'runs/report'), 0);
  assert.equal(await p.exists('sub/sub'), false);
  const up = await runCli(sub, ['repro', '../dvc.yaml:report']);
  assert.equal(up.exitCode, 0, up.all);
  assert.equal(await p.read('report.txt'), 'made 1 changed\n');
});

test('an output owned by stages of two files is refused with one line naming both files', async () => {
  const p = await nested({
    'sub/dvc.yaml': `${SUB_YAML}  dup:\n    cmd: echo > ../report.txt\n    outs:\n    - ../report.txt\n`,
  });
  const r = await p.run(['status']);
  assert.equal(r.exitCode, 2, r.all);
  const line = r.stderr.split('\n')[0]!;
  assert.match(
    line,
    new RegExp(
      "^lockstep: (dvc\\.yaml|sub/dvc\\.yaml):\\d+:\\d+: .*output 'report\\.txt' is also an output of stage " +
        '.*\\((sub/)?dvc\\.yaml:\\d+:\\d+\\)',
    ),
  );
  assert.match(line, /sub\/dvc\.yaml/);
  assert.match(line, /[ (]dvc\.yaml:\d/);
});

test('collection skips ignored folders, outputs and .dvcignore, and never leaves the project', async () => {
  const broken = 'stages: [this is not a pipeline\n';
  const p = await nested({
    '.gitignore': 'runs/\nignored/\n',
    'ignored/dvc.yaml': broken,
    'skipme/dvc.yaml': broken,
    '.dvcignore': 'skipme\n',
    'node_modules/pkg/dvc.yaml': broken,
    'deep/a/b/pipeline.yaml': 'stages:\n  leaf:\n    cmd: echo leaf > leaf.txt\n    outs:\n    - leaf.txt\n',
  });
  const dag = await p.run(['dag']);
  assert.equal(dag.exitCode, 0, dag.all);
  assert.match(dag.stdout, /deep\/a\/b\/pipeline\.yaml:leaf/);
  // as DVC: repro with no targets runs the root's file (and its upstream); -P every pipeline
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.equal(await p.exists('deep/a/b/leaf.txt'), false);
  assert.match((await p.run(['status'])).stdout, /^deep\/a\/b\/pipeline\.yaml:leaf:/m);
  const r = await p.run(['repro', '-P']);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await p.read('deep/a/b/leaf.txt'), 'leaf\n');
  assert.ok(await p.exists('deep/a/b/pipeline.lock'));
  // a pipeline file inside another stage's output folder is data, not a pipeline (DVC's rule)
  await p.write(
    'dvc.yaml',
    `${ROOT_YAML}  gen:\n    cmd: "mkdir -p gen && echo 'stages: [' > gen/dvc.yaml"\n    outs:\n    - gen\n`,
  );
  const gen = await p.run(['repro', 'gen']);
  assert.equal(gen.exitCode, 0, gen.all);
  const st = await p.run(['status', 'gen']);
  assert.equal(st.exitCode, 0, st.all);
});

test('a nested repository (its own .git, .dvc/ or .lockstep/) is a project of its own, not collected', async () => {
  const leaf = (name: string) =>
    `stages:\n  ${name}:\n    cmd: echo ${name} > ${name}.txt\n    outs:\n    - ${name}.txt\n`;
  const p = await nested({
    'clone/dvc.yaml': leaf('inclone'), // a nested git clone (made below)
    'wt/.git': 'gitdir: /somewhere/else/.git/worktrees/wt\n', // a submodule's or worktree's .git file
    'wt/data.dvc': 'not a .dvc file of the outer project: [\n',
    'wt/pipeline.yaml': leaf('inworktree'),
    'dvcsub/.dvc/config': '', // a DVC subrepo (dvc init --subdir)
    'dvcsub/dvc.yaml': leaf('indvcsub'),
    'lssub/.lockstep/config.yaml': '',
    'lssub/pipeline.yaml': leaf('inlssub'),
  });
  await fs.mkdir(path.join(p.dir, 'clone', '.git'));
  const dag = await p.run(['dag']);
  assert.equal(dag.exitCode, 0, dag.all);
  assert.equal(dag.stdout, 'sub/dvc.yaml:make\n└── report');
  const st = await p.run(['status', '--json']);
  assert.equal(st.exitCode, 0, st.all);
  assert.deepEqual(Object.keys(JSON.parse(st.stdout)).sort(), ['report', 'sub/dvc.yaml:make']);
  // inside it, the nested repository is its own project
  const inner = await runCli(path.join(p.dir, 'clone'), ['status', '--json']);
  assert.equal(inner.exitCode, 0, inner.all);
  assert.deepEqual(Object.keys(JSON.parse(inner.stdout)), ['inclone']);
});

test('fault: a sub-pipeline cannot reach out of the project or into its control files', async () => {
  const cases: Array<[string, RegExp]> = [
    [
      'stages:\n  s:\n    wdir: ../..\n    cmd: echo\n',
      /sub\/dvc\.yaml:\d+:\d+: stage 'sub\/dvc\.yaml:s': wdir '\.\.\/\.\.' is outside the repository/,
    ],
    ['stages:\n  s:\n    cmd: echo\n    outs:\n    - ../.git/hooks/x\n', /stage 'sub\/dvc\.yaml:s'.*'\.git/],
    ['stages:\n  s:\n    cmd: echo\n    outs:\n    - ../../escape.txt\n', /outside the repository/],
    ['stages:\n  s:\n    cmd: echo\n    outs:\n    - dvc.lock\n', /output 'sub\/dvc\.lock'/],
    ['stages:\n  s:\n    cmd: echo\n    outs:\n    - ../dvc.lock\n', /output 'dvc\.lock'/],
    ['stages:\n  s:\n    cmd: echo\n    outs:\n    - params.yaml\n', /output 'sub\/params\.yaml'/],
  ];
  for (const [yaml, expected] of cases) {
    const p = await nested({ 'sub/dvc.yaml': yaml }, false);
    const outside = path.join(path.dirname(p.dir), 'escape.txt');
    const r = await p.run(['repro']);
    assert.notEqual(r.exitCode, 0, `${yaml}\n${r.all}`);
    assert.match(r.stderr, expected, yaml);
    assert.equal(r.stderr.split('\n').filter(Boolean).length <= 3, true, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    await assert.rejects(fs.access(outside));
  }
});

test('a sub-lock whose paths climb out of the project is refused before anything runs', async () => {
  const p = await nested();
  await p.write(
    'sub/dvc.lock',
    "schema: '2.0'\nstages:\n  make:\n    cmd: x\n    outs:\n    - path: ../../x\n      hash: md5\n" +
      '      md5: d41d8cd98f00b204e9800998ecf8427e\n      size: 0\n',
  );
  const r = await p.run(['checkout', '-f']);
  assert.notEqual(r.exitCode, 0, r.all);
  assert.match(r.stderr, /sub\/dvc\.lock: stage 'make'/);
});

test('push/pull move a sub-pipeline output; gc -a keeps .dvc-file and sub-lock objects of other branches', async () => {
  const p = await nested();
  const store = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-nested-store-'));
  try {
    assert.equal((await p.run(['repro'])).exitCode, 0);
    assert.equal((await p.run(['remote', 'add', '-d', 'store', store])).exitCode, 0);
    const push = await p.run(['push']);
    assert.equal(push.exitCode, 0, push.all);
    await fs.rm(path.join(p.dir, '.cache'), { recursive: true });
    await fs.rm(path.join(p.dir, 'sub/out.txt'));
    const pull = await p.run(['pull']);
    assert.equal(pull.exitCode, 0, pull.all);
    assert.equal(await p.read('sub/out.txt'), 'made 1 input\n');

    // branch `other` records data only in a .dvc file and a sub-pipeline's lock
    await p.git('add', '-A');
    await p.git('commit', '-qm', 'main records');
    await p.git('checkout', '-qb', 'other');
    await p.write('tracked.txt', 'only on other\n');
    assert.equal((await p.run(['add', 'tracked.txt'])).exitCode, 0);
    await p.write('sub/params.yaml', 'n: 7\n');
    assert.equal((await p.run(['repro', 'sub/dvc.yaml:make'])).exitCode, 0);
    await p.git('add', '-A');
    await p.git('commit', '-qm', 'other records');
    await p.git('checkout', '-q', 'main');
    await fs.rm(path.join(p.dir, 'tracked.txt'));
    const onlyDvc = md5('only on other\n');
    const onlySubLock = md5('made 7 input\n');
    assert.ok(await cached(p, onlyDvc));
    assert.ok(await cached(p, onlySubLock));
    const gcAll = await p.run(['gc', '-a']);
    assert.equal(gcAll.exitCode, 0, gcAll.all);
    assert.ok(await cached(p, onlyDvc), 'kept: named by a .dvc file on another branch');
    assert.ok(await cached(p, onlySubLock), 'kept: named by sub/dvc.lock on another branch');
    assert.ok(await cached(p, md5('made 1 input\n')));
    // the workspace scope alone does remove them: the test above can fail
    assert.equal((await p.run(['gc', '-w'])).exitCode, 0);
    assert.equal(await cached(p, onlyDvc), false);
    assert.equal(await cached(p, onlySubLock), false);
    assert.ok(await cached(p, md5('made 1 input\n')));
  } finally {
    await fs.rm(store, { recursive: true, force: true });
  }
});
