/** The embedded queue (no queue.url): the same commands on one machine, with no server. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { CLI, tempProject } from '../helpers/project.js';
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

/** Whether a process runs (a zombie, dead but not reaped yet, does not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('a worker killed with -9 during a warm-up leaves nothing running (the warm-up repro is supervised); the next worker finishes the sweep', async () => {
  const counts = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-queue-kill-'));
  const hold = path.join(counts, 'hold');
  after(() => fs.rm(counts, { recursive: true, force: true }));
  await fs.writeFile(hold, '');
  const p = await tempProject({
    'pipeline.yaml': `stages:
  upstream:
    cmd: echo $$ >> ${counts}/upstream && while [ -f ${hold} ]; do sleep 0.1; done && mkdir -p data && cat input.txt > data/base.txt
    deps: [input.txt]
    outs: [data/base.txt]
  train:
    cmd: echo x >> ${counts}/train && mkdir -p metrics && echo '{"acc":1}' > metrics/eval.json
    deps: [data/base.txt]
    params: [seed]
    metrics: [metrics/eval.json]
`,
    'params.yaml': 'seed: 1\n',
    'input.txt': 'hello\n',
    '.gitignore': '.cache/\n/data/\n/metrics/\n',
  });
  const q = await p.run(['exp', 'run', '--queue', '--seed', '1,2', '-n', 'k']);
  assert.equal(q.exitCode, 0, q.all);
  const worker = spawn(process.execPath, [CLI, 'worker', '--until-empty', '--name', 'doomed'], {
    cwd: p.dir,
    stdio: 'ignore',
  });
  after(() => {
    if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  });
  const pids = async () =>
    (await fs.readFile(path.join(counts, 'upstream'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
  for (let i = 0; i < 600 && (await pids()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const [stagePid] = await pids();
  assert.ok(stagePid && running(stagePid), 'the warm-up is running its shared stage');
  const exited = new Promise((r) => worker.once('exit', r));
  worker.kill('SIGKILL'); // the worker alone, not its process group: its supervised children must follow
  await exited;
  for (let i = 0; i < 100 && running(stagePid); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(running(stagePid), false, "the warm-up's stage outlived the killed worker");

  await fs.rm(hold);
  const w = await p.run(['worker', '--until-empty', '--name', 'next']);
  assert.equal(w.exitCode, 0, w.all);
  assert.equal((await pids()).length, 2, 'the shared stage ran again (it never finished), once');
  assert.deepEqual((await showJson(p)).map((r) => [r.name, r.state]).sort(), [
    ['k-1', 'success'],
    ['k-2', 'success'],
  ]);
});
