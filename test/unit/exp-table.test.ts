import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateValues, parseAggregates } from '../../src/exp/aggregate.js';
import { diffExperiments } from '../../src/exp/diff.js';
import type { ListedExperiment } from '../../src/exp/records.js';
import { showTable } from '../../src/exp/show.js';
import { buildTable, compareValues, type ExpTable } from '../../src/exp/table.js';
import { fitColumns, renderCsv, renderMarkdown } from '../../src/cli/exp-render.js';

function rec(
  name: string,
  seed: number,
  data: string,
  acc: number | undefined,
  state: 'success' | 'failed' = 'success',
  baseline = 'b'.repeat(40),
): ListedExperiment {
  return {
    ref: `refs/exps/${baseline}/${name}`,
    name,
    baseline,
    sha: name.padEnd(40, '0'),
    created: `2026-01-01T00:00:0${name.length % 10}Z`,
    state,
    params: { 'params.yaml': { seed, data, 'train.lr': 0.001 } },
    metrics: acc === undefined ? {} : { 'metrics/eval.json': { accuracy: acc, loss: 1 } },
    lock: null,
    overrides: [
      { file: 'params.yaml', key: 'seed', value: seed },
      { file: 'params.yaml', key: 'data', value: data },
    ],
  };
}

const RECORDS = [
  rec('a', 1, 'v1', 0.5),
  rec('b', 2, 'v1', 0.7),
  rec('c', 1, 'v2', 0.6),
  rec('d', 2, 'v2', 0.8),
  rec('e', 3, 'v2', undefined, 'failed'),
];
const labels = (t: ExpTable) => t.columns.map((c) => c.label);
const col = (t: ExpTable, label: string) => t.rows.map((r) => r.cells[t.columns.find((c) => c.label === label)!.id]);

test('columns: meta, params that were set or differ, every metric', () => {
  const t = buildTable(RECORDS);
  assert.deepEqual(labels(t), ['Experiment', 'Created', 'State', 'seed', 'data', 'accuracy', 'loss']);
  assert.deepEqual(col(t, 'accuracy'), [0.5, 0.7, 0.6, 0.8, undefined]);
  assert.deepEqual(labels(buildTable(RECORDS, { allParams: true })), [
    'Experiment',
    'Created',
    'State',
    'seed',
    'data',
    'train.lr',
    'accuracy',
    'loss',
  ]);
});

test('--only-changed drops constant params and metrics; a missing value counts as a change', () => {
  const t = buildTable(RECORDS.slice(0, 4), { onlyChanged: true });
  assert.deepEqual(labels(t), ['Experiment', 'Created', 'State', 'seed', 'data', 'accuracy']);
  const withFailed = buildTable(RECORDS, { onlyChanged: true });
  assert.ok(labels(withFailed).includes('loss'));
});

test('--sort-by: numeric, desc, missing last both ways, unknown column is an error', () => {
  assert.deepEqual(col(buildTable(RECORDS, { sortBy: 'accuracy' }), 'Experiment'), ['a', 'c', 'b', 'd', 'e']);
  assert.deepEqual(col(buildTable(RECORDS, { sortBy: 'accuracy', sortOrder: 'desc' }), 'Experiment'), [
    'd',
    'b',
    'c',
    'a',
    'e',
  ]);
  assert.deepEqual(
    col(buildTable(RECORDS, { sortBy: 'metrics/eval.json:accuracy', sortOrder: 'desc' }), 'Experiment')[0],
    'd',
  );
  assert.deepEqual(col(buildTable(RECORDS, { sortBy: 'name', sortOrder: 'desc' }), 'Experiment'), [
    'e',
    'd',
    'c',
    'b',
    'a',
  ]);
  assert.throws(
    () => buildTable(RECORDS, { sortBy: 'acc' }),
    /--sort-by 'acc' is not a column; columns: Experiment, Created, State, seed, data, accuracy, loss/,
  );
  assert.ok(compareValues(2, 10) < 0 && compareValues('v10', 'v9') > 0 && compareValues(undefined, 1) > 0);
});

test('--keep / --drop regexes on column labels; keep wins', () => {
  assert.deepEqual(labels(buildTable(RECORDS, { drop: ['^(loss|seed)$'] })), [
    'Experiment',
    'Created',
    'State',
    'data',
    'accuracy',
  ]);
  assert.deepEqual(labels(buildTable(RECORDS, { keep: ['acc'] })), ['Experiment', 'Created', 'State', 'accuracy']);
  assert.deepEqual(labels(buildTable(RECORDS, { drop: ['.*'], keep: ['^data$'] })), ['Experiment', 'data']);
  assert.throws(() => buildTable(RECORDS, { drop: ['('] }), /invalid --drop regex '\('/);
});

test('a key in two files is labelled file:key', () => {
  const r = rec('x', 1, 'v1', 0.1);
  r.params['other.yaml'] = { seed: 9 };
  r.overrides.push({ file: 'other.yaml', key: 'seed', value: 9 });
  assert.deepEqual(labels(buildTable([r])).slice(3, 6), ['params.yaml:seed', 'data', 'other.yaml:seed']);
});

test('--group-by data --agg: mean, sample std, min, max over successful runs', () => {
  const t = showTable(RECORDS, { groupBy: ['data'], agg: ['mean', 'std', 'min', 'max', 'count'] });
  assert.deepEqual(labels(t).slice(0, 8), [
    'data',
    'n',
    'failed',
    'accuracy:mean',
    'accuracy:std',
    'accuracy:min',
    'accuracy:max',
    'accuracy:count',
  ]);
  assert.deepEqual(col(t, 'data'), ['v1', 'v2']);
  assert.deepEqual(col(t, 'n'), [2, 2]);
  assert.deepEqual(col(t, 'failed'), [0, 1]);
  const mean = col(t, 'accuracy:mean') as number[];
  assert.ok(Math.abs(mean[0]! - 0.6) < 1e-12 && Math.abs(mean[1]! - 0.7) < 1e-12);
  const std = col(t, 'accuracy:std') as number[];
  assert.ok(Math.abs(std[0]! - Math.sqrt(0.02)) < 1e-12);
  assert.deepEqual(col(t, 'accuracy:max'), [0.7, 0.8]);
  const sorted = showTable(RECORDS, { groupBy: ['data'], agg: ['mean'], sortBy: 'accuracy:mean', sortOrder: 'desc' });
  assert.deepEqual(col(sorted, 'data'), ['v2', 'v1']);
  // grouping by a param that never changed still works (it is not a shown column otherwise)
  assert.deepEqual(col(showTable(RECORDS, { groupBy: ['train.lr'], agg: ['count'] }), 'n'), [4]);
  assert.throws(() => showTable(RECORDS, { groupBy: ['nope'] }), /--group-by 'nope' is not a column/);
});

test('aggregate functions', () => {
  assert.equal(aggregateValues([1, 2, 3, 4], 'mean'), 2.5);
  assert.equal(aggregateValues([1, 2, 3, 4], 'median'), 2.5);
  assert.equal(aggregateValues([5], 'std'), null);
  assert.equal(aggregateValues([], 'mean'), null);
  assert.equal(aggregateValues([], 'count'), 0);
  assert.deepEqual(parseAggregates(undefined), ['mean', 'std', 'min', 'max']);
  assert.throws(
    () => parseAggregates('mean,avg'),
    /unknown aggregate 'avg' in --agg; valid: mean, std, min, max, median, count/,
  );
});

test('diff lists changed params and metrics with numeric change', () => {
  const rows = diffExperiments(RECORDS[0]!, RECORDS[3]!);
  assert.deepEqual(
    rows.map((r) => [r.kind, r.key, r.a, r.b]),
    [
      ['param', 'data', 'v1', 'v2'],
      ['param', 'seed', 1, 2],
      ['metric', 'accuracy', 0.5, 0.8],
    ],
  );
  assert.ok(Math.abs(rows[2]!.change! - 0.3) < 1e-12);
  assert.equal(diffExperiments(RECORDS[0]!, RECORDS[3]!, { all: true }).length, 5);
});

test('fitting gives up what is the same in every row first; the first column always stays', () => {
  const t = buildTable(RECORDS);
  assert.equal(fitColumns(t, 1000).hidden.length, 0);
  // widths + 3 each: Experiment 13, State 10, seed 7, data 7, accuracy 11, loss 7, Created 23; plus 1
  assert.deepEqual(
    fitColumns(t, 1 + 13 + 10 + 7 + 7 + 11 + 7).shown.map((c) => c.label),
    ['Experiment', 'State', 'seed', 'data', 'accuracy', 'loss'],
  );
  // a failed row makes State worth showing: it stays before the metrics, and the metrics before params
  const narrow = fitColumns(t, 1 + 13 + 10 + 11 + 7);
  assert.deepEqual(
    narrow.shown.map((c) => c.label),
    ['Experiment', 'State', 'accuracy', 'loss'],
  );
  assert.deepEqual(
    narrow.hidden.map((c) => c.label),
    ['Created', 'seed', 'data'],
  );
  // all succeeded, loss constant: State and loss give way to the metric that differs
  const ok = buildTable(RECORDS.slice(0, 4));
  const fit = fitColumns(ok, 1 + 13 + 7 + 7 + 11);
  assert.deepEqual(
    fit.shown.map((c) => c.label),
    ['Experiment', 'seed', 'data', 'accuracy'],
  );
  assert.deepEqual(
    fit.hidden.map((c) => c.label),
    ['Created', 'State', 'loss'],
  );
  assert.deepEqual(
    fitColumns(t, 5).shown.map((c) => c.label),
    ['Experiment'],
  );
});

test('CSV and Markdown renderings', () => {
  const t = buildTable(RECORDS.slice(0, 2), { keep: ['accuracy'] });
  assert.equal(
    renderCsv(t),
    `baseline,type,Experiment,Created,State,accuracy\n` +
      `${'b'.repeat(40)},experiment,a,2026-01-01T00:00:01Z,success,0.5\n` +
      `${'b'.repeat(40)},experiment,b,2026-01-01T00:00:01Z,success,0.7\n`,
  );
  assert.match(
    renderMarkdown(t),
    /^\| Experiment \| Created \| State \| accuracy \|\n\| --- \| --- \| --- \| ---: \|\n\| a \| /,
  );
});

test('repro --json output becomes a readable log and stage counts', async () => {
  const { readReproOutput } = await import('../../src/exp/repro-log.js');
  const stdout = [
    { type: 'plan', items: [] },
    { type: 'stage-restored', stage: 'pull', from: 'run-cache' },
    { type: 'stage-start', stage: 'train', reasons: [], commands: ['x'] },
    { type: 'stage-output', stage: 'train', stream: 'stderr', line: 'epoch 1' },
    { type: 'stage-ran', stage: 'train', durationMs: 5 },
    { type: 'stage-failed', stage: 'evaluate', message: 'exit code 1' },
  ]
    .map((e) => JSON.stringify(e))
    .concat(['not json'])
    .join('\n');
  const r = readReproOutput(stdout, "lockstep: stage 'evaluate' failed\n");
  assert.deepEqual(r.stages, { ran: ['train'], restored: ['pull'] });
  assert.equal(
    r.log,
    "Stage 'pull' restored from the run-cache\nRunning stage 'train'\n[train] epoch 1\nStage 'evaluate' failed: exit " +
      "code 1\nnot json\nlockstep: stage 'evaluate' failed",
  );
});
