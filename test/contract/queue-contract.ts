/**
 * What every queue backend must do (BullMQ on Redis, the embedded local queue): one suite, run by each
 * backend's three-line test file with a factory that opens a fresh, empty queue.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { JobOutcome, JobSpec, QueueBackend } from '../../src/queue/types.js';
import { waitFor } from '../helpers/wait.js';

/** Open a handle on the queue named `place` (a folder, a key prefix): the same place, the same queue. */
export type OpenQueue = (place: string) => Promise<QueueBackend>;

let n = 0;
const spec = (name: string, extra: Partial<JobSpec> = {}): JobSpec => ({
  id: randomUUID(),
  name,
  baseline: 'a'.repeat(40),
  assignments: [{ file: 'params.yaml', key: 'seed', value: n++ }],
  gitRemote: 'origin',
  created: new Date(Date.now() + n).toISOString(),
  ...extra,
});

export function queueContract(kind: string, open: OpenQueue): void {
  test(`queue contract (${kind}): jobs wait in order, two workers run each exactly once, failures are \
final`, async () => {
    const place = randomUUID();
    const q = await open(place);
    const w1 = await open(place);
    const w2 = await open(place);
    try {
      const jobs = [spec('a'), spec('b'), spec('c'), spec('d'), spec('bad')];
      await q.add(jobs);
      assert.deepEqual(
        (await q.list()).map((j) => [j.spec.name, j.state]),
        jobs.map((j) => [j.name, 'waiting']),
      );
      const ran: string[] = [];
      const handler =
        (worker: string) =>
        async (s: JobSpec): Promise<JobOutcome> => {
          ran.push(`${s.name}@${worker}`);
          await new Promise((r) => setTimeout(r, 30));
          return s.name === 'bad'
            ? { state: 'failed', error: 'loss was NaN' }
            : { state: 'success', sha: 'f'.repeat(40) };
        };
      const ctl = new AbortController();
      await Promise.all([
        w1.work({ name: 'w1', concurrency: 1, signal: ctl.signal, handler: handler('w1'), untilEmpty: true }),
        w2.work({ name: 'w2', concurrency: 2, signal: ctl.signal, handler: handler('w2'), untilEmpty: true }),
      ]);
      assert.deepEqual(ran.map((r) => r.split('@')[0]).sort(), ['a', 'b', 'bad', 'c', 'd'], `${ran}`);
      const final = await q.list();
      assert.deepEqual(
        final.map((j) => [j.spec.name, j.state, j.attempts]),
        [
          ['a', 'completed', 1],
          ['b', 'completed', 1],
          ['c', 'completed', 1],
          ['d', 'completed', 1],
          ['bad', 'failed', 1],
        ],
      );
      const bad = final.find((j) => j.spec.name === 'bad')!;
      assert.match(bad.error ?? '', /loss was NaN/);
      assert.ok(['w1', 'w2'].includes(bad.worker ?? ''), `worker recorded: ${bad.worker}`);
    } finally {
      for (const x of [q, w1, w2]) await x.close();
    }
  });

  test(`queue contract (${kind}): logs and progress, kill stops a running job, remove and clear leave running \
jobs`, async () => {
    const place = randomUUID();
    const q = await open(place);
    const w = await open(place);
    try {
      const long = spec('long');
      const waiting = spec('waiting');
      await q.add([long]);
      const ctl = new AbortController();
      let sawAbort = false;
      const working = w.work({
        name: 'w',
        concurrency: 1,
        signal: ctl.signal,
        handler: async (s, ctx) => {
          await ctx.log(`started ${s.name}`);
          await ctx.progress('epoch 1/3');
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
          sawAbort = true;
          return { state: 'failed', error: 'cancelled' };
        },
      });
      await waitFor(async () => (await q.list()).some((j) => j.state === 'active' && j.progress === 'epoch 1/3'), {
        what: 'the long job to report epoch 1/3',
      });
      await q.add([waiting]);
      assert.equal(await q.remove(long.id), false, 'a running job is not removed');
      assert.equal(await q.kill(waiting.id), false, 'a waiting job is not running');
      assert.equal(await q.clear(), 1, 'clear removes the waiting job only');
      assert.match(await q.logs(long.id), /started long/);
      assert.equal(await q.kill(long.id), true);
      await waitFor(async () => (await q.list()).some((j) => j.spec.name === 'long' && j.state === 'failed'), {
        what: 'the killed job to fail',
      });
      assert.ok(sawAbort, 'the handler saw the abort');
      ctl.abort();
      await working;
      assert.equal(await q.remove(long.id), true);
      assert.deepEqual(await q.list(), []);
    } finally {
      await q.close();
      await w.close();
    }
  });
}
