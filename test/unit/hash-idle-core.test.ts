/**
 * When a big walk or first hash takes a second core (src/hash/idle-core.ts): the rule as a pure function of
 * the cores, the tasks running now and the file count; the kernel's count read from /proc/loadavg's text;
 * and LOCKSTEP_WALK_THREADS deciding the machine's part (never the file count's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARALLEL_MIN, runnableFromLoadavg, threadPays, wantThread } from '../../src/hash/idle-core.js';

const MANY = 120_017;

test('a thread pays when a core is idle now, whatever load earlier commands left in the average', () => {
  // Back-to-back commands hold the 1-minute average near 1.3 on two cores; the kernel still counts only
  // this command's thread running at the moment it decides.
  assert.equal(threadPays(2, 1, MANY), true);
  assert.equal(threadPays(2, 2, MANY), false, 'another task holds the second core');
  assert.equal(threadPays(2, 5, MANY), false);
  assert.equal(threadPays(8, 7, MANY), true, 'one of eight idle');
  assert.equal(threadPays(8, 8, MANY), false);
});

test('no thread with one core, nor for fewer files than pay for its start-up', () => {
  assert.equal(threadPays(1, 1, MANY), false);
  assert.equal(threadPays(2, 1, PARALLEL_MIN - 1), false);
  assert.equal(threadPays(2, 1, PARALLEL_MIN), true);
});

test('without /proc the 1-minute load average plus this thread decides as the old rule did (load < cores - 1)', () => {
  assert.equal(threadPays(2, 0.9 + 1, MANY), true);
  assert.equal(threadPays(2, 1.0 + 1, MANY), false);
  assert.equal(threadPays(4, 2.5 + 1, MANY), true);
  assert.equal(threadPays(4, 3 + 1, MANY), false);
});

test("the running count is /proc/loadavg's fourth field before the slash; anything else is not read as one", () => {
  assert.equal(runnableFromLoadavg('1.31 1.12 0.98 1/115 14250\n'), 1);
  assert.equal(runnableFromLoadavg('10.29 5.86 4.60 12/512 99\n'), 12);
  // this process's own running threads (a V8 helper beside the reading one) count as one task
  assert.equal(runnableFromLoadavg('0.31 0.12 0.08 3/115 14250\n', 3), 1);
  assert.equal(runnableFromLoadavg('0.31 0.12 0.08 3/115 14250\n', 2), 2);
  assert.equal(runnableFromLoadavg('0.31 0.12 0.08 1/115 14250\n', 2), 1, 'never below this process');
  assert.equal(runnableFromLoadavg(''), undefined);
  assert.equal(runnableFromLoadavg('1.31 1.12 0.98\n'), undefined);
  assert.equal(runnableFromLoadavg('1.31 1.12 0.98 x/115 1\n'), undefined);
});

test('LOCKSTEP_WALK_THREADS forces the machine part either way, never a thread for a small walk', () => {
  const before = process.env.LOCKSTEP_WALK_THREADS;
  try {
    process.env.LOCKSTEP_WALK_THREADS = '1';
    assert.equal(wantThread(MANY), true);
    assert.equal(wantThread(PARALLEL_MIN - 1), false);
    process.env.LOCKSTEP_WALK_THREADS = '0';
    assert.equal(wantThread(MANY), false);
  } finally {
    if (before === undefined) delete process.env.LOCKSTEP_WALK_THREADS;
    else process.env.LOCKSTEP_WALK_THREADS = before;
  }
});
