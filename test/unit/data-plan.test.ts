import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mulberry32, labelSeed, shuffled } from '../../stages/lib/common/prng.js';
import { classQuotas, maxPartitionSize, planPartitions, type LabeledId } from '../../stages/lib/data/partition-plan.js';
import {
  parseDataSpec,
  planSplits,
  splitCounts,
  splitProblem,
  type PreparedItem,
} from '../../stages/lib/data/prepare-plan.js';
import { StageError } from '../../stages/lib/common/stage.js';

const CLASSES = ['a', 'b', 'c'];

test('mulberry32 is a fixed, seeded sequence in [0, 1)', () => {
  const a = new Mulberry32(42);
  const first = [a.next(), a.next(), a.next()];
  const b = new Mulberry32(42);
  assert.deepEqual([b.next(), b.next(), b.next()], first);
  // Reference values of new Mulberry32(42) (same as the widely used reference implementation): a change of
  // algorithm would silently reshuffle every partition.
  assert.deepEqual(
    first.map((x) => x.toFixed(8)),
    ['0.60110375', '0.44829056', '0.85246579'],
  );
  const c = new Mulberry32(43);
  assert.notEqual(c.next(), first[0]);
  const r = new Mulberry32(1);
  for (let i = 0; i < 1000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
  }
});

test('shuffled returns a permutation and leaves the input alone', () => {
  const input = Array.from({ length: 50 }, (_, i) => i);
  const out = shuffled(input, new Mulberry32(1));
  assert.deepEqual(
    input,
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.notDeepEqual(out, input);
  assert.deepEqual(
    out.slice().sort((x, y) => x - y),
    input,
  );
});

test('labelSeed gives different streams per label and per seed, and never changes', () => {
  assert.equal(labelSeed(7, 'cat'), labelSeed(7, 'cat'));
  assert.notEqual(labelSeed(7, 'cat'), labelSeed(7, 'dog'));
  assert.notEqual(labelSeed(7, 'cat'), labelSeed(8, 'cat'));
  // Values of the data stages' seed derivation before the stage kits merged: partitions and splits depend on them.
  assert.deepEqual([labelSeed(7, 'cat'), labelSeed(42, 'split:train')], [508117719, 2052084941]);
});

test('classQuotas: equal shares, remainder to the lowest labels, small classes give way', () => {
  assert.deepEqual(classQuotas([9, 9, 9], 3, 3), [1, 1, 1]);
  assert.deepEqual(classQuotas([30, 30, 30], 11, 3), [4, 4, 3]);
  // Class 0 can give at most floor(4/3) = 1 per partition; the others take up its share.
  assert.deepEqual(classQuotas([4, 30, 30], 12, 3), [1, 6, 5]);
  assert.equal(maxPartitionSize([4, 30, 30], 3), 21);
  assert.deepEqual(classQuotas([4, 30, 30], 21, 3), [1, 10, 10]);
  assert.throws(() => classQuotas([4, 30, 30], 22, 3), RangeError);
});

function items(perClass: number[]): LabeledId[] {
  const out: LabeledId[] = [];
  perClass.forEach((n, label) => {
    for (let i = 0; i < n; i++) out.push({ id: `${CLASSES[label]}-${String(i).padStart(3, '0')}`, label });
  });
  return out;
}

test('planPartitions: disjoint, equal-sized, stratified, order-independent, seeded', () => {
  const all = items([20, 20, 20]);
  const plan = planPartitions(all, CLASSES, 15, 3, 7);
  assert.equal(plan.length, 3);
  const seen = new Set<string>();
  for (const ids of plan) {
    assert.equal(ids.length, 15);
    assert.deepEqual(ids, ids.slice().sort());
    for (const c of CLASSES) assert.equal(ids.filter((id) => id.startsWith(`${c}-`)).length, 5);
    for (const id of ids) {
      assert.ok(!seen.has(id), `${id} in two partitions`);
      seen.add(id);
    }
  }
  assert.deepEqual(planPartitions(shuffled(all, new Mulberry32(99)), CLASSES, 15, 3, 7), plan);
  assert.notDeepEqual(planPartitions(all, CLASSES, 15, 3, 8), plan);
});

test('planPartitions: a size over the maximum is a one-line error naming partition.size and the maximum', () => {
  assert.throws(
    () => planPartitions(items([20, 20, 7]), CLASSES, 16, 3, 7),
    (e: unknown) =>
      e instanceof StageError &&
      e.message === 'partition.size 16 is too large: 3 disjoint stratified partitions of 47 images allow at most 14' &&
      e.hint === 'Set partition.size to 14 or less in params.yaml.',
  );
});

test('parseDataSpec accepts +-joined distinct partitions', () => {
  const valid = ['v1', 'v2', 'v3'];
  assert.deepEqual(parseDataSpec('v1', valid), ['v1']);
  assert.deepEqual(parseDataSpec('v3+v1', valid), ['v3', 'v1']);
  assert.deepEqual(parseDataSpec('v1+v2+v3', valid), ['v1', 'v2', 'v3']);
});

test('parseDataSpec rejects unknown, empty and repeated names with the exact text', () => {
  const valid = ['v1', 'v2', 'v3'];
  const hint = 'Set data to e.g. v1 or v1+v2 in params.yaml (or lockstep exp run --data).';
  const cases: [string, string][] = [
    [
      'v4',
      "data 'v4' names unknown partition 'v4': it must be a '+'-joined set of distinct partitions from v1, v2, v3",
    ],
    ['v1++v2', "data 'v1++v2' has an empty name: it must be a '+'-joined set of distinct partitions from v1, v2, v3"],
    [
      'v1+v1',
      "data 'v1+v1' names a partition twice: it must be a '+'-joined set of distinct partitions from v1, v2, v3",
    ],
    ['', "data '' has an empty name: it must be a '+'-joined set of distinct partitions from v1, v2, v3"],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      () => parseDataSpec(spec, valid),
      (e: unknown) => e instanceof StageError && e.message === message && e.hint === hint,
      spec,
    );
  }
});

test('splitProblem checks keys, signs and the sum', () => {
  assert.equal(splitProblem({ train: 0.8, val: 0.1, test: 0.1 }), undefined);
  assert.equal(splitProblem({ train: 0.7, val: 0.2, test: 0.1 + 1e-10 }), undefined);
  assert.equal(splitProblem({ train: 0.8, val: 0.1, test: 0.2 }), 'fractions sum to 1.1, not 1');
  assert.equal(splitProblem({ train: 1.1, val: -0.05, test: -0.05 }), 'val must be a positive number, got -0.05');
  assert.equal(splitProblem({ train: 0.9, val: 0.1, test: 0 }), 'test must be a positive number, got 0');
  assert.equal(splitProblem({ train: 0.9, val: '0.1', test: 0 }), 'val must be a positive number, got "0.1"');
  assert.equal(splitProblem({ train: 0.9, val: 0.1 }), 'lacks test');
  assert.equal(
    splitProblem({ train: 0.8, val: 0.1, test: 0.1, holdout: 0 }),
    'has unknown key holdout (expected train, val, test)',
  );
});

test('splitCounts floors then gives leftovers to the largest remainders', () => {
  const f = { train: 0.8, val: 0.1, test: 0.1 };
  assert.deepEqual(splitCounts(100, f), { train: 80, val: 10, test: 10 });
  assert.deepEqual(splitCounts(7, f), { train: 5, val: 1, test: 1 }); // 5.6, 0.7, 0.7: the two .7 remainders win
  assert.deepEqual(splitCounts(3, { train: 1 / 3, val: 1 / 3, test: 1 / 3 }), { train: 1, val: 1, test: 1 });
  for (let n = 0; n < 50; n++) {
    const c = splitCounts(n, f);
    assert.equal(c.train + c.val + c.test, n);
  }
});

test('planSplits: stratified per class, covering, disjoint, deterministic, interleaved', () => {
  const all: PreparedItem[] = items([20, 20, 20]).map((it) => ({ ...it, path: `p/${it.id}.png` }));
  const f = { train: 0.8, val: 0.1, test: 0.1 };
  const s = planSplits(all, CLASSES, f, 42);
  assert.equal(s.train.length, 48);
  assert.equal(s.val.length, 6);
  assert.equal(s.test.length, 6);
  for (const k of ['train', 'val', 'test'] as const) {
    for (let label = 0; label < 3; label++)
      assert.equal(s[k].filter((it) => it.label === label).length, s[k].length / 3, `${k} class ${label}`);
  }
  const ids = [...s.train, ...s.val, ...s.test].map((it) => it.id).sort();
  assert.deepEqual(ids, all.map((it) => it.id).sort());
  assert.deepEqual(planSplits(shuffled(all, new Mulberry32(5)), CLASSES, f, 42), s);
  assert.notDeepEqual(planSplits(all, CLASSES, f, 43).train, s.train);
  // Classes are interleaved, not in label blocks.
  assert.notDeepEqual(
    s.train.map((it) => it.label),
    s.train.map((it) => it.label).sort(),
  );
});
