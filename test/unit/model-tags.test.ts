import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PromoteRule } from '../../src/model/config.js';
import { parseRegistryConfig } from '../../src/model/config.js';
import { decide } from '../../src/model/decide.js';
import { nextVersion, parseTag, registryState, type TagRecord } from '../../src/model/tags.js';

test('GTO tag names parse into registry actions; other tags are left alone', () => {
  assert.deepEqual(parseTag('cnn@v0.1.0'), { kind: 'register', artifact: 'cnn', version: 'v0.1.0' });
  assert.deepEqual(parseTag('cnn#prod#3'), { kind: 'assign', artifact: 'cnn', stage: 'prod', counter: 3 });
  assert.deepEqual(parseTag('cnn#prod'), { kind: 'assign', artifact: 'cnn', stage: 'prod', counter: undefined });
  assert.deepEqual(parseTag('cnn#prod!#4'), { kind: 'unassign', artifact: 'cnn', stage: 'prod', counter: 4 });
  assert.deepEqual(parseTag('cnn@v0.1.0!'), {
    kind: 'deregister',
    artifact: 'cnn',
    version: 'v0.1.0',
    counter: undefined,
  });
  assert.deepEqual(parseTag('cnn@deprecated'), { kind: 'deprecate', artifact: 'cnn', counter: undefined });
  for (const other of ['v1.0.0', 'release-2', 'Cnn@v1.0.0', 'cnn@1.0', 'cnn#Prod#1', '-x@v1.0.0'])
    assert.equal(parseTag(other), null, other);
});

test('next versions bump minor by default, from v0.1.0', () => {
  assert.equal(nextVersion([]), 'v0.1.0');
  assert.equal(nextVersion(['v0.1.0', 'v0.10.0', 'v0.9.0']), 'v0.11.0');
  assert.equal(nextVersion(['v1.2.3'], 'patch'), 'v1.2.4');
  assert.equal(nextVersion(['v1.2.3'], 'major'), 'v2.0.0');
});

const rec = (tag: string, commit: string, created: string): TagRecord => ({ tag, commit, created, message: '' });

test('the registry state: the latest assignment by counter holds a stage; unassign and deregister clear it', () => {
  const tags = [
    rec('m@v0.1.0', 'c1', '2026-01-01T00:00:01Z'),
    rec('m#prod#1', 'c1', '2026-01-01T00:00:02Z'),
    rec('m@v0.2.0', 'c2', '2026-01-01T00:00:03Z'),
    rec('m#prod#2', 'c2', '2026-01-01T00:00:03Z'),
    rec('m#staging#3', 'c1', '2026-01-01T00:00:03Z'),
    rec('m#staging!#4', 'c1', '2026-01-01T00:00:04Z'),
    rec('other@v1.0.0', 'c9', '2026-01-01T00:00:05Z'),
    rec('v1.0.0', 'c9', '2026-01-01T00:00:05Z'),
  ];
  const state = registryState(tags);
  assert.deepEqual([...state.keys()].sort(), ['m', 'other']);
  const m = state.get('m')!;
  assert.deepEqual(m.stages, { prod: 'v0.2.0' });
  assert.equal(m.nextCounter, 5);
  assert.deepEqual(
    m.versions.map((v) => [v.version, v.stages]),
    [
      ['v0.2.0', ['prod']],
      ['v0.1.0', []],
    ],
  );
  const later = registryState([...tags, rec('m@v0.2.0!', 'c2', '2026-01-01T00:00:06Z')]).get('m')!;
  assert.deepEqual(later.stages, {});
  assert.equal(later.versions[0]!.deregistered, true);
});

const rule = (over: Partial<PromoteRule> = {}): PromoteRule => ({
  model: 'm',
  stage: 'prod',
  metricFile: 'metrics/eval.json',
  metricKey: 'accuracy',
  direction: 'max',
  minDelta: 0.002,
  sameTestSet: true,
  ...over,
});

test('the promotion rule: better by at least min_delta in the rule direction, float noise ignored', () => {
  assert.equal(decide(rule(), 0.9, null).promoted, true);
  assert.equal(decide(rule(), 0.902, 0.9).promoted, true, 'exactly min_delta better');
  assert.equal(decide(rule(), 0.9019, 0.9).promoted, false);
  assert.match(decide(rule(), 0.9019, 0.9).reason, /less than min_delta/);
  assert.equal(decide(rule(), 0.89, 0.9).promoted, false);
  assert.match(decide(rule(), 0.89, 0.9).reason, /^not better/);
  assert.equal(decide(rule({ direction: 'min', minDelta: 0 }), 0.2, 0.3).promoted, true);
  assert.equal(decide(rule({ direction: 'min', minDelta: 0 }), 0.3, 0.3).promoted, false, 'equal is not better');
});

test('registry config: models and promote are checked with one-line reasons', () => {
  const cfg = parseRegistryConfig([
    {
      file: '.lockstep/config.yaml',
      doc: {
        models: { 'cifar10-cnn': { path: 'models/model', data: 'data/raw', test_set: 'data/prepared/test.ids.tsv' } },
        promote: { model: 'cifar10-cnn', metric: 'metrics/eval.json:accuracy', min_delta: 0.002, evaluate: 'evaluate' },
      },
    },
  ]);
  assert.deepEqual(cfg.models['cifar10-cnn'], {
    name: 'cifar10-cnn',
    path: 'models/model',
    data: 'data/raw',
    testSet: 'data/prepared/test.ids.tsv',
  });
  assert.equal(cfg.promote?.stage, 'prod');
  assert.equal(cfg.promote?.metricKey, 'accuracy');
  assert.equal(cfg.promote?.direction, 'max');
  assert.throws(
    () => parseRegistryConfig([{ file: 'c.yaml', doc: { promote: { model: 'm', metric: 'eval.json' } } }]),
    /c.yaml: promote.metric 'eval.json' must be FILE:KEY/,
  );
  assert.throws(
    () => parseRegistryConfig([{ file: 'c.yaml', doc: { promote: { model: 'm', metric: 'a:b', direction: 'up' } } }]),
    /promote.direction must be max or min/,
  );
  assert.throws(() => parseRegistryConfig([{ file: 'c.yaml', doc: { models: { Bad: {} } } }]), /model name 'Bad'/);
});
