import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asMd5, type Md5 } from '../../src/hash/types.js';
import { chooseExistenceStrategy, estimateRemoteSize, filesToQuery, planPush } from '../../src/remote/plan.js';
import { backoffDelay, classifyFault, DEFAULT_RETRY, errorText, withRetry } from '../../src/remote/faults.js';
import { md5FromKey, objectKey } from '../../src/remote/keys.js';
import { selectOutputs, flagKey } from '../../src/remote/objects.js';
import { LockstepError } from '../../src/errors.js';
import { reconnectFailure } from '../../src/remote/ssh.js';

const h = (c: string, dir = false): Md5 => asMd5(c.repeat(32) + (dir ? '.dir' : ''));

test('object keys follow DVC 3 remote layout and parse back', () => {
  assert.equal(objectKey(asMd5('0123456789abcdef0123456789abcdef')), 'files/md5/01/23456789abcdef0123456789abcdef');
  assert.equal(
    objectKey(asMd5('0123456789abcdef0123456789abcdef.dir')),
    'files/md5/01/23456789abcdef0123456789abcdef.dir',
  );
  assert.equal(md5FromKey('files/md5/01/23456789abcdef0123456789abcdef.dir'), '0123456789abcdef0123456789abcdef.dir');
  assert.equal(md5FromKey('files/md5/01/.23456789abcdef0123456789abcdef.123.tmp'), null);
  assert.equal(md5FromKey('runs/ab/cd'), null);
});

test('existence strategy: ask per object for few objects on a big remote, list otherwise (DVC weights)', () => {
  assert.equal(chooseExistenceStrategy(1, 10), 'exists');
  // an empty remote is estimated at 4096 keys: listing it (5 pages) beats asking 60,000 times
  assert.equal(estimateRemoteSize(0), 4096);
  assert.equal(chooseExistenceStrategy(60_000, estimateRemoteSize(0)), 'list');
  assert.equal(chooseExistenceStrategy(3, estimateRemoteSize(0)), 'exists');
  // 60k objects on the remote: 60 pages; 100 questions cost more than 60 pages
  assert.equal(chooseExistenceStrategy(50, 60_000), 'exists');
  assert.equal(chooseExistenceStrategy(100, 60_000), 'list');
  // past 500k keys listing is weighted ×5: 1M keys = 1000 pages × 5
  assert.equal(chooseExistenceStrategy(4_000, 1_000_000), 'exists');
  assert.equal(chooseExistenceStrategy(6_000, 1_000_000), 'list');
});

test('planPush uploads only what the remote lacks, and a .dir only when all its files can be there', () => {
  const [a, b, c, d] = [h('a'), h('b'), h('c'), h('d')];
  const dir1 = h('1', true);
  const dir2 = h('2', true);
  const manifests = new Map<Md5, Md5[]>([
    [dir1, [a, b]],
    [dir2, [c, d]],
  ]);
  // remote has a; local lacks d: dir1 completes, dir2 cannot
  const plan = planPush([dir1, dir2, c], manifests, new Set([a]), new Set([d]));
  assert.deepEqual(plan.files.sort(), [b, c].sort());
  assert.deepEqual(plan.dirs, [dir1]);
  assert.equal(plan.upToDate, 1);
  // a .dir on the remote proves nothing about its files: a missing one is uploaded again
  const done = planPush([dir1], manifests, new Set([dir1, a, b]), new Set());
  assert.deepEqual(done, { files: [], dirs: [], upToDate: 3 });
  const holed = planPush([dir1], manifests, new Set([dir1, a]), new Set());
  assert.deepEqual(holed, { files: [b], dirs: [], upToDate: 2 });
  assert.deepEqual(filesToQuery([dir1, dir2, c], manifests).sort(), [dir1, dir2, a, b, c, d].sort());
});

test('faults: transient errors are retried with growing delays, auth and permission errors are not', async () => {
  assert.equal(classifyFault(Object.assign(new Error('x'), { code: 'ECONNRESET' })), 'transient');
  assert.equal(classifyFault({ name: 'InternalError', $metadata: { httpStatusCode: 500 } }), 'transient');
  assert.equal(classifyFault({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } }), 'auth');
  assert.equal(classifyFault({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }), 'permission');
  assert.equal(classifyFault(Object.assign(new Error('x'), { code: 'ENOSPC' })), 'full');
  assert.equal(
    classifyFault(
      Object.assign(new Error('All configured authentication methods failed'), { level: 'client-authentication' }),
    ),
    'auth',
  );
  assert.equal(classifyFault(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'unreachable');
  // after the same key was accepted in this run, a refusal on reconnect is a broken link (seen in CI), retried
  const spec = { host: 'h', port: 22, user: 'u', root: '/r', channels: 1, timeoutMs: 1000 };
  const refused = Object.assign(new Error('All configured authentication methods failed'), {
    level: 'client-authentication',
  });
  assert.equal(classifyFault(reconnectFailure(refused, spec)), 'transient');
  assert.match(reconnectFailure(refused, spec).message, /^connection to h:22 broke while reconnecting \(All config/);
  const reset = Object.assign(new Error('y'), { level: 'client-socket' });
  assert.equal(reconnectFailure(reset, spec), reset);
  assert.ok(backoffDelay(DEFAULT_RETRY, 3, () => 1) > backoffDelay(DEFAULT_RETRY, 1, () => 1));
  assert.ok(backoffDelay(DEFAULT_RETRY, 30, () => 1) <= DEFAULT_RETRY.maxDelayMs);

  const policy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 };
  let calls = 0;
  const value = await withRetry(async () => {
    if (++calls < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    return 'ok';
  }, policy);
  assert.equal(value, 'ok');
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls++;
      throw Object.assign(new Error('denied'), { code: 'EACCES' });
    }, policy),
    /denied/,
  );
  assert.equal(calls, 1);
});

test('selectOutputs filters by stage, skips uncached outs, carries push/remote flags, rejects unknown stages', () => {
  const lock = {
    schema: '2.0' as const,
    stages: {
      a: {
        cmd: 'x',
        outs: [{ path: 'd', hash: 'md5' as const, md5: asMd5(`${'a'.repeat(32)}.dir`), size: 10, nfiles: 2 }],
      },
      b: {
        cmd: 'y',
        outs: [
          { path: 'm', hash: 'md5' as const, md5: asMd5('b'.repeat(32)), size: 1 },
          { path: 'nocache', hash: 'md5' as const, md5: asMd5(''), size: 0 },
          // cache: false in the pipeline, though the lock records its md5 (a persist checkpoint)
          { path: 'ckpt', hash: 'md5' as const, md5: asMd5('c'.repeat(32)), size: 1 },
        ],
      },
    },
  };
  const flags = new Map([
    [flagKey('b', 'm'), { push: false, remote: 'other', cache: true }],
    [flagKey('b', 'ckpt'), { push: true, cache: false }],
  ]);
  assert.deepEqual(
    selectOutputs(lock, [], flags).map((o) => [o.stage, o.path, o.push, o.remote]),
    [
      ['a', 'd', true, undefined],
      ['b', 'm', false, 'other'],
    ],
  );
  assert.deepEqual(
    selectOutputs(lock, ['b'], flags).map((o) => o.path),
    ['m'],
  );
  assert.throws(
    () => selectOutputs(lock, ['zz'], flags),
    (e: unknown) => e instanceof LockstepError && e.reason === 'unknown-stage' && /stages: a, b/.test(e.message),
  );
});

test('errorText: the first line of a message; an S3 answer without a body says its HTTP status', () => {
  assert.equal(errorText(new Error('connect ECONNREFUSED 127.0.0.1:9\nmore')), 'connect ECONNREFUSED 127.0.0.1:9');
  assert.equal(
    errorText({ name: 'Unknown', message: 'UnknownError', $metadata: { httpStatusCode: 403 } }),
    'HTTP 403 Forbidden',
  );
  assert.equal(
    errorText({ name: 'NotFound', message: 'NotFound', $metadata: { httpStatusCode: 404 } }),
    'NotFound, HTTP 404 Not Found',
  );
  assert.equal(
    errorText({ name: 'AccessDenied', message: 'Access Denied.', $metadata: { httpStatusCode: 403 } }),
    'Access Denied',
  );
});
