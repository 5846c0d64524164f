import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LockstepError } from '../../src/errors.js';
import { computeHardExamples, hardExamplesCsv, populationStd } from '../../src/report/index.js';
import type { ImageStats } from '../../src/report/types.js';
import { CLASSES, RUN_A, RUN_B, run, type Row } from './hard-examples-fixtures.js';

const near = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} is not ${expected}`);

const byId = (hard: ImageStats[], id: string): ImageStats => {
  const s = hard.find((h) => h.id === id);
  assert.ok(s, `${id} not in the report`);
  return s;
};

test('known answers: counts, tie on the wrong label, mean/std of p_true, margin', () => {
  const r = computeHardExamples([run('a', CLASSES, RUN_A), run('b', CLASSES, RUN_B)], { minRate: 0.5, minRuns: 1 });
  assert.deepEqual(
    r.hard.map((s) => s.id),
    ['img4', 'img1', 'img3', 'img2'],
  );
  const img1 = byId(r.hard, 'img1');
  assert.equal(img1.runs, 2);
  assert.equal(img1.misses, 2);
  assert.equal(img1.missRate, 1);
  assert.equal(img1.topWrongLabel, 'dog', 'a 1-1 tie between dog and frog goes to dog, earlier in class order');
  assert.equal(img1.topWrongCount, 1);
  near(img1.meanPTrue, 0.3, 'img1 mean p_true');
  near(img1.stdPTrue, 0.1, 'img1 population std');
  near(img1.meanMargin, -0.3, 'img1 margin');
  assert.deepEqual(img1.missedBy, ['a', 'b']);
  const img3 = byId(r.hard, 'img3');
  assert.equal(img3.topWrongLabel, 'cat');
  near(img3.stdPTrue, 0.05, 'img3 std');
  near(img3.meanMargin, -0.15, 'img3 margin');
  const img2 = byId(r.hard, 'img2');
  assert.equal(img2.misses, 1);
  assert.equal(img2.missRate, 0.5);
  assert.equal(img2.topWrongLabel, 'cat');
  near(img2.stdPTrue, 0.25, 'img2 std');
  near(img2.meanMargin, 0.2, 'img2 margin: +.7 when right, -.3 when wrong');
  const img4 = byId(r.hard, 'img4');
  assert.equal(img4.runs, 1, 'img4 is seen by one run only');
  assert.equal(img4.stdPTrue, 0, 'std of a single run is 0');
  near(img4.meanMargin, 0.1 - 0.8, 'img4 margin');
  assert.deepEqual(
    r.runs.map((x) => [x.name, x.images, x.accuracy]),
    [
      ['a', 4, 0.25],
      ['b', 3, 0],
    ],
  );
  assert.equal(r.imagesSeen, 4);
});

test('ties on the wrong label do not depend on the order the runs come in', () => {
  const r = computeHardExamples([run('b', CLASSES, RUN_B), run('a', CLASSES, RUN_A)], { minRate: 1, minRuns: 2 });
  assert.equal(byId(r.hard, 'img1').topWrongLabel, 'dog');
  assert.equal(byId(r.hard, 'img3').topWrongLabel, 'cat');
});

test('defaults (every run wrong, at least 2 runs): an image seen by one run is never hard', () => {
  const r = computeHardExamples([run('a', CLASSES, RUN_A), run('b', CLASSES, RUN_B)], { minRate: 1, minRuns: 2 });
  assert.deepEqual(
    r.hard.map((s) => s.id),
    ['img1', 'img3'],
    'hardest first: equal miss rate, lower mean p_true first',
  );
  assert.equal(r.imagesBelowMinRuns, 1);
  assert.deepEqual(r.confusions, [
    { trueLabel: 'cat', wrongLabel: 'dog', count: 1 },
    { trueLabel: 'frog', wrongLabel: 'cat', count: 1 },
  ]);
  assert.deepEqual(
    r.byClass.map((c) => [c.label, c.images, c.hard, c.topConfusion]),
    [
      ['cat', 2, 1, 'dog'],
      ['dog', 1, 0, null],
      ['frog', 1, 1, 'cat'],
    ],
  );
  near(r.byClass[0]?.meanPTrue ?? NaN, 0.2, 'cat mean p_true over img1 (.3) and img4 (.1)');
});

test('min-runs and min-rate edges', () => {
  const runs = [run('a', CLASSES, RUN_A), run('b', CLASSES, RUN_B)];
  assert.deepEqual(computeHardExamples(runs, { minRate: 1, minRuns: 3 }).hard, [], 'no image has 3 runs');
  assert.deepEqual(
    computeHardExamples(runs, { minRate: 0.5, minRuns: 2 }).hard.map((s) => s.id),
    ['img1', 'img3', 'img2'],
    '1 of 2 meets 0.5 exactly',
  );
  assert.deepEqual(
    computeHardExamples(runs, { minRate: 0.51, minRuns: 2 }).hard.map((s) => s.id),
    ['img1', 'img3'],
  );
  assert.deepEqual(
    computeHardExamples(runs, { minRate: 1, minRuns: 1 }).hard.map((s) => s.id),
    ['img4', 'img1', 'img3'],
  );
  // 2 misses of 3 runs against a rate typed as 0.6666666666666666 (2/3 in float): hard, not lost to rounding
  const three = ['a', 'b', 'c'].map((n, i) => run(n, CLASSES, [['x', 'cat', i < 2 ? 'dog' : 'cat', [0.5, 0.4, 0.1]]]));
  assert.deepEqual(
    computeHardExamples(three, { minRate: 2 / 3, minRuns: 3 }).hard.map((s) => s.id),
    ['x'],
  );
  assert.deepEqual(computeHardExamples(three, { minRate: 0.67, minRuns: 3 }).hard, []);
  // never-missed images are not hard even at min-rate 0
  assert.deepEqual(
    computeHardExamples(runs, { minRate: 0, minRuns: 1 }).hard.map((s) => s.id),
    ['img4', 'img1', 'img3', 'img2'],
  );
});

test('sort: miss rate desc, then mean p_true asc, then id in code-unit order', () => {
  const rows = (pTrue: number): Row[] => [
    ['b10', 'cat', 'dog', [pTrue, 1 - pTrue, 0]],
    ['b9', 'cat', 'dog', [pTrue, 1 - pTrue, 0]],
    ['a', 'cat', 'dog', [0.3, 0.7, 0]],
  ];
  const r = computeHardExamples([run('a', CLASSES, rows(0.25)), run('b', CLASSES, rows(0.25))], {
    minRate: 1,
    minRuns: 2,
  });
  assert.deepEqual(
    r.hard.map((s) => s.id),
    ['b10', 'b9', 'a'],
  );
});

test('a run whose file orders the classes differently is mapped by name', () => {
  const reordered = ['frog', 'cat', 'dog'];
  const b = run(
    'b',
    reordered,
    RUN_B.map(([id, t, p, [c, d, f]]) => [id, t, p, [f, c, d]] as Row),
  );
  const r = computeHardExamples([run('a', CLASSES, RUN_A), b], { minRate: 1, minRuns: 2 });
  near(byId(r.hard, 'img1').meanMargin, -0.3, 'margin uses the right columns');
  assert.deepEqual(r.classes, CLASSES);
});

test('CSV: exact bytes, header and one row per hard image', () => {
  const r = computeHardExamples([run('a', CLASSES, RUN_A), run('b', CLASSES, RUN_B)], { minRate: 1, minRuns: 2 });
  assert.equal(
    hardExamplesCsv(r),
    'id,path,true_label,runs,misses,miss_rate,top_wrong_label,top_wrong_count,mean_p_true,std_p_true,mean_margin\n' +
      'img1,data/p/cat/img1.png,cat,2,2,1.000000,dog,1,0.300000,0.100000,-0.300000\n' +
      'img3,data/p/frog/img3.png,frog,2,2,1.000000,cat,1,0.350000,0.050000,-0.150000\n',
  );
  const none = computeHardExamples([run('a', CLASSES, RUN_A)], { minRate: 1, minRuns: 2 });
  assert.equal(hardExamplesCsv(none).split('\n').filter(Boolean).length, 1, 'header only');
});

test('CSV quotes a path with a comma', () => {
  const rows: Row[] = [['q,1', 'cat', 'dog', [0.1, 0.9, 0]]];
  const r = computeHardExamples([run('a', CLASSES, rows), run('b', CLASSES, rows)], { minRate: 1, minRuns: 2 });
  assert.match(hardExamplesCsv(r), /\n"q,1","data\/p\/cat\/q,1\.png",cat,/);
});

test('population std', () => {
  assert.equal(populationStd([0.7]), 0);
  assert.equal(populationStd([]), 0);
  near(populationStd([1, 3]), 1, 'population (n), not sample (n - 1) which would give 1.414');
});

test('different label sets: one-line report error naming both files', () => {
  const other = run('b', ['cat', 'dog', 'bird'], [['img1', 'cat', 'dog', [0.2, 0.7, 0.1]]]);
  assert.throws(
    () => computeHardExamples([run('a', CLASSES, RUN_A), other], { minRate: 1, minRuns: 2 }),
    (e: unknown) =>
      e instanceof LockstepError &&
      e.reason === 'report' &&
      e.message ===
        "experiment 'b' results/predictions.csv has classes cat,dog,bird but experiment 'a' results/predictions.csv " +
          'has cat,dog,frog',
  );
});

test('one image with two true labels across runs is an error', () => {
  const b = run('b', CLASSES, [['img1', 'dog', 'cat', [0.5, 0.4, 0.1]]]);
  assert.throws(
    () => computeHardExamples([run('a', CLASSES, RUN_A), b], { minRate: 1, minRuns: 2 }),
    /image img1 is labelled 'cat' in experiment 'a' results\/predictions.csv but 'dog' in experiment 'b'/,
  );
});

test('bad options and no runs', () => {
  assert.throws(
    () => computeHardExamples([run('a', CLASSES, RUN_A)], { minRate: 1.5, minRuns: 2 }),
    (e: unknown) => e instanceof LockstepError && e.reason === 'usage',
  );
  assert.throws(
    () => computeHardExamples([run('a', CLASSES, RUN_A)], { minRate: 1, minRuns: 0 }),
    (e: unknown) => e instanceof LockstepError && e.reason === 'usage',
  );
  assert.throws(
    () => computeHardExamples([], { minRate: 1, minRuns: 2 }),
    (e: unknown) => e instanceof LockstepError && e.reason === 'report',
  );
});
