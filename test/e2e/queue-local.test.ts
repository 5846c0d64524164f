/** The embedded queue (no queue.url): the same commands on one machine, with no server. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { after, test } from 'node:test';
import { CLI, tempProject } from '../helpers/project.js';
import { testRig } from '../helpers/rig.js';
import { tempDir } from '../helpers/tmp.js';
import { alive, waitDead } from '../helpers/wait.js';
import { type ShownExp, setup, showJson } from './exp-fixture.js';

test(`exp run --queue with no queue configured: jobs wait in the local queue, exp show lists them, a worker runs \
them`, async () => {
  const { p, count } = await setup();
  const q = await p.run(['exp', 'run', '--queue', '--seed', '1,2', '-n', 'local']);
  assert.equal(q.exitCode, 0, q.all);
  assert.match(
    q.stderr,
    new RegExp(
      /^Queued 2 experiments and 1 warm-up job for shared stages from [0-9a-f]{7} on local queue /.source +
        /\S+lockstep-queue: local-1, local-2\./.source,
      'm',
    ),
  );
  const shown = await p.run(['exp', 'show']);
  assert.match(
    shown.stdout,
    new RegExp(
      /Queued experiments \(lockstep exp queue /.source +
        /list\):\n {2}local-1 {2}waiting {2}seed=1\n {2}local-2 {2}waiting {2}seed=2/.source,
    ),
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

test(`a worker killed with -9 during a warm-up leaves nothing running (the warm-up repro is supervised); the next \
worker finishes the sweep`, async () => {
  // the shared stage holds, with a child process, until the test releases it
  const rig = await testRig();
  const upstream = rig.command('upstream', { child: true, write: { 'data/base.txt': 'hello\n' } });
  const p = await tempProject({
    'pipeline.yaml': `stages:
  upstream:
    cmd: ${JSON.stringify(upstream)}
    deps: [input.txt]
    outs: [data/base.txt]
  train:
    cmd: mkdir -p metrics && echo '{"acc":1}' > metrics/eval.json
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
  const stage = await rig.started('upstream', 1, 60_000);
  assert.ok(alive(stage.pid), 'the warm-up is running its shared stage');
  const exited = new Promise((r) => worker.once('exit', r));
  worker.kill('SIGKILL'); // the worker alone, not its process group: its supervised children must follow
  await exited;
  await waitDead([stage.pid, stage.childPid!], "the warm-up's stage tree after the worker was killed");

  await rig.release('upstream');
  const w = await p.run(['worker', '--until-empty', '--name', 'next']);
  assert.equal(w.exitCode, 0, w.all);
  assert.equal(await rig.runs('upstream'), 2, 'the shared stage ran again (it never finished), once');
  assert.deepEqual((await showJson(p)).map((r) => [r.name, r.state]).sort(), [
    ['k-1', 'success'],
    ['k-2', 'success'],
  ]);
});

test(`a worker keeps its worktree from job to job: each job starts from the baseline's tracked files alone \
(a warm-up's outputs and stray files gone), also when the next job's baseline is another commit`, async () => {
  const p = await tempProject({
    'pipeline.yaml': `stages:
  shared:
    cmd: >-
      test ! -e stray.txt && echo stray > stray.txt && mkdir -p data &&
      cat input.txt > data/base.txt && sed -n 's/^mode: *//p' params.yaml >> data/base.txt
    deps: [input.txt]
    params: [mode]
    outs: [data/base.txt]
  train:
    cmd: >-
      mkdir -p metrics && echo "{\\"lines\\": $(wc -l < data/base.txt)}" > metrics/eval.json
    deps: [data/base.txt]
    params: [seed]
    metrics: [metrics/eval.json]
`,
    'params.yaml': 'seed: 1\nmode: a\n',
    'input.txt': 'hello\n',
    '.gitignore': '.cache/\n/data/\n/metrics/\n',
  });
  // two warm-ups (shared for mode a, for mode b) on the first baseline, then one experiment on a second
  const first = await p.run(['exp', 'run', '--queue', '--seed', '1,2', '-S', 'mode=a,b', '-n', 'one']);
  assert.equal(first.exitCode, 0, first.all);
  assert.match(first.stderr, /Queued 4 experiments and 2 warm-up jobs for shared stages/);
  await p.write('input.txt', 'hello\nagain\n');
  await p.git('commit', '-qam', 'longer input');
  const second = await p.run(['exp', 'run', '--queue', '--seed', '3', '-n', 'two']);
  assert.equal(second.exitCode, 0, second.all);
  // experiments' workspaces are removed in the background while jobs complete, all gone when the worker exits
  const scratch = await tempDir('lockstep-queue-scratch-');
  const w = await p.run(['worker', '--until-empty', '--name', 'here'], { env: { LOCKSTEP_EXP_TMPDIR: scratch } });
  assert.equal(w.exitCode, 0, w.all);
  assert.deepEqual(await fs.readdir(scratch), [], 'no workspace left behind');
  const list = JSON.parse((await p.run(['exp', 'queue', 'list', '--json'])).stdout) as {
    spec: { name: string };
    state: string;
  }[];
  assert.deepEqual(
    list.filter((j) => j.state !== 'completed').map((j) => j.spec.name),
    [],
    'the second warm-up found no stray file of the first in the worktree',
  );
  const shown = await p.run(['exp', 'show', '--json', '-A']);
  const rows = Object.fromEntries(
    (JSON.parse(shown.stdout) as ShownExp[]).filter((r) => r.metrics).map((r) => [r.name, r.metrics]),
  );
  assert.deepEqual(rows.two, { 'metrics/eval.json': { lines: 3 } }, 'the second baseline: two lines and the mode');
  assert.deepEqual(rows['one-1'], { 'metrics/eval.json': { lines: 2 } });
});
