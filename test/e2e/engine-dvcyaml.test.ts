import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { countRun, tempProject, type TempProject } from '../helpers/project.js';

/** The `sub` stage runs in wdir `sub`, so it counts its runs in sub/runs/sub. */
const subRuns = async (p: TempProject) =>
  (await p.exists('sub/runs/sub')) ? (await p.read('sub/runs/sub')).split('\n').filter(Boolean).length : 0;

// A dvc.yaml as a DVC user writes it, dropped in unchanged (there is no pipeline.yaml).
const DVC_YAML = `vars:
  - models.json
  - greeting: hello
stages:
  gen:
    foreach: \${models}
    do:
      cmd: echo \${greeting} \${item.size} > out-\${key}.txt
      outs:
        - out-\${key}.txt
  mat:
    matrix:
      a: [1, 2]
      b: [x, y]
    cmd: echo \${item.a}\${item.b} > m-\${item.a}-\${item.b}.txt
    outs:
      - m-\${item.a}-\${item.b}.txt
  sub:
    wdir: sub
    desc: Uses every kind of params file
    meta:
      owner: someone
    cmd:
      - ${countRun('sub')} && echo lr=\${train.lr} > lr.txt
      - cat ../in.txt >> lr.txt
    deps:
      - ../in.txt
    params:
      - train.lr
      - conf.toml:
          - opt.depth
      - whole.json:
    outs:
      - lr.txt
`;

async function project() {
  return tempProject({
    'dvc.yaml': DVC_YAML,
    'models.json': '{"models": {"small": {"size": 1}, "big": {"size": 9}}}\n',
    // ${} reads the params.yaml beside dvc.yaml; a stage's params paths are relative to its wdir, as in DVC.
    'params.yaml': 'train:\n  lr: 0.5\n',
    'sub/params.yaml': 'train:\n  lr: 0.25\n  other: 1\n',
    'sub/conf.toml': '[opt]\ndepth = 3\nwidth = 7\n',
    'sub/whole.json': '{"x": 1, "y": {"z": 2}}\n',
    'in.txt': 'in\n',
    '.gitignore': 'runs/\n',
    'sub/.gitignore': 'runs/\n',
  });
}

test(`a DVC dvc.yaml works unchanged: foreach, matrix, vars, wdir, cmd list, every params form; writes \
dvc.lock`, async () => {
  const p = await project();
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await p.exists('pipeline.lock'), false);
  const lock = YAML.parse(await p.read('dvc.lock'));
  assert.equal(lock.schema, '2.0');
  assert.deepEqual(Object.keys(lock.stages), [
    'gen@small',
    'gen@big',
    'mat@1-x',
    'mat@1-y',
    'mat@2-x',
    'mat@2-y',
    'sub',
  ]);
  assert.equal(await p.read('out-big.txt'), 'hello 9\n');
  assert.equal(await p.read('m-2-y.txt'), '2y\n');
  assert.equal(await p.read('sub/lr.txt'), 'lr=0.5\nin\n');
  assert.deepEqual(lock.stages.sub.cmd, [`${countRun('sub')} && echo lr=0.5 > lr.txt`, 'cat ../in.txt >> lr.txt']);
  // Params: per key for lists, the whole file for `{file: null}`; values come from the files under wdir.
  // As dvc.lock writes them: the stage's paths relative to its wdir, the default params.yaml first.
  assert.deepEqual(lock.stages.sub.params, {
    'params.yaml': { 'train.lr': 0.25 },
    'conf.toml': { 'opt.depth': 3 },
    'whole.json': { x: 1, y: { z: 2 } },
  });
  assert.deepEqual(Object.keys(lock.stages.sub.params), ['params.yaml', 'conf.toml', 'whole.json']);
  assert.deepEqual(
    lock.stages.sub.deps.map((d: { path: string }) => d.path),
    ['../in.txt'],
  );
  assert.deepEqual(
    lock.stages.sub.outs.map((d: { path: string }) => d.path),
    ['lr.txt'],
  );
  assert.deepEqual(lock.stages['gen@small'].outs, [
    { path: 'out-small.txt', hash: 'md5', md5: createHash('md5').update('hello 1\n').digest('hex'), size: 8 },
  ]);

  const again = await p.run(['repro']);
  assert.equal(again.exitCode, 0, again.all);
  assert.match(again.stdout, /Done: 0 ran, 0 restored from cache, 7 up to date\./);
  assert.equal(await subRuns(p), 1);

  // deleting the wdir stage's output restores it from the cache (its lock paths are read back right)
  await p.write('sub/lr.txt', 'edited\n');
  assert.equal((await p.run(['status'])).stdout, 'sub:\n\touts changed: sub/lr.txt');
  assert.equal((await p.run(['checkout', '--force', 'sub'])).exitCode, 0);
  assert.equal(await p.read('sub/lr.txt'), 'lr=0.5\nin\n');
  assert.equal(await subRuns(p), 1);
});

test(`dvc.yaml params: an untracked TOML key changes nothing; a tracked one, or any key of a whole-file JSON, \
reruns`, async () => {
  const p = await project();
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.write('sub/conf.toml', '[opt]\ndepth = 3\nwidth = 8\n');
  await p.write('sub/params.yaml', 'train:\n  lr: 0.25\n  other: 2\n');
  assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');

  await p.write('sub/conf.toml', '[opt]\ndepth = 4\nwidth = 8\n');
  assert.equal((await p.run(['status'])).stdout, 'sub:\n\tparams changed: opt.depth 3 -> 4');
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.equal(await subRuns(p), 2);

  await p.write('sub/whole.json', '{"x": 1, "y": {"z": 3}}\n');
  const st = await p.run(['status', '--json']);
  const json = JSON.parse(st.stdout);
  assert.deepEqual(Object.keys(json), ['sub']);
  assert.deepEqual(
    json.sub.reasons.map((x: { kind: string; key: string }) => [x.kind, x.key]),
    [['param-changed', 'y.z']], // a changed section is reported per key,
  );
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.equal(await subRuns(p), 3);

  // Changing the value interpolated into cmd changes the command: the stage reruns.
  await p.write('params.yaml', 'train:\n  lr: 0.75\n');
  const st2 = await p.run(['status']);
  assert.equal(st2.stdout, 'sub:\n\tcommand changed');
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.equal(await p.read('sub/lr.txt'), 'lr=0.75\nin\n');
});

test(`targets: a foreach group name selects every generated stage; an unknown target suggests the closest \
name`, async () => {
  const p = await project();
  const dry = await p.run(['repro', '--dry', 'mat']);
  assert.equal(dry.exitCode, 0, dry.all);
  assert.deepEqual(
    dry.stdout.split('\n').map((l) => l.replace(/:.*/, '')),
    ["would run 'mat@1-x'", "would run 'mat@1-y'", "would run 'mat@2-x'", "would run 'mat@2-y'"],
  );
  const one = await p.run(['repro', 'gen@big']);
  assert.equal(one.exitCode, 0, one.all);
  assert.equal(await p.exists('out-big.txt'), true);
  assert.equal(await p.exists('out-small.txt'), false);
  assert.equal(await p.exists('m-1-x.txt'), false);

  const typo = await p.run(['repro', 'matt']);
  assert.equal(typo.exitCode, 2, typo.all);
  assert.match(typo.stderr, /^lockstep: no stage named 'matt'. Did you mean 'mat'\?/);
  assert.equal(typo.stderr.trim().split('\n').length, 1);
  const typo2 = await p.run(['repro', 'sb']);
  assert.match(typo2.stderr, /Did you mean 'sub'\?/);
});

test('a dvc.lock written by DVC is read as is: wdir-relative paths, a .dir hash; nothing reruns', async () => {
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const manifest = `[{"md5": "${md5('1\n')}", "relpath": "a.txt"}, {"md5": "${md5('2\n')}", "relpath": "b/c.txt"}]`;
  const p = await tempProject({
    'dvc.yaml': `stages:
  build:
    wdir: work
    cmd: ${countRun('build')} && mkdir -p out/b && echo 1 > out/a.txt && echo 2 > out/b/c.txt
    deps:
      - ../src.txt
    params:
      - lr
    outs:
      - out
`,
    'work/params.yaml': 'lr: 0.1\nunused: 2\n',
    'src.txt': 'src\n',
    'work/out/a.txt': '1\n',
    'work/out/b/c.txt': '2\n',
    // written as DVC 3 writes it
    'dvc.lock': `schema: '2.0'
stages:
  build:
    cmd: ${countRun('build')} && mkdir -p out/b && echo 1 > out/a.txt && echo 2 > out/b/c.txt
    deps:
    - path: ../src.txt
      hash: md5
      md5: ${md5('src\n')}
      size: 4
    params:
      params.yaml:
        lr: 0.1
    outs:
    - path: out
      hash: md5
      md5: ${md5(manifest)}.dir
      size: 4
      nfiles: 2
`,
    'work/.gitignore': 'runs/\n',
  });
  const st = await p.run(['status']);
  assert.equal(st.stdout, 'Data and pipelines are up to date.', st.all);
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await p.exists('work/runs/build'), false, 'nothing ran');
  // a change reruns it, and the lock keeps DVC's shape
  await p.write('src.txt', 'src2\n');
  assert.equal((await p.run(['status'])).stdout, 'build:\n\tdeps changed: src.txt');
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const lock = YAML.parse(await p.read('dvc.lock'));
  assert.deepEqual(lock.stages.build.deps, [{ path: '../src.txt', hash: 'md5', md5: md5('src2\n'), size: 5 }]);
  assert.deepEqual(lock.stages.build.outs, [
    { path: 'out', hash: 'md5', md5: `${md5(manifest)}.dir`, size: 4, nfiles: 2 },
  ]);
});

test('dvc.yaml: stage vars (inline and file:key), and every output field DVC accepts', async () => {
  const p = await tempProject({
    'dvc.yaml': `stages:
  s:
    desc: stage with its own vars
    vars:
      - n: 3
      - local.yaml:sect
    cmd: echo \${n} \${sect.v} > s.txt && echo 1 > m.json && echo a,b > p.csv
    outs:
      - s.txt:
          desc: the s file
          push: false
          remote: elsewhere
          persist: false
          cache: true
    metrics:
      - m.json:
          cache: false
    plots:
      - p.csv:
          x: a
          y: b
`,
    'local.yaml': 'sect:\n  v: 7\nother: 1\n',
  });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  assert.equal(await p.read('s.txt'), '3 7\n');
  assert.deepEqual(
    YAML.parse(await p.read('dvc.lock')).stages.s.outs.map((o: { path: string }) => o.path),
    ['m.json', 'p.csv', 's.txt'],
  );
});
