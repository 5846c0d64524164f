/**
 * Temp files left on a remote by a push killed with `kill -9` (issue 12, weaker faults): the next push
 * removes them, and only provably abandoned ones of lockstep's own naming: a temp whose writer on this
 * host is gone (pid and start time), or one untouched for a day; never a live push's temp, never a
 * name lockstep did not make. Real kills of a real push, to a folder remote and to a real sshd.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processStartTime } from '../../src/util/process-id.js';
import { CLI, tempProject, type TempProject } from '../helpers/project.js';
import { sshdUnavailable, startSshd } from '../helpers/sshd.js';
import { corruptObjects } from '../helpers/objects.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Eight 16 MiB files of distinct bytes: uploads big enough (over 256 KiB) to go through copy/fastPut, and slow
 * enough that a temp file is seen on the remote (with 1 MiB files a quiet machine's push to the local sshd
 * sometimes finished every upload between two looks, five times in a row; with 4 MiB, ten times in a row in one
 * CI run on a quiet AVX-512 machine).
 */
const PIPELINE = `stages:
  make:
    cmd: mkdir -p data && for i in 1 2 3 4 5 6 7 8; do head -c 16777216 /dev/urandom > data/f$i.bin; done
    outs: [data]
`;

/** Every dot-file under the remote's object and run-cache folders (remote-relative). */
async function temps(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const top of ['files', 'runs']) {
    const names = await fs.readdir(path.join(root, top), { recursive: true }).catch(() => [] as string[]);
    for (const n of names) if (path.basename(String(n)).startsWith('.')) out.push(`${top}/${n}`);
  }
  return out.sort();
}

/**
 * Start `lockstep push`, freeze it (SIGSTOP) the moment a temp file shows up on the remote, and kill it
 * with SIGKILL while the temp is still there (if the upload finished first, let it go on and wait for
 * the next one). Returns the temps left behind.
 */
async function killPushMidUpload(p: TempProject, remoteRoot: string): Promise<string[]> {
  const child = spawn(process.execPath, [CLI, 'push', '-j', '2'], { cwd: p.dir, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    if ((await temps(remoteRoot)).length > 0) {
      child.kill('SIGSTOP');
      if ((await temps(remoteRoot)).length > 0) {
        child.kill('SIGKILL');
        break;
      }
      child.kill('SIGCONT');
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await exited;
  return temps(remoteRoot);
}

async function project(): Promise<TempProject> {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, '.gitignore': '.cache/\n' });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  return p;
}

async function killedThenPushedAgain(p: TempProject, remoteRoot: string, label: string): Promise<void> {
  let left: string[] = [];
  // the push may finish before a temp is caught; each try starts from an empty remote
  for (let attempt = 0; attempt < 20 && left.length === 0; attempt++) {
    await fs.rm(remoteRoot, { recursive: true, force: true });
    left = await killPushMidUpload(p, remoteRoot);
  }
  assert.ok(left.length > 0, `${label}: a push killed mid-upload leaves a temp file`);
  const again = await p.run(['push']);
  assert.equal(again.exitCode, 0, again.all);
  assert.deepEqual(await temps(remoteRoot), [], `${label}: the next push removes the killed push's temps`);
  assert.match(again.stdout, /removed \d+ temp files? left by an interrupted push/);
  assert.deepEqual(await corruptObjects(remoteRoot), []);
  // everything is there: a fresh clone's pull would succeed
  const status = await p.run(['status', '--cloud']);
  assert.equal(status.exitCode, 0, status.all);
}

test('push killed with kill -9 mid-upload to a folder remote: the next push removes its temp files', async () => {
  const p = await project();
  const remote = path.join(await tempDir('lockstep-remote-'), 'store');
  assert.equal((await p.run(['remote', 'add', '-d', 'store', remote])).exitCode, 0);
  await killedThenPushedAgain(p, remote, 'folder');
});

test(`push killed with kill -9 mid-upload to an SSH remote (real sshd): the next push removes its temp \
files`, async (t) => {
  const why = sshdUnavailable();
  if (why) return t.skip(why);
  const sshd = await startSshd();
  after(() => sshd.stop());
  const p = await project();
  assert.equal((await p.run(['remote', 'add', '-d', 'ssh', sshd.url('store')])).exitCode, 0);
  assert.equal((await p.run(['remote', 'modify', '--local', 'ssh', 'keyfile', sshd.keyfile])).exitCode, 0);
  await killedThenPushedAgain(p, path.join(sshd.root, 'store'), 'ssh');
});

const hostTag = (host: string) => createHash('md5').update(host).digest('hex').slice(0, 8);
const DAY = 24 * 3600;

/** A pid that is certainly not running: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const c = spawn('true');
  await new Promise((r) => c.once('exit', r));
  return c.pid!;
}

/**
 * Temps planted on a remote, each with the age (seconds) of its mtime and whether a push may remove it.
 * `alive` is this test process: a concurrent push on this host still writing.
 */
async function plant(root: string): Promise<{ removable: string[]; kept: string[] }> {
  const here = hostTag(os.hostname());
  const start = processStartTime(process.pid) ?? 'x';
  const dead = await deadPid();
  const o = 'files/md5/ab';
  const cases: [string, number, boolean][] = [
    [`${o}/.cdef0123.${process.pid}-${start}-${here}.0badf00d.tmp`, 2 * DAY, false], // live writer, even old
    [`${o}/.cdef0124.${dead}-12345-${here}.0badf00d.tmp`, 0, true], // writer gone
    [`${o}/.cdef0125.${process.pid}-1-${here}.0badf00d.tmp`, 0, true], // pid reused by another process
    [`${o}/.cdef0126.${process.pid}-${start}-0000beef.0badf00d.tmp`, 3600, false], // another host, recent
    [`${o}/.cdef0127.${process.pid}-${start}-0000beef.0badf00d.tmp`, DAY + 3600, true], // another host, a day old
    [`${o}/.cdef0128.4242.0badf00d.tmp`, DAY + 3600, true], // an older lockstep's temp, a day old
    [`${o}/.cdef0129.4242.0badf00d.tmp`, 60, false], // an older lockstep's temp, recent
    [`runs/ab/cd/.entry.${dead}-12345-${here}.0badf00d.tmp`, 0, true], // a run-cache upload, writer gone
    [`${o}/.keep`, 2 * DAY, false], // not lockstep's names
    [`${o}/.cdef.tmp`, 2 * DAY, false],
    [`${o}/.cdef0130.${dead}-12345-${here}.tmp`, 2 * DAY, false],
    [`other/.x.${dead}-12345-${here}.0badf00d.tmp`, 2 * DAY, false], // outside the upload folders
  ];
  const now = Date.now() / 1000;
  for (const [key, ageS] of cases) {
    const abs = path.join(root, key);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.writeFile(abs, 'partial');
    await fs.utimes(abs, now - ageS, now - ageS);
  }
  return {
    removable: cases.filter((c) => c[2]).map((c) => c[0]),
    kept: cases
      .filter((c) => !c[2])
      .map((c) => c[0])
      .sort(),
  };
}

async function dotFiles(root: string): Promise<string[]> {
  const names = await fs.readdir(root, { recursive: true });
  return names
    .map(String)
    .filter((n) => path.basename(n).startsWith('.'))
    .sort();
}

test(`push removes only abandoned temps of its own naming, never a live push’s, on folder and SSH \
remotes`, async (t) => {
  const p = await project();
  const folder = path.join(await tempDir('lockstep-remote-'), 'store');
  const roots: [string, string][] = [['folder', folder]];
  assert.equal((await p.run(['remote', 'add', 'folder', folder])).exitCode, 0);
  if (!sshdUnavailable()) {
    const sshd = await startSshd();
    after(() => sshd.stop());
    assert.equal((await p.run(['remote', 'add', 'ssh', sshd.url('store')])).exitCode, 0);
    assert.equal((await p.run(['remote', 'modify', '--local', 'ssh', 'keyfile', sshd.keyfile])).exitCode, 0);
    roots.push(['ssh', path.join(sshd.root, 'store')]);
  } else t.diagnostic('ssh part skipped');
  for (const [name, root] of roots) {
    const { kept } = await plant(root);
    const r = await p.run(['push', '-r', name]);
    assert.equal(r.exitCode, 0, r.all);
    assert.deepEqual(await dotFiles(root), kept, `${name}: exactly the abandoned temps are removed`);
    assert.match(r.stdout, /removed 5 temp files left by an interrupted push/);
  }
});
