/**
 * The embedded queue takes back a job whose worker died, and never a job that finished meanwhile: a list()
 * that read the job as active just before its worker completed it must not put it back to waiting (the job
 * then ran twice, seen once under load).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { LocalQueue } from '../../src/queue/local.js';
import type { JobInfo, JobSpec } from '../../src/queue/types.js';
import { tempDir } from '../helpers/tmp.js';

const spec = (id: string): JobSpec => ({
  id,
  name: id,
  baseline: 'f'.repeat(40),
  assignments: [],
  gitRemote: 'origin',
  created: new Date().toISOString(),
});

type Recover = { recoverStalled(info: JobInfo): Promise<JobInfo> };

async function setUp(state: JobInfo['state'], claimPid: number | null) {
  const dir = await tempDir('lockstep-queue-recover-');
  const q = new LocalQueue(dir);
  const info: JobInfo = { spec: spec('j1'), state, attempts: 1, worker: 'w1', updated: new Date().toISOString() };
  await fs.mkdir(path.join(dir, 'jobs'), { recursive: true });
  await fs.writeFile(path.join(dir, 'jobs', 'j1.json'), JSON.stringify(info));
  await fs.mkdir(path.join(dir, 'claims'), { recursive: true });
  if (claimPid !== null) {
    await fs.mkdir(path.join(dir, 'claims', 'j1'));
    const owner = { pid: claimPid, start: 'gone', worker: 'w1' };
    await fs.writeFile(path.join(dir, 'claims', 'j1', 'owner.json'), JSON.stringify(owner));
  }
  return { dir, q, info };
}

/** A pid that was a process of ours and has exited. */
async function deadPid(): Promise<number> {
  const child = execa('true');
  await child;
  return child.pid!;
}

test('a stale "active" read of a job its worker has just completed is not put back to waiting', async () => {
  const { dir, q, info } = await setUp('completed', null);
  const stale: JobInfo = { ...info, state: 'active' };
  const got = await (q as unknown as Recover).recoverStalled(stale);
  assert.equal(got.state, 'completed');
  const onDisk = JSON.parse(await fs.readFile(path.join(dir, 'jobs', 'j1.json'), 'utf8')) as JobInfo;
  assert.equal(onDisk.state, 'completed', 'the finished job stays finished');
  assert.deepEqual(await fs.readdir(path.join(dir, 'claims')), [], 'no claim is left behind');
});

test('a job whose worker died goes back to waiting once, also when two processes recover it at once', async () => {
  const { dir, q } = await setUp('active', await deadPid());
  const other = new LocalQueue(dir);
  const [a, b] = await Promise.all([q.list(), other.list()]);
  const states = [a[0]!.state, b[0]!.state].sort();
  assert.ok(states.includes('waiting'), `one of them recovered it: ${states}`);
  const onDisk = JSON.parse(await fs.readFile(path.join(dir, 'jobs', 'j1.json'), 'utf8')) as JobInfo;
  assert.equal(onDisk.state, 'waiting');
  assert.equal(onDisk.attempts, 1, 'recovery does not count a take');
  assert.match(onDisk.progress ?? '', /worker w1 died/);
  assert.deepEqual(await fs.readdir(path.join(dir, 'claims')), [], 'the dead claim and the recovery claim are gone');
});

test('a live worker keeps its job', async () => {
  const { dir, q } = await setUp('active', process.pid);
  const stat = await fs.readFile(`/proc/${process.pid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  await fs.writeFile(
    path.join(dir, 'claims', 'j1', 'owner.json'),
    JSON.stringify({ pid: process.pid, start, worker: 'w1' }),
  );
  const [job] = await q.list();
  assert.equal(job!.state, 'active');
});
