import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkPlanner } from '../../src/cache/link.js';
import type { LinkType } from '../../src/cache/types.js';
import { LockstepError } from '../../src/errors.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

test('falls through unsupported link types once, then sticks with the one that worked', () => {
  const planner = new LinkPlanner(['reflink', 'hardlink', 'copy']);
  const tried: LinkType[] = [];
  const attempt = (type: LinkType): LinkType => {
    tried.push(type);
    if (type === 'reflink') throw errno('EOPNOTSUPP');
    if (type === 'hardlink') throw errno('EXDEV');
    return type;
  };
  assert.equal(planner.run(attempt), 'copy');
  assert.equal(planner.run(attempt), 'copy');
  assert.deepEqual(tried, ['reflink', 'hardlink', 'copy', 'copy']);
  assert.equal(planner.current, 'copy');
});

test('real failures (not "unsupported here") are thrown as they are', () => {
  const planner = new LinkPlanner(['hardlink', 'copy']);
  assert.throws(
    () =>
      planner.run(() => {
        throw errno('ENOSPC');
      }),
    (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOSPC',
  );
  assert.equal(planner.current, 'hardlink');
});

test('when the last type is unsupported too, the failure is a config error naming cache.type', () => {
  const planner = new LinkPlanner(['reflink', 'hardlink']);
  assert.throws(
    () =>
      planner.run(() => {
        throw errno('EXDEV');
      }),
    (e: unknown) =>
      e instanceof LockstepError &&
      e.reason === 'config' &&
      e.message ===
        'no configured cache link type works here (cache.type reflink,hardlink; hardlink failed with EXDEV)',
  );
});

test('an empty list means copy', () => {
  assert.equal(new LinkPlanner([]).current, 'copy');
});
