import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempProject } from '../helpers/project.js';
import { ConfigProblemsError, loadPipeline, resolveStageParams } from '../../src/config/index.js';
import type { StageDef } from '../../src/config/index.js';

const byName = (stages: StageDef[]) => Object.fromEntries(stages.map((s) => [s.name, s]));

async function problemsOf(files: Record<string, string>): Promise<ConfigProblemsError> {
  const p = await tempProject(files, { git: false });
  try {
    await loadPipeline(p.dir);
  } catch (e) {
    if (e instanceof ConfigProblemsError) return e;
    throw e;
  }
  throw new Error('expected loadPipeline to fail');
}

test('DVC docs example: foreach (list, list of dicts, dict, ${params}), matrix, vars, params.yaml', async () => {
  const p = await tempProject(
    {
      'params.yaml': `
models:
  us:
    threshold: 10
    filename: 'model-us.hdf5'
myobject:
  first: {prop1: 1, prop2: out-a}
  second: {prop1: 2, prop2: out-b}
mydict:
  foo: foo
  bar: 1
  bool: true
  nested:
    baz: bar
  list: [2, 3, 'qux']
`,
      'params.json':
        '{"clean": {"filename": "clean.csv"}, "feats": {"exec": "python feats.py", "dirname": "feats"}, "unused": 1}',
      'dvc.yaml': `
vars:
  - params.json:clean,feats
  - desc: 'Reusable description'

stages:
  build-us:
    desc: \${desc}
    cmd: >-
      python train.py
      --thresh \${models.us.threshold}
      --out \${models.us.filename}
    outs:
      - \${models.us.filename}:
          cache: true
  featurize:
    cmd: \${feats.exec}
    deps:
      - \${clean.filename}
    outs:
      - \${feats.dirname}
  unpack:
    cmd: R train.r \${mydict}
  cleanups:
    foreach:
      - raw1
      - labels1
      - raw2
    do:
      cmd: clean.py "\${item}"
      outs:
        - \${item}.cln
  train:
    foreach:
      - epochs: 3
        thresh: 10
      - epochs: 10
        thresh: 15
    do:
      cmd: python train.py \${item.epochs} \${item.thresh}
  build:
    foreach:
      uk:
        epochs: 3
        thresh: 10
      us:
        epochs: 10
        thresh: 15
    do:
      cmd: python train.py '\${key}' \${item.epochs} \${item.thresh}
      outs:
        - model-\${key}.hdfs
  mystages:
    foreach: \${myobject}
    do:
      cmd: ./script.py \${key} \${item.prop1}
      outs:
        - \${item.prop2}
  sweep:
    matrix:
      model: [cnn, xgb]
      feature: [feature1, feature2]
    cmd: ./train.py --feature \${item.feature} \${item.model}
    outs:
      - \${item.model}-\${item.feature}.pkl
`,
    },
    { git: false },
  );
  const pl = await loadPipeline(p.dir);
  const s = byName(pl.stages);
  assert.deepEqual(
    pl.stages.map((x) => x.name),
    [
      'build-us',
      'featurize',
      'unpack',
      'cleanups@raw1',
      'cleanups@labels1',
      'cleanups@raw2',
      'train@0',
      'train@1',
      'build@uk',
      'build@us',
      'mystages@first',
      'mystages@second',
      'sweep@cnn-feature1',
      'sweep@cnn-feature2',
      'sweep@xgb-feature1',
      'sweep@xgb-feature2',
    ],
  );
  assert.deepEqual(s['build-us']?.cmd, ['python train.py --thresh 10 --out model-us.hdf5']);
  assert.equal(s['build-us']?.desc, 'Reusable description');
  assert.deepEqual(
    s['build-us']?.outs.map((o) => [o.path, o.cache]),
    [['model-us.hdf5', true]],
  );
  assert.deepEqual(s['build-us']?.trackedVars, {
    'params.yaml': { 'models.us.threshold': 10, 'models.us.filename': 'model-us.hdf5' },
  });
  assert.deepEqual(s.featurize?.cmd, ['python feats.py']);
  assert.deepEqual(
    s.featurize?.deps.map((d) => d.path),
    ['clean.csv'],
  );
  assert.deepEqual(
    s.featurize?.outs.map((o) => o.path),
    ['feats'],
  );
  assert.deepEqual(s.unpack?.cmd, ['R train.r --foo foo --bar 1 --bool --nested.baz bar --list 2 3 qux']);
  assert.deepEqual(s['cleanups@labels1']?.cmd, ['clean.py "labels1"']);
  assert.deepEqual(
    s['cleanups@labels1']?.outs.map((o) => o.path),
    ['labels1.cln'],
  );
  assert.equal(s['cleanups@labels1']?.group, 'cleanups');
  assert.deepEqual(s['train@1']?.cmd, ['python train.py 10 15']);
  assert.deepEqual(s['build@uk']?.cmd, ["python train.py 'uk' 3 10"]);
  assert.deepEqual(
    s['build@us']?.outs.map((o) => o.path),
    ['model-us.hdfs'],
  );
  assert.deepEqual(s['mystages@second']?.cmd, ['./script.py second 2']);
  assert.deepEqual(
    s['mystages@second']?.outs.map((o) => o.path),
    ['out-b'],
  );
  assert.deepEqual(s['sweep@xgb-feature1']?.cmd, ['./train.py --feature feature1 xgb']);
  assert.deepEqual(
    s['sweep@xgb-feature1']?.outs.map((o) => o.path),
    ['xgb-feature1.pkl'],
  );
});

test('whole-value ${...} keeps its type; [i] and dotted access; numbers print like Python', async () => {
  const p = await tempProject(
    {
      'params.yaml': 'flags: {frozen: true}\npaths: [a.txt, b.txt]\ntrain: {lr: 0.00001, layers: [32, 64]}\nname: m\n',
      'pipeline.yaml': `
stages:
  s:
    cmd: run --lr \${train.lr} --first \${train.layers[0]} --second \${ train.layers[1] }
    frozen: \${flags.frozen}
    deps: \${paths}
    outs: ["\${name}/\${paths[1]}"]
`,
    },
    { git: false },
  );
  const s = (await loadPipeline(p.dir)).stages[0];
  assert.deepEqual(s?.cmd, ['run --lr 1e-05 --first 32 --second 64']);
  assert.equal(s?.frozen, true);
  assert.deepEqual(
    s?.deps.map((d) => d.path),
    ['a.txt', 'b.txt'],
  );
  assert.deepEqual(
    s?.outs.map((o) => o.path),
    ['m/b.txt'],
  );
});

test('escaped \\${ stays literal; stage vars (dict and file) merge; wdir applies to vars and params', async () => {
  const p = await tempProject(
    {
      'params.yaml': 'grp: {a: 1}\n',
      'sub/local.yaml': 'build: {epochs: 5}\nother: 1\n',
      'sub/params.yaml': 'lr: 0.5\n',
      'pipeline.yaml': `
stages:
  s:
    wdir: sub
    vars:
      - local.yaml:build
      - grp: {b: 2}
      - model: {filename: model-us.hdf5}
    cmd: echo \\\${HOME} \${build.epochs} \${grp.a} \${grp.b} --out \${model.filename}
    params: [lr]
    outs: ["\${model.filename}"]
  raw:
    cmd: echo \\\${HOME}
`,
    },
    { git: false },
  );
  const pl = await loadPipeline(p.dir);
  const s = byName(pl.stages);
  assert.deepEqual(s.s?.cmd, ['echo ${HOME} 5 1 2 --out model-us.hdf5']);
  assert.deepEqual(
    s.s?.outs.map((o) => o.path),
    ['sub/model-us.hdf5'],
  );
  // DVC leaves a string with no real ${...} untouched, backslash included.
  assert.deepEqual(s.raw?.cmd, ['echo \\${HOME}']);
  assert.deepEqual(s.s?.trackedVars, { 'params.yaml': { 'grp.a': 1 }, 'sub/local.yaml': { 'build.epochs': 5 } });
  assert.deepEqual(await resolveStageParams(p.dir, s.s as StageDef), { 'sub/params.yaml': { lr: 0.5 } });
});

test('interpolation errors point at the ${...} with its position and underline', async () => {
  const e = await problemsOf({
    'params.yaml': 'train: {lr: 0.1, layers: [1, 2]}\n',
    'pipeline.yaml': `stages:
  train:
    cmd: python train.py --lr \${train.lrr} --x \${foo.bar}
    outs: ["model-\${train.layers}.bin", "\${train}/x"]
    deps: ["\${a..b}"]
`,
  });
  assert.equal(e.reason, 'interpolation');
  assert.deepEqual(
    e.problems.map((x) => x.message),
    [
      "pipeline.yaml:3:31: stage 'train': unknown variable '${train.lrr}' (did you mean 'train.lr'?)",
      "pipeline.yaml:3:48: stage 'train': unknown variable '${foo.bar}'",
      "pipeline.yaml:4:19: stage 'train': cannot interpolate '${train.layers}' of type list into a string",
      "pipeline.yaml:4:42: stage 'train': cannot interpolate '${train}' of type dict into a string",
      "pipeline.yaml:5:13: stage 'train': malformed expression '${a..b}' (expected a name like 'train.lr' or " +
        "'items[0]')",
    ],
  );
  assert.equal(
    e.message,
    "pipeline.yaml:3:31: stage 'train': unknown variable '${train.lrr}' (did you mean 'train.lr'?) (and 4 more " +
      'problems)',
  );
  assert.equal(
    e.problems[0]?.snippet,
    '    cmd: python train.py --lr ${train.lrr} --x ${foo.bar}\n                              ^^^^^^^^^^^^',
  );
  assert.deepEqual(e.problems[0]?.pos, { file: 'pipeline.yaml', line: 3, col: 31 });
});

test('vars conflicts and missing vars files are reported like DVC', async () => {
  const e = await problemsOf({
    'params.yaml': 'grp: {a: 1}\n',
    'pipeline.yaml': `vars:
  - grp: {a: 7}
  - missing.yaml
  - params.yaml:grp
stages:
  s:
    cmd: echo \${grp.a}
`,
  });
  assert.deepEqual(
    e.problems.map((x) => x.message),
    [
      "pipeline.yaml:2:5: vars[0]: cannot redefine 'grp.a' from 'vars[0]' as it already exists in 'params.yaml'",
      "pipeline.yaml:3:5: vars[1]: vars file 'missing.yaml' not found",
      "pipeline.yaml:4:5: vars[2]: cannot partially load 'params.yaml:grp' as it is already loaded",
    ],
  );
});

test('foreach and matrix misuse is reported', async () => {
  const e = await problemsOf({
    'params.yaml': 'n: 3\n',
    'pipeline.yaml': `stages:
  a:
    foreach: \${n}
    do:
      cmd: echo
  b:
    foreach: [1]
    cmd: echo
  c:
    matrix:
      x: 5
    cmd: echo \${item.x}
  d:
    do:
      cmd: echo
`,
  });
  assert.deepEqual(
    e.problems.map((x) => x.message),
    [
      "pipeline.yaml:3:14: stage 'a': 'foreach' must be a list or a dict, got number",
      "pipeline.yaml:7:5: stage 'b': 'foreach' needs a 'do' mapping with the stage to generate",
      "pipeline.yaml:8:5: stage 'b': unknown field 'cmd'",
      "pipeline.yaml:11:10: stage 'c': matrix axis 'x' must be a list",
      "pipeline.yaml:13:3: stage 'd': missing required field 'cmd'",
      "pipeline.yaml:14:5: stage 'd': 'do' needs 'foreach'",
    ],
  );
});

test('matrix axes from ${params}, composite axis values, ${item} in wdir and cmd lists, TOML vars', async () => {
  const p = await tempProject(
    {
      'params.yaml': 'train: {layers: [32, 64]}\nitem: shadowed-by-foreach\n',
      'conf.toml': '[opt]\nname = "adam"\n',
      'pipeline.yaml': `
vars: [conf.toml]
stages:
  grid:
    matrix:
      layers: \${train.layers}
      data: [{path: a.csv}, {path: b.csv}]
    cmd: fit --layers \${item.layers} --data \${item.data.path} --opt \${opt.name}
  per-dir:
    foreach: [x, y]
    do:
      wdir: \${item}
      cmd:
        - echo \${item} > out.txt
        - echo done
      outs: [out.txt]
`,
    },
    { git: false },
  );
  const s = byName((await loadPipeline(p.dir)).stages);
  assert.deepEqual(Object.keys(s), [
    'grid@32-data0',
    'grid@32-data1',
    'grid@64-data0',
    'grid@64-data1',
    'per-dir@x',
    'per-dir@y',
  ]);
  assert.deepEqual(s['grid@64-data1']?.cmd, ['fit --layers 64 --data b.csv --opt adam']);
  assert.deepEqual(s['grid@64-data1']?.trackedVars, { 'conf.toml': { 'opt.name': 'adam' } });
  assert.equal(s['per-dir@y']?.wdir, 'y');
  assert.deepEqual(s['per-dir@y']?.cmd, ['echo y > out.txt', 'echo done']);
  assert.deepEqual(
    s['per-dir@y']?.outs.map((o) => o.path),
    ['y/out.txt'],
  );
  assert.equal(s['per-dir@y']?.trackedVars, undefined, 'foreach items are not params');
});
