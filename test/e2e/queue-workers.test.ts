/**
 * A sweep across machines: a real Redis, a bare git repository as the git remote, a folder as the
 * lockstep remote, and workers in separate clones (as separate machines have), started as real
 * `lockstep worker` processes. Checks the shared stage runs once across workers, a clone that is
 * behind fetches the baseline, a worker killed with -9 mid-job leaves the job to another (exactly one
 * record in the end), a failing training is recorded as failed and not retried, and a Redis restart
 * mid-sweep does not stop it.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { runCli } from '../helpers/project.js';
import { REDIS_BIN } from '../helpers/redis.js';
import { queueSite } from './queue-fixture.js';
import { testRig } from '../helpers/rig.js';
import { waitDead, waitFor } from '../helpers/wait.js';

interface QueuedJob {
  spec: { name: string; kind?: string };
  state: string;
  worker?: string;
  progress?: string;
  attempts: number;
  outcome?: string;
}

const PIPELINE = (counts: string, hold: string) => `stages:
  shared:
    cmd: echo x >> ${counts}/shared && mkdir -p data && cat input.txt > data/base.txt
    deps: [input.txt]
    outs: [data/base.txt]
  train:
    cmd: |
      s=$(sed -n 's/^seed: *\\([^ #]*\\).*/\\1/p' params.yaml)
      echo "$s" >> ${counts}/train
      if [ "$s" = 13 ]; then echo "loss is NaN" >&2; exit 1; fi
      if [ "$s" = 7 ]; then ${hold}; fi
      mkdir -p metrics
      echo "{\\"acc\\": 0.$s}" > metrics/eval.json
    deps: [data/base.txt]
    params: [seed]
    metrics: [metrics/eval.json]
`;

test(`a sweep on BullMQ/Redis across two worker clones: shared stage once, kill -9, failure, Redis restart, exactly \
one record each`, {
  skip: REDIS_BIN ? false : 'redis-server is not installed (apt-get install redis-server)',
  timeout: 300_000,
}, async () => {
  // sweep-1 (seed 7) holds in its train stage, with a child process, until the test releases it
  const rig = await testRig();
  const { redis, counts, bare, env, p, clone, startWorker, logs } = await queueSite(
    'lockstep-queue-e2e-',
    (counts) => ({
      'pipeline.yaml': PIPELINE(counts, rig.command('seven', { child: true })),
      'params.yaml': 'seed: 1\n',
      'input.txt': 'hello\n',
      '.gitignore': '.cache/\n/data/\n/metrics/\n.lockstep/tmp/\n',
    }),
    { LOCKSTEP_QUEUE_LOCK_MS: '2000' },
  );
  const wA = await clone('worker-a');
  const wB = await clone('worker-b'); // cloned before the next commit: it is behind and must fetch

  // A new baseline, pushed: the queue refuses a baseline the remote lacks, so check that first.
  await p.write('input.txt', 'hello again\n');
  await p.git('commit', '-qam', 'new input');
  const unpushed = await p.run(['exp', 'run', '--queue', '--seed', '1'], { env });
  assert.equal(unpushed.exitCode, 1, unpushed.all);
  assert.match(
    unpushed.stderr,
    /^lockstep: the baseline [0-9a-f]{7} is not on 'origin', so workers could not check it out\. Push it first/m,
  );
  await p.git('push', '-q', 'origin', 'main');

  const q = await p.run(['exp', 'run', '--queue', '--seed', '7,2,3,13', '-n', 'sweep'], { env });
  assert.equal(q.exitCode, 0, q.all);
  assert.match(q.stderr, /Queued 4 experiments and 1 warm-up job for shared stages/);
  const list = async (): Promise<QueuedJob[]> => {
    const r = await runCli(p.dir, ['exp', 'queue', 'list', '--json'], { env });
    assert.equal(r.exitCode, 0, r.all);
    return JSON.parse(r.stdout) as QueuedJob[];
  };
  assert.deepEqual((await list()).map((j) => [j.spec.name, j.state]).sort(), [
    ['sweep-1', 'waiting'],
    ['sweep-1.warmup', 'waiting'],
    ['sweep-2', 'waiting'],
    ['sweep-3', 'waiting'],
    ['sweep-4', 'waiting'],
  ]);

  const a = startWorker(wA, 'worker-a');

  // worker-a takes the warm-up, then sweep-1 (seed 7), which holds: kill it with -9 mid-job.
  const held = await rig.started('seven', 1, 120_000);
  // its progress names the stage it runs (what exp show and exp queue list show)
  await waitFor(
    async () =>
      (await list()).find(
        (j) => j.spec.name === 'sweep-1' && j.state === 'active' && j.worker === 'worker-a' && j.progress === 'train',
      ),
    { what: 'worker-a running sweep-1 in its train stage', timeoutMs: 120_000, everyMs: 200 },
  );
  assert.equal(a.exitCode, null, `worker-a stopped by itself:\n${logs()}`);
  const exited = new Promise((r) => a.once('exit', r));
  process.kill(-a.pid!, 'SIGKILL');
  await exited;
  await waitDead([held.pid, held.childPid!], "the killed worker's stage tree");
  await rig.release('seven');
  await redis.restart(); // mid-sweep: the worker must reconnect

  const b = startWorker(wB, 'worker-b');
  const bExit = new Promise<number | null>((r) => b.once('exit', (code) => r(code)));
  // The deadline timer is cleared once the worker exits: left pending, it held the test process ~150 s.
  let deadline: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    bExit,
    new Promise((r) => {
      deadline = setTimeout(() => r('timeout'), 150_000);
    }),
  ]).finally(() => clearTimeout(deadline));
  assert.equal(code, 0, `worker-b: ${code}\n${logs()}\n${JSON.stringify(await list(), null, 1)}`);

  const final = await list();
  const byName = new Map(final.map((j) => [j.spec.name, j]));
  assert.equal(byName.get('sweep-1')?.state, 'completed');
  assert.equal(byName.get('sweep-1')?.attempts, 2, 'retried once after the kill');
  assert.equal(byName.get('sweep-1')?.worker, 'worker-b');
  assert.equal(byName.get('sweep-4')?.state, 'failed', 'seed 13 fails its training');
  assert.equal(byName.get('sweep-4')?.attempts, 1, 'a failed training is not retried');

  // Exactly one record per experiment on the git remote, failed one included.
  const refs = (await execa('git', ['ls-remote', bare, 'refs/exps/*'])).stdout.trim().split('\n');
  assert.deepEqual(refs.map((l) => l.split('/').at(-1)).sort(), ['sweep-1', 'sweep-2', 'sweep-3', 'sweep-4']);
  const shared = (await fs.readFile(path.join(counts, 'shared'), 'utf8')).trim().split('\n');
  assert.equal(shared.length, 1, 'the shared stage ran once across both workers');

  // The author pulls the records and their outputs: exp show has them, with metrics.
  assert.equal((await p.run(['exp', 'pull', 'origin', '--all'], { env })).exitCode, 0);
  const shown = JSON.parse((await p.run(['exp', 'show', '--json'], { env })).stdout) as Array<{
    name: string;
    state: string;
    metrics: Record<string, Record<string, number>>;
  }>;
  const states = Object.fromEntries(shown.filter((e) => e.name.startsWith('sweep')).map((e) => [e.name, e.state]));
  assert.deepEqual(states, { 'sweep-1': 'success', 'sweep-2': 'success', 'sweep-3': 'success', 'sweep-4': 'failed' });
  assert.match(
    (await runCli(p.dir, ['exp', 'queue', 'logs', 'sweep-4'], { env })).stdout,
    /loss is NaN/,
    "the failed job's log holds the stage's error",
  );
});
