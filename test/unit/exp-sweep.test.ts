import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LockstepError } from '../../src/errors.js';
import { describeAssignments, expandSweep, parseSetArg, shorthandOverrides, splitList } from '../../src/exp/sweep.js';
import { EXP_SHORTHANDS } from '../../src/product/index.js';
import { assertValidName, generateName, planNames, refNameProblem } from '../../src/exp/names.js';
import { applyAssignments, closestKeys, flattenParams } from '../../src/exp/params-edit.js';

const usage = (fn: () => unknown, message: string | RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LockstepError);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });

test('seed x data shorthands expand to the cartesian product, seed outermost', () => {
  const combos = expandSweep(
    shorthandOverrides({ seed: '42,100,2025', data: 'v1,v2,v3,v1+v2,v1+v2+v3' }, EXP_SHORTHANDS),
  );
  assert.equal(combos.length, 15);
  assert.equal(describeAssignments(combos[0]!), 'seed=42 data=v1');
  assert.equal(describeAssignments(combos[4]!), 'seed=42 data=v1+v2+v3');
  assert.equal(describeAssignments(combos[5]!), 'seed=100 data=v1');
  assert.equal(describeAssignments(combos[14]!), 'seed=2025 data=v1+v2+v3');
  assert.equal(typeof combos[0]![0]!.value, 'number');
  assert.equal(new Set(combos.map((c) => describeAssignments(c))).size, 15);
});

test('no overrides is one experiment with the current params; duplicates collapse', () => {
  assert.deepEqual(expandSweep([]), [[]]);
  assert.equal(expandSweep(shorthandOverrides({ seed: '1,1,2' }, EXP_SHORTHANDS)).length, 2);
});

test('-S parses files, dotted keys, typed values and comma lists', () => {
  assert.deepEqual(parseSetArg('train.lr=0.1,0.01'), {
    file: null,
    key: 'train.lr',
    values: [0.1, 0.01],
    source: '-S train.lr=0.1,0.01',
  });
  const o = parseSetArg('conf/train.yaml:model.name=cnn');
  assert.equal(o.file, 'conf/train.yaml');
  assert.deepEqual(o.values, ['cnn']);
  assert.deepEqual(parseSetArg('layers=[1,2],[3]').values, [[1, 2], [3]]);
  assert.deepEqual(parseSetArg('flag=true').values, [true]);
  const combos = expandSweep([parseSetArg('a=1,2'), parseSetArg('other.json:b=x')]);
  assert.deepEqual(
    combos.map((c) => c.map((a) => `${a.file}:${a.key}=${String(a.value)}`)),
    [
      ['params.yaml:a=1', 'other.json:b=x'],
      ['params.yaml:a=2', 'other.json:b=x'],
    ],
  );
});

test('splitList keeps brackets and quotes whole', () => {
  assert.deepEqual(splitList('a,"b,c",[1,2],{x: 1, y: 2}'), ['a', '"b,c"', '[1,2]', '{x: 1, y: 2}']);
});

test('malformed -S, --seed and --data fail with one-line usage errors', () => {
  usage(() => parseSetArg('seed'), 'malformed -S seed: expected key=value');
  usage(() => parseSetArg('=3'), 'malformed -S =3: expected key=value');
  usage(() => parseSetArg('seed='), "malformed -S seed=: no value after '='");
  usage(() => parseSetArg('se ed=1'), "malformed -S se ed=1: 'se ed' is not a dotted param key");
  usage(
    () => parseSetArg('notes.txt:a=1'),
    "malformed -S notes.txt:a=1: 'notes.txt' is not a params file (.yaml, .yml, .json or .toml)",
  );
  usage(() => parseSetArg('a=1,,2'), "malformed -S a=1,,2: empty value in '1,,2'");
  usage(() => shorthandOverrides({ seed: '4x' }, EXP_SHORTHANDS), "malformed --seed '4x': '4x' is not an integer");
  usage(
    () => shorthandOverrides({ data: 'v1++v2' }, EXP_SHORTHANDS),
    "malformed --data 'v1++v2': expected partitions joined by '+', e.g. v1 or v1+v2",
  );
  usage(
    () => shorthandOverrides({ data: 'v1+v1' }, EXP_SHORTHANDS),
    "malformed --data 'v1+v1': partition 'v1' appears twice",
  );
});

test('generated names are adjective-noun, unique, valid refs', () => {
  let seed = 1;
  const rng = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const taken = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const n = generateName(taken, rng);
    assert.match(n, /^[a-z]+-[a-z]+(-\d+)?$/);
    assert.equal(refNameProblem(n), null);
    assert.ok(!taken.has(n));
    taken.add(n);
  }
  // a name generator stuck on one word pair still gives fresh names
  assert.equal(
    generateName(new Set(['agile-acorn']), () => 0),
    'agile-acorn-2',
  );
});

test('ref-name validation mirrors git check-ref-format for one component', () => {
  for (const bad of [
    '',
    'a/b',
    '.x',
    'x.',
    'x.lock',
    'a..b',
    'a b',
    'a~1',
    'a^',
    'a:b',
    'a?',
    'a*',
    'a[',
    'a\\b',
    'x@{1}',
    '@',
    '-x',
  ]) {
    assert.notEqual(refNameProblem(bad), null, bad);
  }
  for (const good of ['lr-sweep', 'run_1', 'v1+v2', 'a.b', 'Exp42']) assert.equal(refNameProblem(good), null, good);
  usage(() => assertValidName('a b'), `invalid experiment name 'a b': it contains " "`);
});

test('planNames: -n for one, -n-1..N for a sweep, taken names rejected', () => {
  assert.deepEqual(planNames(1, 'base', new Set()), ['base']);
  assert.deepEqual(planNames(3, 'lr', new Set()), ['lr-1', 'lr-2', 'lr-3']);
  usage(() => planNames(1, 'base', new Set(['base'])), "experiment name 'base' is already taken on this baseline");
  assert.equal(new Set(planNames(50, undefined, new Set())).size, 50);
});

test('YAML overrides keep comments and layout', () => {
  const text = '# knobs\nseed: 42 # the seed\ndata: v1\ntrain:\n  lr: 0.001 # tuned\n  epochs: 3\n';
  const outText = applyAssignments('params.yaml', text, [
    { file: 'params.yaml', key: 'seed', value: 7 },
    { file: 'params.yaml', key: 'train.lr', value: 0.1 },
    { file: 'params.yaml', key: 'data', value: 'v1+v2' },
  ]);
  assert.equal(outText, '# knobs\nseed: 7 # the seed\ndata: v1+v2\ntrain:\n  lr: 0.1 # tuned\n  epochs: 3\n');
});

test('JSON and TOML overrides', () => {
  assert.equal(
    applyAssignments('p.json', '{\n    "a": {"b": 1}\n}\n', [{ file: 'p.json', key: 'a.b', value: 2 }]),
    '{\n    "a": {\n        "b": 2\n    }\n}\n',
  );
  assert.match(
    applyAssignments('p.toml', 'lr = 0.1\n[model]\nname = "x"\n', [{ file: 'p.toml', key: 'model.name', value: 'y' }]),
    /name = "y"/,
  );
});

test('unknown keys list the valid ones, closest first', () => {
  const text = 'seed: 1\ndata: v1\ntrain:\n  lr: 0.1\n  epochs: 2\n';
  usage(
    () => applyAssignments('params.yaml', text, [{ file: 'params.yaml', key: 'sed', value: 1 }]),
    "params.yaml: unknown param 'sed'; valid keys: seed, data, train.lr, train.epochs",
  );
  usage(
    () => applyAssignments('params.yaml', text, [{ file: 'params.yaml', key: 'train.lrr', value: 1 }]),
    /^params.yaml: unknown param 'train.lrr'; valid keys: train.lr, /,
  );
  assert.equal(closestKeys('x', ['a', 'b', 'c'], 2), 'a, b, … (1 more)');
});

test('flattenParams: dotted leaves, lists are leaves', () => {
  assert.deepEqual(flattenParams({ a: { b: 1, c: [1, 2] }, d: 'x' }), { 'a.b': 1, 'a.c': [1, 2], d: 'x' });
});

test('declared choices reject unknown values and repeated parts before anything runs', async () => {
  const { checkChoices } = await import('../../src/exp/exp-config.js');
  const choices = {
    'params.yaml:data': { values: ['v1', 'v2', 'v3'], join: '+' },
    'params.yaml:train.model': { values: ['seed', 'bn'] },
  };
  const combos = expandSweep(shorthandOverrides({ seed: '1', data: 'v1,v1+v2+v3' }, EXP_SHORTHANDS));
  for (const c of combos) checkChoices(c, choices);
  usage(
    () => checkChoices(expandSweep(shorthandOverrides({ data: 'v1+v4' }, EXP_SHORTHANDS))[0]!, choices),
    "invalid value 'v1+v4' for data: 'v4' is not one of v1, v2, v3 (joined by '+')",
  );
  usage(
    () => checkChoices([{ file: 'params.yaml', key: 'train.model', value: 'big' }], choices),
    "invalid value 'big' for train.model: 'big' is not one of seed, bn",
  );
  checkChoices([{ file: 'other.yaml', key: 'data', value: 'v9' }], choices); // another file's key is not declared
});
