/**
 * exp run reproduces each experiment in its own process (no `lockstep repro` child per experiment):
 * the engine takes its workspace, cache and stage environment from its arguments, never from the
 * process's cwd or environment. These call runExperiments inside the test process itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { runExperiments } from '../../src/exp/run.js';
import { LockstepError } from '../../src/errors.js';
import type { ParamOverride } from '../../src/exp/sweep.js';
import { CLI, tempProject } from '../helpers/project.js';
import { testRig } from '../helpers/rig.js';
import { waitDead, waitFor } from '../helpers/wait.js';

const exists = (p: string) =>
  fs.access(p).then(
    () => true,
    () => false,
  );

/** A stage that prints what it sees (cwd and lockstep's variables), then holds in the rig. */
async function heldProject() {
  const rig = await testRig();
  const held = rig.command('held', { child: true, write: { 'out.txt': 'done\n' } });
  const cmd = `echo "pwd=$PWD exp=$LOCKSTEP_EXP_NAME jobs=$LOCKSTEP_JOBS cache=$LOCKSTEP_CACHE_DIR" && ${held}`;
  const p = await tempProject({
    'pipeline.yaml': `stages:\n  held:\n    cmd: ${JSON.stringify(cmd)}\n    params: [seed]\n    outs: [out.txt]\n`,
    'params.yaml': 'seed: 1\n',
    '.gitignore': '.cache/\n',
  });
  return { rig, p };
}

const seeds = (...xs: number[]): ParamOverride[] => [{ file: null, key: 'seed', values: xs, source: '--seed' }];

test(`experiments side by side in one process: each sees its own workspace, name and the sweep's -j; one \
fails, the others are recorded; cwd, environment and listeners of the process are left as they were`, async () => {
  const { rig, p } = await heldProject();
  const cwdBefore = process.cwd();
  const envBefore = { ...process.env };
  const listeners = () => ['exit', 'SIGINT', 'SIGTERM'].map((e) => process.listenerCount(e));
  const listenersBefore = listeners();

  const sweep = runExperiments({ cwd: p.dir, overrides: seeds(1, 2, 3), jobs: 2 });
  const [a, b] = [await rig.started('held', 1), await rig.started('held', 2)];
  assert.notEqual(a.cwd, b.cwd, 'two workspaces');
  for (const run of [a, b]) assert.ok(![p.dir, cwdBefore].includes(run.cwd), run.cwd);
  await rig.release('held', { run: 1, exitCode: 3 });
  await rig.release('held', { run: 2 });
  const c = await rig.started('held', 3);
  await rig.release('held', { run: 3 });
  const results = await sweep;

  assert.equal(results.length, 3);
  assert.deepEqual(results.map((r) => r.state).sort(), ['failed', 'success', 'success']);
  const failed = results.find((r) => r.state === 'failed')!;
  assert.match(failed.error ?? '', /stage 'held' failed: its command exited with code 3/);
  const cwds = new Map<string, string>();
  for (const r of results) {
    const log = await p.git('show', `${r.sha}:.lockstep/exp.log`);
    const m = /pwd=(\S+) exp=(\S+) jobs=(\S+) cache=(\S+)/.exec(log);
    assert.ok(m, log);
    assert.equal(m[2], r.name);
    assert.equal(m[3], '2');
    assert.equal(m[4], path.join(p.dir, '.cache'));
    cwds.set(r.name, m[1]!);
  }
  assert.equal(cwds.get(failed.name), a.cwd, 'the failure is recorded against the experiment whose stage failed');
  assert.deepEqual(new Set(cwds.values()), new Set([a.cwd, b.cwd, c.cwd]));
  // the outputs went to the project's cache (never a workspace's own), the workspaces are gone
  const md5 = createHash('md5').update('done\n').digest('hex');
  assert.ok(await exists(path.join(p.dir, '.cache', 'files', 'md5', md5.slice(0, 2), md5.slice(2))));
  for (const dir of [a.cwd, b.cwd, c.cwd]) assert.equal(await exists(dir), false, `${dir} removed`);
  assert.equal(await p.exists('out.txt'), false);
  assert.equal(await p.exists('pipeline.lock'), false);

  assert.equal(process.cwd(), cwdBefore);
  assert.deepEqual({ ...process.env }, envBefore);
  // none left per experiment; the repository lock's one 'exit' hook for all its locks may have been installed
  const [exitAfter, ...signalsAfter] = listeners();
  assert.deepEqual(signalsAfter, listenersBefore.slice(1));
  assert.ok(exitAfter! <= listenersBefore[0]! + 1, `exit listeners ${listenersBefore[0]} -> ${exitAfter}`);
});

test('aborting the sweep stops every running stage tree, records nothing and removes the workspaces', async () => {
  const { rig, p } = await heldProject();
  const controller = new AbortController();
  const sweep = runExperiments({
    cwd: p.dir,
    overrides: seeds(1, 2, 3),
    jobs: 2,
    signal: controller.signal,
  });
  // The sweep may reject before the stages are seen dead: hold its outcome from the start.
  const outcome = sweep.then(
    () => null,
    (e: unknown) => e,
  );
  const runs = [await rig.started('held', 1), await rig.started('held', 2)];
  controller.abort();
  try {
    // the stages die because the abort reached them, not because the test let them end
    await waitDead(
      runs.flatMap((r) => [r.pid, r.childPid!]),
      'the stage processes of both experiments',
    );
    const e = await outcome;
    assert.ok(e instanceof LockstepError && e.reason === 'interrupted', String(e));
  } finally {
    await rig.release('held');
  }
  for (const run of runs) assert.equal(await exists(run.cwd), false, `${run.cwd} removed`);
  assert.equal(await p.git('for-each-ref', 'refs/exps/'), '');
  assert.equal(await rig.runs('held'), 2, 'the third experiment never started');
});

test('kill -9 of exp run takes the stage trees of its experiments with it (the stage supervisor)', async () => {
  const { rig, p } = await heldProject();
  const child = execa(process.execPath, [CLI, 'exp', 'run', '--seed', '1,2', '-j', '2'], {
    cwd: p.dir,
    reject: false,
  });
  const runs = [await rig.started('held', 1), await rig.started('held', 2)];
  child.kill('SIGKILL');
  await child;
  await waitDead(
    runs.flatMap((r) => [r.pid, r.childPid!]),
    'the stage processes after kill -9 of exp run',
  );
  await waitFor(async () => (await rig.runs('held')) === 2, { timeoutMs: 1000, what: 'no further stage' });
  await rig.release('held');
});
