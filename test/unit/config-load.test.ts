import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempProject } from '../helpers/project.js';
import { loadPipeline } from '../../src/config/index.js';
import type { StageDef } from '../../src/config/index.js';

const byName = (stages: StageDef[]) => Object.fromEntries(stages.map((s) => [s.name, s]));

test('a plain stage: cmd string or list, wdir, deps, params, outs/metrics/plots with options', async () => {
  const p = await tempProject(
    {
      'pipeline.yaml': `
stages:
  prepare:
    cmd: node prep.js
    deps: [raw/data.csv, prep.js]
    outs: [data/prepared]
  train:
    wdir: src
    cmd:
      - node train.js
      - echo done
    deps:
      - ../data/prepared
    params:
      - train.lr
      - seed
      - conf/train.toml: [batch]
      - ../shared.json:
      - train.lr
    outs:
      - ../models/model.bin:
          cache: false
          persist: true
          push: false
          remote: store
          desc: the model
          type: model
          labels: [cnn]
          meta: {x: 1}
    metrics:
      - ../metrics.json: {cache: false}
    plots:
      - ../plots/loss.csv: {x: step, y: loss, template: linear, title: Loss}
    frozen: true
    always_changed: true
    desc: Train it
    meta:
      owner: me
`,
    },
    { git: false },
  );
  const pl = await loadPipeline(p.dir);
  assert.equal(pl.file, 'pipeline.yaml');
  const s = byName(pl.stages);
  assert.deepEqual(s.prepare?.cmd, ['node prep.js']);
  assert.equal(s.prepare?.wdir, '.');
  assert.deepEqual(
    s.prepare?.deps.map((d) => d.path),
    ['raw/data.csv', 'prep.js'],
  );
  assert.deepEqual(s.prepare?.pos, { file: 'pipeline.yaml', line: 3, col: 3 });
  assert.deepEqual(s.prepare?.outs, [
    {
      path: 'data/prepared',
      kind: 'outs',
      cache: true,
      persist: false,
      push: true,
      pos: { file: 'pipeline.yaml', line: 6, col: 12 },
    },
  ]);
  const t = s.train;
  assert.ok(t);
  assert.deepEqual(t.cmd, ['node train.js', 'echo done']);
  assert.equal(t.wdir, 'src');
  assert.deepEqual(
    t.deps.map((d) => d.path),
    ['data/prepared'],
  );
  assert.deepEqual(
    t.params.map((x) => [x.file, x.keys]),
    [
      ['src/params.yaml', ['train.lr', 'seed']],
      ['src/conf/train.toml', ['batch']],
      ['shared.json', null],
    ],
  );
  assert.deepEqual(
    t.outs.map(({ pos: _pos, ...o }) => o),
    [
      { path: 'models/model.bin', kind: 'outs', cache: false, persist: true, push: false, remote: 'store' },
      { path: 'metrics.json', kind: 'metrics', cache: false, persist: false, push: true },
      {
        path: 'plots/loss.csv',
        kind: 'plots',
        cache: true,
        persist: false,
        push: true,
        plot: { x: 'step', y: 'loss', template: 'linear', title: 'Loss' },
      },
    ],
  );
  assert.equal(t.frozen, true);
  assert.equal(t.alwaysChanged, true);
  assert.equal(t.desc, 'Train it');
  assert.deepEqual(t.meta, { owner: 'me' });
});

test('pipeline.yaml wins over dvc.yaml; dvc.yaml alone works; top-level DVC keys are accepted', async () => {
  const both = await tempProject(
    { 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a\n', 'dvc.yaml': 'stages:\n  b:\n    cmd: echo b\n' },
    { git: false },
  );
  assert.deepEqual(
    (await loadPipeline(both.dir)).stages.map((s) => s.name),
    ['a'],
  );
  const dvc = await tempProject(
    {
      'dvc.yaml': `
artifacts:
  cnn: {path: models/cnn.bin, type: model}
metrics: [metrics.json]
plots:
  - loss.csv: {x: step}
params: [extra.yaml]
datasets:
  - name: d
    type: dvc
stages:
  b:
    cmd: echo b
`,
    },
    { git: false },
  );
  const pl = await loadPipeline(dvc.dir);
  assert.equal(pl.file, 'dvc.yaml');
  assert.deepEqual(
    pl.stages.map((s) => s.name),
    ['b'],
  );
});

test('an empty file or one without stages is an empty pipeline', async () => {
  const p = await tempProject({ 'pipeline.yaml': '# nothing yet\n' }, { git: false });
  assert.deepEqual(await loadPipeline(p.dir), {
    file: 'pipeline.yaml',
    files: ['pipeline.yaml'],
    stages: [],
    plots: [],
    metrics: [],
  });
  const q = await tempProject({ 'pipeline.yaml': 'vars: [{a: 1}]\n' }, { git: false });
  assert.deepEqual((await loadPipeline(q.dir)).stages, []);
});

test('no pipeline file is a not-a-repo error', async () => {
  const p = await tempProject({}, { git: false });
  await assert.rejects(
    loadPipeline(p.dir),
    (e: Error & { reason?: string }) =>
      e.reason === 'not-a-repo' && /no pipeline\.yaml or dvc\.yaml in /.test(e.message),
  );
});

test('YAML anchors and merge keys work', async () => {
  const p = await tempProject(
    {
      'pipeline.yaml': `
common: &common
stages:
  a: &base
    cmd: echo a
    deps: [x]
  b:
    <<: *base
    cmd: echo b
`.replace('common: &common\n', ''),
    },
    { git: false },
  );
  const s = byName((await loadPipeline(p.dir)).stages);
  assert.deepEqual(s.b?.cmd, ['echo b']);
  assert.deepEqual(
    s.b?.deps.map((d) => d.path),
    ['x'],
  );
});

test(`with a cacheDir, a large pipeline is parsed once and read back; edits and a corrupt cache file still load \
right`, async () => {
  const { promises: fs } = await import('node:fs');
  const path = await import('node:path');
  let yaml = 'stages:\n';
  for (let i = 0; i < 120; i++)
    yaml +=
      `  s${i}:\n    cmd: echo ${i} > out/${i}.txt  # some padding to pass the size threshold\n    outs: ` +
      `[out/${i}.txt]\n`;
  const p = await tempProject({ 'pipeline.yaml': yaml }, { git: false });
  const cacheDir = path.join(p.dir, '.cache');
  const first = await loadPipeline(p.dir, { cacheDir });
  const files = await fs.readdir(path.join(cacheDir, 'tmp', 'parsed'));
  assert.equal(files.length, 1);
  const second = await loadPipeline(p.dir, { cacheDir });
  assert.deepEqual(second, first);
  assert.equal(second.stages.length, 120);

  await p.write('pipeline.yaml', yaml.replace('echo 7 >', 'echo seven >'));
  const edited = await loadPipeline(p.dir, { cacheDir });
  assert.deepEqual(edited.stages[7]?.cmd, ['echo seven > out/7.txt']);
  assert.equal((await fs.readdir(path.join(cacheDir, 'tmp', 'parsed'))).length, 2);

  await p.write('pipeline.yaml', yaml);
  await fs.writeFile(
    path.join(cacheDir, 'tmp', 'parsed', files[0] as string),
    '{"format": "lockstep-parsed-yaml-v1", "ro',
  );
  assert.deepEqual(await loadPipeline(p.dir, { cacheDir }), first);
});

test(`DVC's example-get-started dvc.yaml loads unchanged, and its params resolve as dvc.lock records \
them`, async () => {
  const { resolveStageParams } = await import('../../src/config/index.js');
  const p = await tempProject(
    {
      'params.yaml':
        'prepare:\n  split: 0.20\n  seed: 20170428\n\nfeaturize:\n  max_features: 400\n  ngrams: 2\n\ntrain:\n' +
        '  seed: ' +
        '20170428\n  n_est: 50\n  min_split: 0.01\n',
      'dvc.yaml': `artifacts:
  stackoverflow-dataset:
    path: data/data.xml
    type: dataset
    desc: Initial XML StackOverflow dataset (raw data)
  text-classification:
    path: model.pkl
    type: model
    labels:
    - nlp
stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps:
    - data/data.xml
    - src/prepare.py
    params:
    - prepare.seed
    - prepare.split
    outs:
    - data/prepared
  featurize:
    cmd: python src/featurization.py data/prepared data/features
    deps:
    - data/prepared
    - src/featurization.py
    params:
    - featurize.max_features
    - featurize.ngrams
    outs:
    - data/features
  train:
    cmd: python src/train.py data/features model.pkl
    deps:
    - data/features
    - src/train.py
    params:
    - train.min_split
    - train.n_est
    - train.seed
    outs:
    - model.pkl
  evaluate:
    cmd: python src/evaluate.py model.pkl data/features
    deps:
    - data/features
    - model.pkl
    - src/evaluate.py
    outs:
    - eval
metrics:
- eval/metrics.json
plots:
- ROC:
    template: simple
    x: fpr
    y:
      eval/plots/sklearn/roc/train.json: tpr
      eval/plots/sklearn/roc/test.json: tpr
- eval/importance.png
`,
    },
    { git: false },
  );
  const pl = await loadPipeline(p.dir);
  assert.equal(pl.file, 'dvc.yaml');
  assert.deepEqual(
    pl.stages.map((s) => [s.name, s.outs.map((o) => o.path)]),
    [
      ['prepare', ['data/prepared']],
      ['featurize', ['data/features']],
      ['train', ['model.pkl']],
      ['evaluate', ['eval']],
    ],
  );
  assert.deepEqual(await resolveStageParams(p.dir, pl.stages[0] as StageDef), {
    'params.yaml': { 'prepare.seed': 20170428, 'prepare.split': 0.2 },
  });
  assert.deepEqual(await resolveStageParams(p.dir, pl.stages[2] as StageDef), {
    'params.yaml': { 'train.min_split': 0.01, 'train.n_est': 50, 'train.seed': 20170428 },
  });
});

test('pipelines in subfolders: addresses, paths and ${} relative to their folder, walk order, metrics', async () => {
  const p = await tempProject(
    {
      'dvc.yaml': 'stages:\n  top:\n    cmd: echo ${n}\n    deps: [a/dvc.yaml]\n',
      'params.yaml': 'n: 1\n',
      'b/pipeline.yaml': 'stages:\n  s:\n    cmd: echo ${n}\n    wdir: w\n    deps: [x]\n    params: [n]\n',
      'b/params.yaml': 'n: 2\n',
      'a/dvc.yaml':
        'vars: [v.yaml]\nmetrics: [m.json]\nstages:\n  s:\n    foreach: [1, 2]\n' +
        '    do:\n      cmd: echo ${item} ${k}\n      outs: ["o${item}"]\n',
      'a/v.yaml': 'k: 3\n',
    },
    { git: false },
  );
  const pl = await loadPipeline(p.dir);
  assert.deepEqual(pl.files, ['dvc.yaml', 'a/dvc.yaml', 'b/pipeline.yaml']);
  assert.deepEqual(
    pl.stages.map((s) => [s.name, s.wdir, s.cmd[0]]),
    [
      ['top', '.', 'echo 1'],
      ['a/dvc.yaml:s@1', 'a', 'echo 1 3'],
      ['a/dvc.yaml:s@2', 'a', 'echo 2 3'],
      ['b/pipeline.yaml:s', 'b/w', 'echo 2'],
    ],
  );
  assert.deepEqual(
    pl.stages[1]!.outs.map((o) => o.path),
    ['a/o1'],
  );
  const s = pl.stages[3]!;
  assert.deepEqual(
    s.deps.map((d) => d.path),
    ['b/w/x'],
  );
  // a stage's params file is relative to its wdir, as DVC reads it
  assert.deepEqual(
    s.params.map((x) => x.file),
    ['b/w/params.yaml'],
  );
  assert.deepEqual(pl.metrics, ['a/m.json']);
});
