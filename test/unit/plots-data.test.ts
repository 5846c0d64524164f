import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlotData } from '../../src/plots/data.js';
import { collectDefinitions, selectDefinitions, sourcesOf } from '../../src/plots/definitions.js';
import { buildSpec } from '../../src/plots/vega.js';
import type { Pipeline } from '../../src/config/types.js';

test('plot data: JSON/YAML lists (also nested in a mapping), CSV/TSV with numbers, header: false', () => {
  assert.deepEqual(parsePlotData('a.json', '[{"x":1,"y":2}]'), [{ x: 1, y: 2 }]);
  assert.deepEqual(parsePlotData('a.json', '{"meta":1,"train":{"rows":[{"x":1}]}}'), [{ x: 1 }]);
  assert.deepEqual(parsePlotData('a.yaml', 'loss:\n  - {step: 0, v: 0.5}\n'), [{ step: 0, v: 0.5 }]);
  assert.deepEqual(parsePlotData('a.csv', 'a,b\n1,x\n2.5,\n'), [
    { a: 1, b: 'x' },
    { a: 2.5, b: '' },
  ]);
  assert.deepEqual(parsePlotData('a.tsv', 'a\tb\n1\t2\n'), [{ a: 1, b: 2 }]);
  assert.deepEqual(parsePlotData('a.csv', '1,2\n3,4\n', { header: false }), [
    { 0: 1, 1: 2 },
    { 0: 3, 1: 4 },
  ]);
  assert.throws(() => parsePlotData('a.json', '{"a": 1}'), /a\.json: no list of records found/);
  assert.throws(
    () => parsePlotData('a.json', '[1'),
    (e: Error & { reason?: string }) => e.reason === 'data',
  );
  assert.throws(() => parsePlotData('a.csv', 'a,b\n1,2,3\n'), /a\.csv: not valid CSV/);
});

test('definitions: stage plots, folders expanded, top-level entries refine a stage file; targets select', async () => {
  const pipeline: Pipeline = {
    file: 'pipeline.yaml',
    stages: [
      {
        name: 's',
        cmd: ['x'],
        wdir: '.',
        deps: [],
        params: [],
        frozen: false,
        alwaysChanged: false,
        pos: { file: 'pipeline.yaml', line: 1, col: 1 },
        outs: [
          { path: 'plots/train.json', kind: 'plots', cache: false, persist: false, push: true, plot: { y: 'loss' } },
          { path: 'figs', kind: 'plots', cache: true, persist: false, push: true },
          { path: 'model', kind: 'outs', cache: true, persist: false, push: true },
        ],
      },
    ],
    plots: [
      { id: 'plots/train.json', path: 'plots/train.json', props: { x: 'epoch', y: ['loss', 'acc'] } },
      { id: 'both', props: { y: { 'a.csv': ['v'], 'b.csv': ['v', 'w'] }, x: 'step' } },
    ],
  };
  const list = async (dir: string) => (dir === 'figs' ? ['figs/b.png', 'figs/a.csv', 'figs/notes.txt'] : null);
  const defs = await collectDefinitions(pipeline, list);
  assert.deepEqual(
    defs.map((d) => [d.id, d.kind, d.sources]),
    [
      ['figs/a.csv', 'vega', [{ file: 'figs/a.csv', y: [] }]],
      ['figs/b.png', 'image', [{ file: 'figs/b.png', y: [] }]],
      ['plots/train.json', 'vega', [{ file: 'plots/train.json', x: 'epoch', y: ['loss', 'acc'] }]],
      [
        'both',
        'vega',
        [
          { file: 'a.csv', x: 'step', y: ['v'] },
          { file: 'b.csv', x: 'step', y: ['v', 'w'] },
        ],
      ],
    ],
  );
  assert.deepEqual(
    selectDefinitions(defs, ['figs/']).map((d) => d.id),
    ['figs/a.csv', 'figs/b.png'],
  );
  assert.deepEqual(
    selectDefinitions(defs, ['b.csv']).map((d) => d.id),
    ['both'],
  );
  assert.deepEqual(sourcesOf(undefined, { x: { 'a.csv': ['t'] }, y: 'v' }), [{ file: 'a.csv', x: 't', y: ['v'] }]);
});

test('specs: y inferred as the last field against the row index; series per run and field; confusion counts', () => {
  const def = { id: 'p.json', kind: 'vega' as const, props: {}, sources: [{ file: 'p.json', y: [] }] };
  const rows = [
    { a: 1, b: 10 },
    { a: 2, b: 20 },
  ];
  const one = buildSpec(def, [{ rev: 'workspace', files: new Map([['p.json', rows]]) }]);
  assert.ok(one);
  assert.deepEqual(one?.series, ['b']);
  assert.deepEqual(
    (one.spec.data as { values: unknown[] }).values.map((v) => [(v as { x: number }).x, (v as { y: number }).y]),
    [
      [0, 10],
      [1, 20],
    ],
  );
  const two = buildSpec({ ...def, sources: [{ file: 'p.json', y: ['a', 'b'] }] }, [
    { rev: 'workspace', files: new Map([['p.json', rows]]) },
    { rev: 'HEAD', files: new Map([['p.json', rows.slice(0, 1)]]) },
    { rev: 'old', files: new Map() },
  ]);
  assert.deepEqual(two?.series, ['workspace: a', 'workspace: b', 'HEAD: a', 'HEAD: b']);
  assert.equal(two?.points, 6);
  assert.deepEqual(two?.revs, ['workspace', 'HEAD'], 'a run without the file is left out');
  const cm = buildSpec(
    {
      id: 'cm',
      kind: 'vega',
      props: { template: 'confusion', x_label: 'true class' },
      sources: [{ file: 'p.csv', x: 't', y: ['p'] }],
    },
    [
      {
        rev: 'workspace',
        files: new Map([
          [
            'p.csv',
            [
              { t: 'cat', p: 'dog' },
              { t: 'cat', p: 'cat' },
            ],
          ],
        ]),
      },
    ],
  );
  assert.ok(cm);
  assert.equal(cm.points, 2);
  const enc = (cm.spec as { encoding: { x: { title: string }; y: { title: string } } }).encoding;
  assert.equal(enc.x.title, 'true class');
  assert.equal(enc.y.title, 'p');
});
