/**
 * Issue 12 item 7 and the process bullets: a stage dies with lockstep whatever ends it (kill -9 in
 * the first instant of the stage, SIGHUP); the repository lock tells a live owner from a reused pid;
 * an `exp run` killed with -9 leaves no repro or stage running, and its workspace is swept by the next.
 * Real processes, the test rig instead of sleeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, tempProject } from '../helpers/project.js';
import { testRig } from '../helpers/rig.js';
import { waitDead, waitFor } from '../helpers/wait.js';
import { tempDir } from '../helpers/tmp.js';

async function heldProject() {
  const rig = await testRig();
  const cmd = rig.command('held', { early: true, child: true, write: { 'out.txt': 'done\n' } });
  const p = await tempProject({
    'pipeline.yaml': `stages:\n  held:\n    cmd: ${JSON.stringify(cmd)}\n    outs: [out.txt]\n`,
    '.gitignore': '.cache/\n',
  });
  return { rig, p };
}

test(`kill -9 of repro at the first instant of a stage takes the stage and its child with it; the next repro reruns \
it`, async () => {
  const { rig, p } = await heldProject();
  const repro = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false });
  const shell = await rig.shellStarted('held');
  repro.kill('SIGKILL'); // the instant the stage's shell runs, before its node program has even loaded
  await repro;
  await waitDead([shell], 'the stage command after lockstep was killed');
  if (await rig.runs('held')) {
    // it got as far as starting its child before it died: that child is gone too
    const started = await rig.started('held', 1, 1000).catch(() => null);
    if (started?.childPid) await waitDead([started.childPid], "the stage command's child");
  }
  assert.equal(await p.exists('out.txt'), false);
  await rig.release('held');
  const again = await p.run(['repro']);
  assert.equal(again.exitCode, 0, again.all);
  assert.match(again.stdout, /Running stage 'held'/);
  assert.equal(await p.read('out.txt'), 'done\n');
  assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');
});

for (const signal of ['SIGHUP', 'SIGTERM'] as const) {
  test(`${signal} of repro stops the stage tree, records nothing and releases the repository lock`, async () => {
    const { rig, p } = await heldProject();
    const repro = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false, all: true });
    const run = await rig.started('held');
    repro.kill(signal);
    const r = await repro;
    assert.equal(r.exitCode, 130, r.all);
    assert.match(r.stderr, /^lockstep: interrupted/m);
    await waitDead([run.pid, run.childPid!], 'the stage tree');
    assert.equal(await p.exists('.lockstep/tmp/repo.lock'), false, 'the repository lock is released');
    assert.doesNotMatch(await p.read('pipeline.lock').catch(() => ''), /held:/);
  });
}

test('a repository lock left by a dead lockstep whose pid now belongs to another process is taken over', async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n' });
  // this test's own pid is alive but is not the lockstep that wrote the lock (its start time differs)
  await p.write(
    '.lockstep/tmp/repo.lock',
    JSON.stringify({
      pid: process.pid,
      startTime: '1',
      host: os.hostname(),
      command: 'lockstep repro',
      started: '2020-01-01T00:00:00.000Z',
    }),
  );
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
});

test('the "locked" message names the lock file and the owner command', async () => {
  const { rig, p } = await heldProject();
  const first = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false });
  await rig.started('held');
  const second = await p.run(['gc', '--workspace']);
  assert.equal(second.exitCode, 1, second.all);
  assert.match(
    second.stderr,
    new RegExp(
      `^lockstep: the repository is locked by pid ${first.pid} \\(lockstep repro, started [^)]+\\) in ` +
        `\\.lockstep/tmp/repo\\.lock`,
    ),
  );
  await rig.release('held');
  assert.equal((await first).exitCode, 0);
});

/** Pids of the processes whose working directory is `dir` or below it (Linux /proc). */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cwd = readlinkSync(`/proc/${e}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(e));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

test('exp run killed with -9 leaves no repro nor stage running; the next exp run removes its workspace', async () => {
  const rig = await testRig();
  const tmp = await fs.realpath(await tempDir('lockstep-exp-ws-'));
  const p = await tempProject({
    'pipeline.yaml':
      `stages:\n  held:\n    cmd: ` +
      `${JSON.stringify(rig.command('held', { child: true, write: { 'out.txt': 'done\n' } }))}\n` +
      `    params: [seed]\n  ` +
      `  outs: [out.txt]\n`,
    'params.yaml': 'seed: 1\n',
    '.gitignore': '.cache/\n',
  });
  const env = { LOCKSTEP_EXP_TMPDIR: tmp };
  const exp = execa(process.execPath, [CLI, 'exp', 'run', '--seed', '2'], { cwd: p.dir, reject: false, env });
  const run = await rig.started('held');
  const workspace = path.dirname(await fs.realpath(run.cwd)); // <tmp>/lockstep-exp-XXXX
  assert.ok(workspace.startsWith(tmp), `${run.cwd} is under ${tmp}`);
  exp.kill('SIGKILL');
  await exp;
  await waitDead([run.pid, run.childPid!], 'the stage tree of the killed experiment');
  await waitFor(() => processesIn(workspace).length === 0, {
    what: `no process left in the workspace ${workspace} (the child repro)`,
  });
  assert.ok(await fs.stat(workspace).then(() => true), 'the workspace is still there until the next exp run');
  await rig.release('held');
  const next = await p.run(['exp', 'run', '--seed', '3'], { env });
  assert.equal(next.exitCode, 0, next.all);
  assert.equal(
    await fs.stat(workspace).then(
      () => true,
      () => false,
    ),
    false,
    'the stale workspace was removed',
  );
});

test('a closed stdout (lockstep status | head -1, exp show --json | head) ends quietly: no stack trace', async () => {
  const stage = (i: number) => `  s${i}:\n    cmd: echo ${i} > o${i}.txt\n    outs: [o${i}.txt]\n`;
  const p = await tempProject({
    'pipeline.yaml': `stages:\n${Array.from({ length: 40 }, (_, i) => stage(i)).join('')}`,
  });
  for (const args of [['status'], ['exp', 'show', '--json', '-A'], ['dag']]) {
    const child = execa(process.execPath, [CLI, ...args], {
      cwd: p.dir,
      reject: false,
      stdout: 'pipe',
      stderr: 'pipe',
    });
    child.stdout.destroy(); // the reader is gone before lockstep writes its first line
    const r = await child;
    assert.ok(r.exitCode === 0 || r.exitCode === 141, `${args.join(' ')}: exit ${r.exitCode}: ${r.stderr}`);
    assert.equal(String(r.stderr), '', `${args.join(' ')} is quiet`);
  }
});
