import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSweepGate, SWEEP_INTERVAL_MS } from '../../src/remote/sweep-gate.js';
import { tempDir } from '../helpers/tmp.js';

const hostTag = createHash('md5').update(os.hostname()).digest('hex').slice(0, 8);
const remote = 'ssh://u@h:22/store';

async function markerDir(cacheDir: string): Promise<string> {
  const [only] = await fs.readdir(path.join(cacheDir, 'tmp', 'pushes'));
  return path.join(cacheDir, 'tmp', 'pushes', only!);
}

test('a remote is swept on the first push, then only after a killed push or once a day', async () => {
  const cache = await tempDir('lockstep-gate-');
  const first = await openSweepGate(cache, remote);
  assert.equal(first.needed, true, 'never swept from this cache');
  await first.done(true);
  const second = await openSweepGate(cache, remote);
  assert.equal(second.needed, false, 'swept a moment ago, and no push was interrupted');
  await second.done(false);
  assert.deepEqual(await fs.readdir(await markerDir(cache)), ['swept'], 'a finished push leaves no marker');

  // a push from this cache killed with kill -9 left its marker: the next push sweeps
  const dir = await markerDir(cache);
  const dead = `4194303-x-${hostTag}.run`; // above any pid Linux hands out: its writer is gone
  await fs.writeFile(path.join(dir, dead), '');
  const afterKill = await openSweepGate(cache, remote);
  assert.equal(afterKill.needed, true, 'a dead push’s marker makes the next push sweep');
  await afterKill.done(false);
  assert.ok((await fs.readdir(dir)).includes(dead), 'a sweep that did not finish keeps the marker');
  const retry = await openSweepGate(cache, remote);
  assert.equal(retry.needed, true);
  await retry.done(true);
  assert.deepEqual(await fs.readdir(dir), ['swept'], 'a finished sweep clears the dead marker');

  // a live push elsewhere (this process's own marker, another host's) does not force a sweep
  await fs.writeFile(path.join(dir, `${process.pid}-x-${hostTag}.run`), '');
  await fs.writeFile(path.join(dir, `4194303-x-00000000.run`), '');
  const live = await openSweepGate(cache, remote);
  assert.equal(live.needed, false);
  await live.done(false);

  // a day after the last sweep, the next push sweeps again (for pushes killed on other machines)
  const old = new Date(Date.now() - SWEEP_INTERVAL_MS - 60_000);
  await fs.utimes(path.join(dir, 'swept'), old, old);
  assert.equal((await openSweepGate(cache, remote)).needed, true);
  assert.equal((await openSweepGate(cache, 'ssh://u@other:22/store')).needed, true, 'each remote has its own stamp');
});

test('a gate that cannot use its folder always sweeps', async () => {
  const cache = await tempDir('lockstep-gate-');
  await fs.writeFile(path.join(cache, 'tmp'), 'not a folder');
  const gate = await openSweepGate(cache, remote);
  assert.equal(gate.needed, true);
  await gate.done(true);
});
