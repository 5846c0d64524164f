import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempProject } from '../helpers/project.js';
import { loadPipeline } from '../../src/config/index.js';

const STAGE = `
stages:
  train:
    cmd: node train.js
    plots:
      - plots/train.json:
          cache: false
          x: epoch
          y: [loss, val_loss]
          template: linear
          title: Loss per epoch
          x_label: epoch
          y_label: cross-entropy
      - plots/confusion.csv:
          template: confusion
          x: actual
          y: predicted
      - plots/raw.tsv
`;

test("stage plots: DVC's properties next to the output options", async () => {
  const p = await tempProject({ 'pipeline.yaml': STAGE }, { git: false });
  const pl = await loadPipeline(p.dir);
  const outs = pl.stages[0]?.outs ?? [];
  assert.deepEqual(
    outs.map((o) => [o.path, o.kind, o.cache, o.plot]),
    [
      [
        'plots/train.json',
        'plots',
        false,
        {
          x: 'epoch',
          y: ['loss', 'val_loss'],
          template: 'linear',
          title: 'Loss per epoch',
          x_label: 'epoch',
          y_label: 'cross-entropy',
        },
      ],
      ['plots/confusion.csv', 'plots', true, { template: 'confusion', x: 'actual', y: 'predicted' }],
      ['plots/raw.tsv', 'plots', true, undefined],
    ],
  );
  assert.deepEqual(pl.plots, []);
  assert.deepEqual(pl.metrics, []);
});

test("top-level plots in all of DVC's forms, and top-level metrics", async () => {
  const p = await tempProject(
    {
      'dvc.yaml': `${STAGE}
metrics:
  - reports/summary.json
  - ./reports/extra.yaml
plots:
  - reports/roc.csv
  - reports/pr.json:
      x: recall
      y: precision
      template: scatter
  - images/
  - loss:
      x: epoch
      y:
        logs/train.json: loss
        logs/val.json: [loss, acc]
      title: Loss
  - cm:
      template: confusion_normalized
      x: actual
      y: {results/cm.csv: predicted}
`,
    },
    { git: false },
  );
  const pl = await loadPipeline(p.dir);
  assert.deepEqual(pl.metrics, ['reports/summary.json', 'reports/extra.yaml']);
  assert.deepEqual(pl.plots, [
    { id: 'reports/roc.csv', path: 'reports/roc.csv', props: {} },
    {
      id: 'reports/pr.json',
      path: 'reports/pr.json',
      props: { x: 'recall', y: 'precision', template: 'scatter' },
    },
    { id: 'images/', path: 'images', props: {} },
    {
      id: 'loss',
      props: { x: 'epoch', y: { 'logs/train.json': ['loss'], 'logs/val.json': ['loss', 'acc'] }, title: 'Loss' },
    },
    {
      id: 'cm',
      props: { template: 'confusion_normalized', x: 'actual', y: { 'results/cm.csv': ['predicted'] } },
    },
  ]);
});

test('plot definition problems are all reported with their positions', async () => {
  const p = await tempProject(
    {
      'pipeline.yaml': `
stages:
  train:
    cmd: node train.js
    plots:
      - plots/a.json:
          templte: linear
          x: [a, b]
metrics:
  - ../outside.json
  - {a: 1}
plots:
  - p.json:
      template: pie
  - q.json: 3
  - ../r.csv
  - named:
      y: {../s.json: loss}
`,
    },
    { git: false },
  );
  await assert.rejects(loadPipeline(p.dir), (e: Error & { problems?: { message: string }[] }) => {
    const messages = (e.problems ?? []).map((x) => x.message);
    assert.deepEqual(messages, [
      "pipeline.yaml:7:11: stage 'train': plots 'plots/a.json': unknown field 'templte' (did you mean 'template'?)",
      "pipeline.yaml:8:14: stage 'train': plots 'plots/a.json': 'x' must be one field",
      "pipeline.yaml:10:5: metrics file '../outside.json' is outside the repository",
      "pipeline.yaml:11:5: each entry of 'metrics' must be a file path",
      "pipeline.yaml:14:17: plot 'p.json': unknown template 'pie'; one of linear, simple, scatter, smooth, " +
        'confusion, ' +
        'confusion_normalized, bar_horizontal, bar_horizontal_sorted',
      "pipeline.yaml:15:13: plot 'q.json': properties must be a mapping like {x: step, y: loss}",
      "pipeline.yaml:16:5: plot '../r.csv' is outside the repository",
      "pipeline.yaml:18:11: plot 'named': data file '../s.json' is outside the repository",
    ]);
    return true;
  });
});
