import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandForeach, expandMatrix } from '../../src/config/generate.js';
import { dictToArgs, pyNumber, shellQuote } from '../../src/config/format.js';
import { parseExpression } from '../../src/config/context.js';

const suffixes = (g: ReturnType<typeof expandForeach>) => ('error' in g ? g.error : g.map((x) => x.suffix));

test('foreach names: scalars by value, composite lists by index, dicts by key', () => {
  assert.deepEqual(suffixes(expandForeach(['raw1', 'labels1', 2, 0.5, true])), ['raw1', 'labels1', '2', '0.5', 'true']);
  assert.deepEqual(suffixes(expandForeach([{ epochs: 3 }, { epochs: 10 }])), ['0', '1']);
  assert.deepEqual(suffixes(expandForeach(['a', [1, 2]])), ['0', '1'], 'any composite item switches to indices');
  const byKey = expandForeach({ uk: { epochs: 3 }, us: { epochs: 10 } });
  assert.ok(!('error' in byKey));
  assert.deepEqual(
    byKey.map((g) => g.suffix),
    ['uk', 'us'],
  );
  assert.deepEqual(byKey[1]?.vars, { item: { epochs: 10 }, key: 'us' });
  assert.deepEqual(suffixes(expandForeach('abc')), "'foreach' must be a list or a dict, got string");
  assert.deepEqual(suffixes(expandForeach(3)), "'foreach' must be a list or a dict, got number");
});

test('matrix names join axis values with "-"; composite values use <axis><index>', () => {
  const g = expandMatrix({ model: ['cnn', 'mlp'], lr: [0.1, 0.001] });
  assert.deepEqual(
    g.map((x) => x.suffix),
    ['cnn-0.1', 'cnn-0.001', 'mlp-0.1', 'mlp-0.001'],
  );
  // ${key} is the generated name's suffix, as DVC's test_matrix_key_present
  assert.deepEqual(g[3]?.vars, { item: { model: 'mlp', lr: 0.001 }, key: 'mlp-0.001' });
  const c = expandMatrix({ data: [{ a: 1 }, { a: 2 }], seed: [1] });
  assert.deepEqual(
    c.map((x) => x.suffix),
    ['data0-1', 'data1-1'],
  );
  assert.deepEqual(expandMatrix({ a: [1], b: [] }), []);
});

test('numbers print like Python str()', () => {
  assert.equal(pyNumber(0.001), '0.001');
  assert.equal(pyNumber(0.0001), '0.0001');
  assert.equal(pyNumber(0.00001), '1e-05');
  assert.equal(pyNumber(1.5e-7), '1.5e-07');
  assert.equal(pyNumber(3), '3');
  assert.equal(pyNumber(-2.5), '-2.5');
  assert.equal(pyNumber(1e16), '1e+16');
  assert.equal(pyNumber(123456.789), '123456.789');
});

test('dicts unwrap to arguments like DVC (shlex quoting, store_true, nargs lists)', () => {
  // The example from DVC's "Dictionary unpacking" docs.
  const r = dictToArgs({ foo: 'foo', bar: 1, bool: true, off: false, nested: { baz: 'bar' }, list: [2, 3, 'qux'] });
  assert.deepEqual(r, { text: '--foo foo --bar 1 --bool --nested.baz bar --list 2 3 qux' });
  assert.deepEqual(dictToArgs({ name: 'a b', q: "it's" }), { text: `--name 'a b' --q 'it'"'"'s'` });
  assert.deepEqual(dictToArgs({ l: [[1]] }), { error: "cannot unwrap nested list in 'l' into command arguments" });
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote('data/x.csv'), 'data/x.csv');
});

test('expressions: dotted names and [i] indices', () => {
  assert.deepEqual(parseExpression('a.b[0].c'), ['a', 'b', 0, 'c']);
  assert.deepEqual(parseExpression(' item '), ['item']);
  assert.deepEqual(parseExpression('list[1][2]'), ['list', 1, 2]);
  assert.equal(parseExpression(''), undefined);
  assert.equal(parseExpression('a..b'), undefined);
  assert.equal(parseExpression('a.'), undefined);
  assert.equal(parseExpression('a[x]'), undefined);
  assert.equal(parseExpression('a b'), undefined);
});
