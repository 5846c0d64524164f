/** exp show's DVC rows (workspace, baselines), labels, narrow-terminal fitting and text metrics under --group-by. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { showTable } from '../../src/exp/show.js';
import type { ExpTable, ShowRecord } from '../../src/exp/table.js';
import { fitColumns, renderCsv, renderMarkdown, renderText } from '../../src/cli/exp-render.js';

const BASE = 'b'.repeat(40);

/** A CIFAR-shaped experiment: training diagnostics, timing, and the test metrics of the evaluation. */
function exp(name: string, seed: number, acc: number, backend = 'wasm'): ShowRecord {
  return {
    name,
    baseline: BASE,
    sha: name.padEnd(40, '0'),
    created: '2026-01-01T00:00:00Z',
    state: 'success',
    params: { 'params.yaml': { seed, 'train.epochs': 3 } },
    metrics: {
      'metrics/train.json': {
        model: 'cnn',
        backend,
        best_val_acc: acc - 0.01,
        final_loss: 1.5 - acc,
        final_accuracy: acc + 0.05,
      },
      'metrics/train_speed.json': { backend: `${backend} (simd)`, images_per_sec: 1000 + seed },
      'metrics/eval.json': {
        loss: 1.6 - acc,
        accuracy: acc,
        macro_f1: acc - 0.02,
        'per_class.cat.f1': acc - 0.1,
        'per_class.dog.f1': acc - 0.05,
      },
    },
    overrides: [{ file: 'params.yaml', key: 'seed', value: seed }],
  };
}

const baselineRow: ShowRecord = {
  kind: 'baseline',
  name: 'main',
  baseline: BASE,
  sha: BASE,
  created: '2025-12-31T00:00:00Z',
  params: { 'params.yaml': { seed: 42, 'train.epochs': 3 } },
  metrics: {},
};
const workspaceRow: ShowRecord = { ...baselineRow, kind: 'workspace', name: 'workspace', metrics: {} };
const ORDER = ['metrics/eval.json', 'metrics/train_speed.json', 'metrics/train.json'];
const PRIMARY = ['metrics/eval.json'];
const ROWS = [workspaceRow, baselineRow, exp('e1', 1, 0.61), exp('e2', 2, 0.64), exp('e3', 3, 0.58)];
const labels = (t: ExpTable) => t.columns.map((c) => c.label);

test('workspace and baseline rows come first and stay there when the experiments are sorted', () => {
  const t = showTable(ROWS, { metricsOrder: ORDER, sortBy: 'accuracy', sortOrder: 'desc' });
  assert.deepEqual(
    t.rows.map((r) => [r.kind, r.name]),
    [
      ['workspace', 'workspace'],
      ['baseline', 'main'],
      ['experiment', 'e2'],
      ['experiment', 'e1'],
      ['experiment', 'e3'],
    ],
  );
  const { text } = renderText(t, { width: 400 });
  const names = text
    .split('\n')
    .slice(3)
    .map((l) => l.split('│')[1]?.trim())
    .filter(Boolean);
  assert.deepEqual(names, ['workspace', 'main', '├── e2', '├── e1', '└── e3']);
  assert.doesNotMatch(text, /^baseline /, 'the baseline row replaces the title line');
  const csv = renderCsv(t).split('\n');
  assert.match(csv[1]!, new RegExp(`^${BASE},workspace,workspace,`));
  assert.match(csv[2]!, new RegExp(`^${BASE},baseline,main,`));
  assert.match(renderMarkdown(t), /\n\| workspace \|.*\n\| main \|.*\n\| ├── e2 \|/);
});

test('a workspace without metrics does not make every metric count as changed', () => {
  const t = showTable(ROWS, { metricsOrder: ORDER, onlyChanged: true });
  assert.ok(labels(t).includes('accuracy'));
  assert.ok(!labels(t).includes('model'), 'the same model in every experiment: not a change');
  assert.ok(!labels(t).includes('train.epochs'));
  assert.ok(labels(t).includes('seed'));
});

test('keys shared by two files are labelled file:key, across params and metrics too', () => {
  const t = showTable(ROWS, { metricsOrder: ORDER });
  assert.ok(labels(t).includes('metrics/train.json:backend'));
  assert.ok(labels(t).includes('metrics/train_speed.json:backend'));
  assert.ok(!labels(t).includes('backend'));
  const clash: ShowRecord = { ...exp('e4', 4, 0.6) };
  clash.params = { 'params.yaml': { seed: 4, accuracy: 0.9 } };
  const c = showTable([exp('e1', 1, 0.61), clash], { metricsOrder: ORDER });
  assert.ok(labels(c).includes('params.yaml:accuracy'));
  assert.ok(labels(c).includes('metrics/eval.json:accuracy'));
});

test('metrics columns follow the importance order: the evaluation first, then the training diagnostics', () => {
  const t = showTable(ROWS, { metricsOrder: ORDER });
  const metricLabels = t.columns.filter((c) => c.kind === 'metric').map((c) => c.label);
  assert.deepEqual(metricLabels.slice(0, 5), ['loss', 'accuracy', 'macro_f1', 'per_class.cat.f1', 'per_class.dog.f1']);
});

test('a narrow terminal keeps the test accuracy and the params that differ before training columns', () => {
  const t = showTable(ROWS, { metricsOrder: ORDER, primaryMetrics: PRIMARY });
  const { shown, hidden } = fitColumns(t, 80);
  const kept = shown.map((c) => c.label);
  assert.equal(kept[0], 'Experiment');
  for (const must of ['accuracy', 'loss', 'macro_f1', 'seed']) assert.ok(kept.includes(must), `${must} in ${kept}`);
  assert.ok(!kept.includes('Created'));
  assert.ok(hidden.some((c) => c.label === 'final_accuracy'));
  // shown columns keep the table's order
  assert.deepEqual(
    kept,
    t.columns.map((c) => c.label).filter((l) => kept.includes(l)),
  );
  // without the order (records alone), the same top-level numbers still come before nested and text columns
  const plain = fitColumns(showTable(ROWS), 80).shown.map((c) => c.label);
  assert.ok(!plain.some((l) => l.startsWith('per_class') || l.endsWith(':backend')), plain.join(' '));
});

test('--group-by aggregates numbers and lists text values instead of averaging them', () => {
  const rows = [...ROWS, exp('e4', 4, 0.6, 'tfjs-node')];
  const t = showTable(rows, { groupBy: ['train.epochs'], agg: ['mean'], metricsOrder: ORDER });
  assert.deepEqual(
    t.rows.map((r) => r.name),
    ['3'],
    'workspace and baseline rows are not grouped',
  );
  const cell = (label: string) => t.rows[0]!.cells[t.columns.find((c) => c.label === label)!.id];
  assert.equal(cell('n'), 4);
  assert.equal(cell('model'), 'cnn');
  assert.equal(cell('metrics/train.json:backend'), 'wasm, tfjs-node');
  assert.ok(!labels(t).some((l) => /^model:|backend:mean/.test(l)));
  assert.ok(Math.abs((cell('accuracy:mean') as number) - 0.6075) < 1e-12);
});
