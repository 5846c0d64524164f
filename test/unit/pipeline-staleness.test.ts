import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StageDef } from '../../src/config/types.js';
import { asMd5 } from '../../src/hash/types.js';
import { parseLockFile, serializeLockFile } from '../../src/pipeline/lockfile.js';
import { runCacheKey } from '../../src/pipeline/run-cache.js';
import { describeReason, staleReasons, type ObservedStage } from '../../src/pipeline/staleness.js';

const stage: StageDef = {
  name: 'train',
  cmd: ['python train.py'],
  wdir: '.',
  deps: [{ path: 'data' }],
  params: [{ file: 'params.yaml', keys: ['train.lr'] }],
  outs: [
    { path: 'model', kind: 'outs', cache: true, persist: false, push: true },
    { path: 'ckpt', kind: 'outs', cache: false, persist: true, push: true },
  ],
  frozen: false,
  alwaysChanged: false,
  pos: { file: 'pipeline.yaml', line: 2, col: 3 },
};
const info = (md5: string) => ({ md5: asMd5(md5), size: 1 });
const observed = (o: Partial<ObservedStage> = {}): ObservedStage => ({
  params: { 'params.yaml': { 'train.lr': 0.001 } },
  deps: new Map([['data', info('d1.dir')]]),
  outs: new Map([
    ['model', info('m1')],
    ['ckpt', null],
  ]),
  ...o,
});
const locked = {
  cmd: 'python train.py',
  deps: [{ path: 'data', hash: 'md5' as const, md5: asMd5('d1.dir'), size: 1 }],
  params: { 'params.yaml': { 'train.lr': 0.001 } },
  outs: [{ path: 'model', hash: 'md5' as const, md5: asMd5('m1'), size: 1 }],
};

test('fresh when everything matches; an auxiliary (persist, uncached) output never makes a stage stale', () => {
  assert.deepEqual(staleReasons(stage, locked, observed()), []);
});

test('each kind of change is reported, cheapest first, in words status prints', () => {
  assert.deepEqual(staleReasons(stage, undefined, observed()), [{ kind: 'never-run' }]);
  const reasons = staleReasons(
    { ...stage, cmd: ['python train2.py'] },
    locked,
    observed({
      params: { 'params.yaml': { 'train.lr': 0.01 } },
      deps: new Map([['data', info('d2.dir')]]),
      outs: new Map([['model', null]]),
    }),
  );
  assert.deepEqual(reasons.map(describeReason), [
    'command changed',
    'params changed: train.lr 0.001 -> 0.01',
    'deps changed: data',
    'outs missing: model',
  ]);
  assert.deepEqual(staleReasons({ ...stage, alwaysChanged: true }, locked, observed()).map(describeReason), [
    'always changed',
  ]);
});

test('param values compare by content, not key order', () => {
  const a = { ...locked, params: { 'params.yaml': { 'train.lr': { a: 1, b: [1, 2] } } } };
  const o = observed({ params: { 'params.yaml': { 'train.lr': { b: [1, 2], a: 1 } } } });
  assert.deepEqual(staleReasons(stage, a, o), []);
});

test('lock file round-trips in dvc.lock layout with stable order', () => {
  const text = serializeLockFile(
    {
      schema: '2.0',
      stages: {
        z: {
          cmd: 'b',
          outs: [
            { path: 'y', hash: 'md5', md5: asMd5('2'), size: 2 },
            { path: 'x', hash: 'md5', md5: asMd5('1'), size: 1, nfiles: 3 },
          ],
        },
        a: { cmd: ['p', 'q'] },
      },
    },
    ['z', 'a'],
  );
  assert.equal(
    text,
    // ruamel's layout, as dvc.lock: indentless lists
    "schema: '2.0'\nstages:\n  z:\n    cmd: b\n    outs:\n    - path: x\n      hash: md5\n      md5: '1'\n" +
      '      size: ' +
      "1\n      nfiles: 3\n    - path: y\n      hash: md5\n      md5: '2'\n      size: 2\n  a:\n    cmd:\n" +
      '    - p\n   ' +
      ' - q\n',
  );
  const valid = text.replace("md5: '1'", `md5: ${'1'.repeat(32)}.dir`).replace("md5: '2'", `md5: ${'f'.repeat(32)}`);
  assert.deepEqual(parseLockFile(valid, 'pipeline.lock').stages.z!.outs![0]!.nfiles, 3);
  // the md5 becomes a path in the cache: one that is not a hash is refused when the lock is read
  assert.throws(
    () => parseLockFile(text, 'pipeline.lock'),
    /^LockstepError: pipeline\.lock: stage 'z' outs\[0\] \('x'\): md5 '1' is not an md5 hash$/,
  );
  assert.throws(
    () => parseLockFile(valid.replace(`${'f'.repeat(32)}`, '../../../etc/passwd'), 'dvc.lock'),
    /stage 'z' outs\[1\] \('y'\): md5 '..\/..\/..\/etc\/passwd' is not an md5 hash/,
  );
  assert.throws(() => parseLockFile('schema: [', 'pipeline.lock'), /^LockstepError: pipeline\.lock:1:\d+: /);
});

test('the run-cache key covers cmd, dep hashes and params, and ignores dep order', () => {
  const d = [
    { path: 'a', hash: 'md5' as const, md5: asMd5('1'), size: 1 },
    { path: 'b', hash: 'md5' as const, md5: asMd5('2'), size: 1 },
  ];
  const k = runCacheKey('cmd', d, { 'params.yaml': { x: 1 } });
  assert.equal(k, runCacheKey('cmd', [d[1]!, d[0]!], { 'params.yaml': { x: 1 } }));
  assert.notEqual(k, runCacheKey('cmd2', d, { 'params.yaml': { x: 1 } }));
  assert.notEqual(k, runCacheKey('cmd', [d[0]!, { ...d[1]!, md5: asMd5('3') }], { 'params.yaml': { x: 1 } }));
  assert.notEqual(k, runCacheKey('cmd', d, { 'params.yaml': { x: 2 } }));
});
