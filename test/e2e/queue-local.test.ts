/** The embedded queue (no queue.url): the same commands on one machine, with no server. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setup, showJson } from './exp-fixture.js';

test('exp run --queue with no queue configured: jobs wait in the local queue, exp show lists them, a worker runs them', async () => {
  const { p, count } = await setup();
  const q = await p.run(['exp', 'run', '--queue', '--seed', '1,2', '-n', 'local']);
  assert.equal(q.exitCode, 0, q.all);
  assert.match(
    q.stderr,
    /^Queued 2 experiments and 1 warm-up job for shared stages from [0-9a-f]{7} on local queue \S+lockstep-queue: local-1, local-2\./m,
  );
  const shown = await p.run(['exp', 'show']);
  assert.match(
    shown.stdout,
    /Queued experiments \(lockstep exp queue list\):\n {2}local-1 {2}waiting {2}seed=1\n {2}local-2 {2}waiting {2}seed=2/,
  );
  assert.equal(await count('train'), 0, 'nothing ran yet');

  const w = await p.run(['worker', '--until-empty', '--name', 'here']);
  assert.equal(w.exitCode, 0, w.all);
  assert.equal(await count('upstream'), 1, 'the shared stage ran once');
  assert.equal(await count('train'), 2);
  const records = await showJson(p);
  assert.deepEqual(records.map((r) => [r.name, r.state]).sort(), [
    ['local-1', 'success'],
    ['local-2', 'success'],
  ]);
  assert.doesNotMatch(
    (await p.run(['exp', 'show'])).stdout,
    /Queued experiments/,
    'finished jobs are rows of the table',
  );
  const status = await p.run(['exp', 'queue', 'status']);
  assert.equal(status.stdout.trim(), '0 waiting, 0 running, 3 finished, 0 failed');
  const bad = await p.run(['exp', 'queue', 'kill', 'nope']);
  assert.equal(bad.exitCode, 2);
  assert.match(
    bad.stderr,
    /^lockstep: no queued experiment named 'nope'\. See them with `lockstep exp queue list`\.$/m,
  );
});
