/**
 * A full disk under the workspace during `checkout` and `pull` (issue 12, weaker faults): one line
 * naming the path and saying to free space (exit 1, not an internal error); no half-written file
 * under an output's name, no temp file left; the lock file and the cache untouched; a rerun
 * completes once there is room. The outputs live in a folder that is a small tmpfs mount (root only;
 * skipped elsewhere), while the lock and the cache stay on the ordinary disk.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, tempProject, type CliResult, type TempProject } from '../helpers/project.js';

/** Two 700 KiB outputs in `small/` (a tmpfs mount), a folder output of two such files in `small/dir`. */
const PIPELINE = `stages:
  make:
    cmd: >-
      head -c 716800 /dev/urandom > small/a.bin && head -c 716800 /dev/urandom > small/b.bin &&
      mkdir -p small/dir && head -c 716800 /dev/urandom > small/dir/c.bin &&
      head -c 716800 /dev/urandom > small/dir/d.bin
    outs: [small/a.bin, small/b.bin, small/dir]
`;

const mounts: string[] = [];
/** Unmount what the test mounted: called before its `after` hooks remove the folders. */
async function unmountAll(): Promise<void> {
  for (const dir of mounts.splice(0)) await execa('umount', ['-l', dir], { reject: false });
}

/** Mount a tmpfs of `size` on `dir`, or say why not. */
async function mountTmpfs(dir: string, size: string): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const r = await execa('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { reject: false });
  if (r.exitCode !== 0) return `cannot mount a tmpfs here (${r.stderr.trim() || `exit ${r.exitCode}`})`;
  mounts.push(dir);
  return null;
}

const resize = (dir: string, size: string) => execa('mount', ['-o', `remount,size=${size}`, dir]);

/** Every file under `root` with the md5 of its bytes (temp files included), sorted. */
async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of (await fs.readdir(root, { recursive: true })).map(String).sort()) {
    const abs = path.join(root, n);
    if ((await fs.lstat(abs)).isFile())
      out[n] = createHash('md5')
        .update(await fs.readFile(abs))
        .digest('hex');
  }
  return out;
}

function oneLineNoSpace(r: CliResult, label: string): void {
  assert.equal(r.exitCode, 1, `${label}: ${r.all}`);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `${label}: ${r.stderr}`);
  assert.match(
    lines[0]!,
    new RegExp(
      /^lockstep: no space left on the device to write small\/(b\.bin|dir\/\w\.bin) \(ENOSPC\)\. Free some space /
        .source + /there, then run the command again: what is already restored stays\.$/.source,
    ),
    label,
  );
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, label);
}

/** The outputs' files under `small/` (its .gitignore is lockstep's, not an output). */
async function outputs(small: string): Promise<Record<string, string>> {
  const all = await tree(small);
  delete all['.gitignore'];
  return all;
}

/** What the workspace holds is either absent or exactly what the lock records (never a partial file). */
async function noHalfFiles(p: TempProject, good: Record<string, string>, label: string): Promise<void> {
  const now = await outputs(path.join(p.dir, 'small'));
  for (const [n, h] of Object.entries(now)) {
    assert.ok(!path.basename(n).startsWith('.'), `${label}: a temp file is left: ${n}`);
    assert.equal(h, good[n], `${label}: small/${n} holds other bytes than recorded`);
  }
}

async function setup(): Promise<{ p: TempProject; small: string; good: Record<string, string> } | string> {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, '.gitignore': '.cache/\n' });
  const small = path.join(p.dir, 'small');
  await fs.mkdir(small);
  const why = await mountTmpfs(small, '4m');
  if (why) return why;
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  return { p, small, good: await outputs(small) };
}

test(`checkout on a full disk: one line naming the path, lock and cache untouched, no half-written file; a rerun \
completes`, (t) => checkoutCase(t).finally(unmountAll));

async function checkoutCase(t: TestContext): Promise<void> {
  const s = await setup();
  if (typeof s === 'string') return t.skip(s);
  const { p, small, good } = s;
  const lock = await p.read('pipeline.lock');
  const cache = await tree(path.join(p.dir, '.cache', 'files'));
  for (const n of await fs.readdir(small)) await fs.rm(path.join(small, n), { recursive: true });
  await resize(small, '1m'); // room for one output of the four files
  const r = await p.run(['checkout']);
  oneLineNoSpace(r, 'checkout');
  assert.equal(await p.read('pipeline.lock'), lock, 'the lock file is untouched');
  assert.deepEqual(await tree(path.join(p.dir, '.cache', 'files')), cache, 'the cache objects are untouched');
  await noHalfFiles(p, good, 'checkout');
  await resize(small, '4m');
  const again = await p.run(['checkout']);
  assert.equal(again.exitCode, 0, again.all);
  assert.deepEqual(await outputs(small), good);
  assert.equal((await p.run(['status'])).exitCode, 0);
}

test(`pull into a full disk: one line naming the path, lock and fetched cache intact, no half-written file; a rerun \
completes`, (t) => pullCase(t).finally(unmountAll));

async function pullCase(t: TestContext): Promise<void> {
  const s = await setup();
  if (typeof s === 'string') return t.skip(s);
  const { p, good } = s;
  const remote = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-remote-'));
  after(() => fs.rm(remote, { recursive: true, force: true }));
  await p.run(['remote', 'add', '-d', 'store', remote]);
  assert.equal((await p.run(['push'])).exitCode, 0);
  await p.git('add', 'pipeline.yaml', 'pipeline.lock', '.gitignore', '.lockstep');
  await p.git('commit', '-qm', 'lock');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-clone-'));
  after(() => fs.rm(dir, { recursive: true, force: true }));
  await execa('git', ['clone', '-q', p.dir, dir]);
  const small = path.join(dir, 'small');
  await fs.mkdir(small, { recursive: true });
  const why = await mountTmpfs(small, '1m');
  if (why) return t.skip(why);
  const run = async (args: string[]): Promise<CliResult> => {
    const x = await execa(process.execPath, [CLI, ...args], { cwd: dir, reject: false, all: true });
    return { exitCode: x.exitCode ?? -1, stdout: String(x.stdout), stderr: String(x.stderr), all: String(x.all) };
  };
  const lock = await fs.readFile(path.join(dir, 'pipeline.lock'), 'utf8');
  const r = await run(['pull']);
  oneLineNoSpace(r, 'pull');
  assert.equal(await fs.readFile(path.join(dir, 'pipeline.lock'), 'utf8'), lock, 'the lock file is untouched');
  // the fetched cache holds exactly the pushed objects, all sound
  const cache = await tree(path.join(dir, '.cache', 'files'));
  for (const [n, h] of Object.entries(cache))
    if (!n.endsWith('.dir')) assert.equal(n.split('/').slice(1).join(''), h, `cache object ${n}`);
  assert.deepEqual(Object.keys(cache).sort(), Object.keys(await tree(path.join(p.dir, '.cache', 'files'))).sort());
  await noHalfFiles({ ...p, dir } as TempProject, good, 'pull');
  await resize(small, '4m');
  const again = await run(['pull']);
  assert.equal(again.exitCode, 0, again.all);
  assert.deepEqual(await outputs(small), good);
}

test(`checkout with the whole project on a full disk: one line, no half-written repository lock left, lock file \
intact; a rerun completes`, (t) => wholeDiskCase(t).finally(unmountAll));

async function wholeDiskCase(t: TestContext): Promise<void> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-disk-'));
  after(() => fs.rm(base, { recursive: true, force: true }));
  const why = await mountTmpfs(base, '8m');
  if (why) return t.skip(why);
  const dir = path.join(base, 'project');
  await fs.mkdir(path.join(dir, 'small'), { recursive: true });
  await fs.writeFile(path.join(dir, 'pipeline.yaml'), PIPELINE);
  await execa('git', ['init', '-q'], { cwd: dir });
  const run = async (args: string[]): Promise<CliResult> => {
    const x = await execa(process.execPath, [CLI, ...args], { cwd: dir, reject: false, all: true });
    return { exitCode: x.exitCode ?? -1, stdout: String(x.stdout), stderr: String(x.stderr), all: String(x.all) };
  };
  assert.equal((await run(['repro'])).exitCode, 0);
  const good = await outputs(path.join(dir, 'small'));
  const lock = await fs.readFile(path.join(dir, 'pipeline.lock'), 'utf8');
  for (const n of Object.keys(good)) await fs.rm(path.join(dir, 'small', n));
  // fill the disk to the last byte
  await execa('sh', ['-c', `head -c 16777216 /dev/zero > ${path.join(base, 'filler')}`], { reject: false });
  const r = await run(['checkout']);
  assert.equal(r.exitCode, 1, r.all);
  assert.match(
    r.stderr,
    /^lockstep: no space left on the device to write [^\n]+ \(ENOSPC\)\. Free some space there[^\n]*$/,
  );
  assert.equal(await fs.readFile(path.join(dir, 'pipeline.lock'), 'utf8'), lock, 'the lock file is intact');
  assert.deepEqual(await fs.readdir(path.join(dir, '.lockstep', 'tmp')).catch(() => []), [], 'no repository lock left');
  const left = await tree(path.join(dir, 'small'));
  for (const [n, h] of Object.entries(left)) if (n !== '.gitignore') assert.equal(h, good[n], `small/${n}`);
  await fs.rm(path.join(base, 'filler'));
  const again = await run(['checkout']);
  assert.equal(again.exitCode, 0, again.all);
  assert.deepEqual(await outputs(path.join(dir, 'small')), good);
}
