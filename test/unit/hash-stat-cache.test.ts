/**
 * The stat cache: unchanged files are not read again, changed or racy ones are, entries survive a
 * new process, and concurrent writers never corrupt it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CachingHasher } from '../../src/hash/hasher.js';
import { hashFile } from '../../src/hash/md5-file.js';
import { isRacy, StatCache } from '../../src/hash/stat-cache.js';
import { encodeSegment } from '../../src/hash/stat-table.js';
import { LockstepError } from '../../src/errors.js';
import { age, ageTree, tempDir, writeTree } from '../helpers/tmp.js';
import type { Md5 } from '../../src/hash/types.js';

/** A hasher on its own stat cache whose reads are counted per path. */
function countingHasher(cacheDir: string) {
  const reads: string[] = [];
  const statCache = new StatCache(path.join(cacheDir, 'tmp', 'stat-cache'));
  const hasher = new CachingHasher(statCache, { onRead: (abs) => reads.push(abs) });
  return { hasher, reads, statCache };
}

test('a second hash of an unchanged file does not read it; a changed file is read again', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'f.txt');
  await fs.writeFile(file, 'one');
  await age(file);
  const { hasher, reads } = countingHasher(path.join(dir, '.cache'));
  const first = await hasher.hashPath(file);
  const second = await hasher.hashPath(file);
  assert.equal(second?.info.md5, first?.info.md5);
  assert.equal(reads.length, 1);

  await fs.writeFile(file, 'two');
  await age(file, 5);
  const third = await hasher.hashPath(file);
  assert.equal(reads.length, 2);
  assert.notEqual(third?.info.md5, first?.info.md5);
  assert.equal(third?.info.md5, `${await hashFile(file)}`);
});

test('isRacy: an mtime within 100 ms (2 s for whole-second timestamps) of the read is not trusted', () => {
  const now = 1_700_000_000_500;
  assert.equal(isRacy(now - 50, now), true);
  assert.equal(isRacy(now - 150, now), false);
  assert.equal(isRacy(1_700_000_000_000, now), true, 'whole seconds: coarse file system');
  assert.equal(isRacy(1_699_999_998_000, now), false);
  assert.equal(isRacy(now + 5000, now), true, 'mtime in the future');
});

test('a file modified just now is racy: it is read every time until its mtime is old enough', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'fresh.txt');
  await fs.writeFile(file, 'fresh');
  // An mtime ahead of the clock stays "just modified" however slow this machine is.
  const soon = new Date(Date.now() + 60_000);
  await fs.utimes(file, soon, soon);
  const { hasher, reads } = countingHasher(path.join(dir, '.cache'));
  await hasher.hashPath(file);
  await hasher.hashPath(file);
  assert.equal(reads.length, 2, 'not trusted while the mtime is within the racy window');
  await age(file);
  await hasher.hashPath(file);
  await hasher.hashPath(file);
  assert.equal(reads.length, 3);
});

test('entries persist: a new process (new stat cache) reads nothing for unchanged files', async () => {
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  await writeTree(data, { 'a.txt': 'a', 'sub/b.txt': 'b', 'sub/deeper/c.txt': 'c' });
  await ageTree(data);
  const cacheDir = path.join(dir, '.cache');
  const one = countingHasher(cacheDir);
  const first = await one.hasher.hashPath(data);
  await one.hasher.save();
  assert.equal(one.reads.length, 3);

  const two = countingHasher(cacheDir);
  await two.statCache.load();
  const second = await two.hasher.hashPath(data);
  assert.equal(two.reads.length, 0);
  assert.deepEqual(second, first);
});

test('directory: unchanged files reuse the stored manifest hash; one changed file is the only read', async () => {
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) files[`d${i % 5}/f${i}.txt`] = `content ${i}`;
  await writeTree(data, files);
  await ageTree(data);
  const { hasher, reads, statCache } = countingHasher(path.join(dir, '.cache'));
  const cold = await hasher.hashPath(data);
  assert.equal(reads.length, 50);

  const warm = await hasher.hashPath(data);
  assert.equal(reads.length, 50);
  assert.deepEqual(warm, cold);

  await fs.writeFile(path.join(data, 'd3/f13.txt'), 'changed');
  await age(path.join(data, 'd3/f13.txt'), 3);
  const changed = await hasher.hashPath(data);
  assert.deepEqual(reads.slice(50), [path.join(data, 'd3/f13.txt')]);
  assert.notEqual(changed?.info.md5, cold?.info.md5);
  assert.ok(statCache.getDir(data, 'no-such-fingerprint') === undefined);
});

test('damaged segments are skipped, never trusted; old text segments are ignored and removed', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'f.txt');
  await fs.writeFile(file, 'real');
  await age(file);
  const st = await fs.stat(file);
  const segDir = path.join(dir, '.cache', 'tmp', 'stat-cache');
  await fs.mkdir(segDir, { recursive: true });
  // A lockstep-0.1 text segment that claims a wrong md5 for the file's exact stat: must be ignored.
  await fs.writeFile(
    path.join(segDir, '000000000000001-1-aaaa.seg'),
    `lockstep-stat-cache 2\nF ${st.ino} ${st.mtimeMs} ${st.size} ${'0'.repeat(32)} ${file}\n`,
  );
  // A binary segment with the same wrong claim, truncated by one byte; and one that is garbage.
  const fake = encodeSegment([[file, { ...st, md5: '0'.repeat(32) }]], '[]', Date.now());
  await fs.writeFile(path.join(segDir, '000000000000002-1-bbbb.bin'), fake.subarray(0, fake.length - 1));
  await fs.writeFile(path.join(segDir, '000000000000003-1-cccc.bin'), 'LSSTAT03 garbage');
  const { hasher, reads } = countingHasher(path.join(dir, '.cache'));
  const r = await hasher.hashPath(file);
  assert.equal(reads.length, 1);
  assert.equal(r?.info.md5, await hashFile(file));
  await hasher.save();
  const names = await fs.readdir(segDir);
  assert.ok(!names.some((n) => n.endsWith('.seg')), `the text segment is removed (${names})`);
  assert.deepEqual(names.filter((n) => n.endsWith('.bin')).length, 1, `damaged segments merged away (${names})`);
});

test(`git's racy rule on load: an entry whose mtime is not older than its segment's writing is not \
trusted`, async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'f.txt');
  await fs.writeFile(file, 'real');
  await age(file);
  const st = await fs.stat(file);
  const segDir = path.join(dir, '.cache', 'tmp', 'stat-cache');
  await fs.mkdir(segDir, { recursive: true });
  // The right md5, but written (so the segment says) within 50 ms of the file's mtime.
  const entry = encodeSegment([[file, { ...st, md5: await hashFile(file) }]], '[]', st.mtimeMs + 50);
  await fs.writeFile(path.join(segDir, '000000000000001-1-aaaa.bin'), entry);
  const racy = countingHasher(path.join(dir, '.cache'));
  await racy.hasher.hashPath(file);
  assert.equal(racy.reads.length, 1, 'read again');
  await fs.writeFile(
    path.join(segDir, '000000000000001-1-aaaa.bin'),
    encodeSegment([[file, { ...st, md5: await hashFile(file) }]], '[]', st.mtimeMs + 5000),
  );
  const safe = countingHasher(path.join(dir, '.cache'));
  await safe.hasher.hashPath(file);
  assert.equal(safe.reads.length, 0, 'trusted when written well after the mtime');
});

test('a directory with a racy file gets no directory record; an edit keeping its stat is still seen', async () => {
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  await writeTree(data, { 'a.txt': 'aaaa', 'b.txt': 'bbbb' });
  await ageTree(data);
  const soon = new Date(Date.now() + 60_000); // "just modified", however slow this machine is
  await fs.utimes(path.join(data, 'b.txt'), soon, soon);
  const { hasher, reads } = countingHasher(path.join(dir, '.cache'));
  const first = await hasher.hashPath(data, { infoOnly: true });
  // Same size, same mtime, other content: only a re-read can see it.
  await fs.writeFile(path.join(data, 'b.txt'), 'BBBB');
  await fs.utimes(path.join(data, 'b.txt'), soon, soon);
  const second = await hasher.hashPath(data, { infoOnly: true });
  assert.notEqual(second?.info.md5, first?.info.md5);
  assert.equal(reads.filter((r) => r.endsWith('b.txt')).length, 2);
});

test(`observing a warm directory (infoOnly) reads no file and no file entry: the directory record \
answers`, async () => {
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  await writeTree(data, { 'a.txt': 'a', 'sub/b.txt': 'b' });
  await ageTree(data);
  const cacheDir = path.join(dir, '.cache');
  const one = countingHasher(cacheDir);
  const cold = await one.hasher.hashPath(data);
  await one.hasher.save();
  // Remove every file entry from the segment, keeping the directory record: a warm observe still answers.
  const segDir = path.join(cacheDir, 'tmp', 'stat-cache');
  const [seg] = (await fs.readdir(segDir)).filter((n) => n.endsWith('.bin'));
  const bytes = await fs.readFile(path.join(segDir, seg as string));
  const dirs = bytes.toString('utf8', bytes.indexOf('[['));
  await fs.writeFile(path.join(segDir, seg as string), encodeSegment([], dirs, Date.now()));
  const two = countingHasher(cacheDir);
  await two.statCache.load();
  const warm = await two.hasher.hashPath(data, { infoOnly: true });
  assert.deepEqual(warm?.info, cold?.info);
  assert.equal(two.reads.length, 0);
  // A full hash (with entries, as commit needs) reads the files whose entries are gone.
  await two.hasher.hashPath(data);
  assert.equal(two.reads.length, 2);
});

test('two processes writing the stat cache at once never corrupt it or lose it', async () => {
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  const cacheDir = path.join(dir, '.cache');
  const files: Record<string, string> = {};
  for (let i = 0; i < 20; i++) files[`c${i % 2}-${i}.txt`] = 'initial';
  await writeTree(data, files);
  const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/stat-cache-writer.js');
  await Promise.all([0, 1].map((i) => execa(process.execPath, [writer, cacheDir, data, String(i), '20'])));

  const segDir = path.join(cacheDir, 'tmp', 'stat-cache');
  const names = await fs.readdir(segDir);
  assert.ok(!names.includes('compact.lock'), 'no lock left behind');
  assert.ok(names.filter((n) => n.endsWith('.bin')).length < 40, `compaction ran (${names.length} segments)`);
  assert.ok(!names.some((n) => n.endsWith('.tmp')), 'no temp files left behind');

  // Every file's current stat must be known, and known with its true md5.
  const { hasher, reads } = countingHasher(cacheDir);
  const result = await hasher.hashPath(data);
  assert.equal(reads.length, 0, 'the last round of each writer is in the cache');
  for (const e of result?.entries ?? []) assert.equal(e.md5, await hashFile(path.join(data, e.relpath)), e.relpath);
});

test('an unusable stat-cache folder costs re-reads, never a failure', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'f.txt');
  await fs.writeFile(file, 'x');
  await age(file);
  const cacheDir = path.join(dir, '.cache');
  await fs.mkdir(cacheDir);
  await fs.writeFile(path.join(cacheDir, 'tmp'), 'a file where the stat-cache folder would go');
  const { hasher, reads, statCache } = countingHasher(cacheDir);
  await statCache.load();
  assert.equal((await hasher.hashPath(file))?.info.md5, await hashFile(file));
  await hasher.save();
  assert.equal(reads.length, 1);
});

test('compaction merges segments into one and drops entries under deleted folders', async () => {
  const dir = await tempDir();
  const cacheDir = path.join(dir, '.cache');
  const keep = path.join(dir, 'keep');
  const gone = path.join(dir, 'gone');
  await writeTree(keep, { 'a.txt': 'a' });
  await writeTree(gone, { 'b.txt': 'b', 'sub/c.txt': 'c' });
  await ageTree(dir);
  for (const target of [keep, gone]) {
    const { hasher } = countingHasher(cacheDir);
    await hasher.hashPath(target);
    await hasher.save();
  }
  await fs.rm(gone, { recursive: true });
  const { statCache } = countingHasher(cacheDir);
  await statCache.load();
  assert.equal(await statCache.compact(), true);
  const segDir = path.join(cacheDir, 'tmp', 'stat-cache');
  const segments = (await fs.readdir(segDir)).filter((n) => n.endsWith('.bin'));
  assert.equal(segments.length, 1);
  const text = await fs.readFile(path.join(segDir, segments[0] as string), 'latin1');
  assert.ok(text.includes(path.join(keep, 'a.txt')));
  assert.ok(!text.includes(gone), 'entries under the deleted folder are gone');
  const again = countingHasher(cacheDir);
  await again.hasher.hashPath(keep);
  assert.equal(again.reads.length, 0, 'the kept entries still work after compaction');
});

test('the directory record is what a warm hash returns (no re-serialising); commit trusts the manifest', async () => {
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  await writeTree(data, { 'a.txt': 'a', 'b/c.txt': 'c' });
  await ageTree(data);
  const cacheDir = path.join(dir, '.cache');
  const one = countingHasher(cacheDir);
  const real = await one.hasher.hashPath(data);
  await one.hasher.save();

  // Tamper with the stored directory record: a warm hash that used it returns the tampered value.
  const segDir = path.join(cacheDir, 'tmp', 'stat-cache');
  const [seg] = (await fs.readdir(segDir)).filter((n) => n.endsWith('.bin'));
  const text = await fs.readFile(path.join(segDir, seg as string), 'latin1');
  const fake = `${'f'.repeat(32)}.dir`;
  await fs.writeFile(path.join(segDir, seg as string), text.replace(real?.info.md5 as string, fake), 'latin1');
  const two = countingHasher(cacheDir);
  await two.statCache.load();
  assert.equal((await two.hasher.hashPath(data))?.info.md5, fake, 'the record was reused as is');
  assert.equal(two.reads.length, 0);

  const { commitOutput, openObjectStore } = await import('../../src/cache/index.js');
  const info = await commitOutput(openObjectStore(cacheDir), two.hasher, data, ['copy']);
  assert.equal(info.md5, real?.info.md5, 'commit stores and reports the manifest it built');
  assert.equal((await two.hasher.hashPath(data))?.info.md5, real?.info.md5, 'and forgets the bad record');
});

test('a broken symlink inside a directory output is reported, not silently skipped', async () => {
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  await writeTree(data, { 'a.txt': 'a' });
  await fs.symlink(path.join(dir, 'nowhere'), path.join(data, 'dangling'));
  const { hasher } = countingHasher(path.join(dir, '.cache'));
  await assert.rejects(hasher.hashPath(data), (e: unknown) => {
    assert.ok(e instanceof LockstepError);
    assert.equal(e.reason, 'data');
    assert.equal(e.message, `broken symlink '${path.join(data, 'dangling')}' inside a directory output`);
    return true;
  });
});

test('the walk with a worker thread sharing the stats gives exactly what the main thread alone gives', async () => {
  const { walkTree } = await import('../../src/hash/walk.js');
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  const files: Record<string, string> = {};
  for (let i = 0; i < 1500; i++) files[`d${i % 7}/sub${i % 3}/f${i}.txt`] = `${i}`;
  await writeTree(data, files);
  await fs.symlink(path.join(data, 'd0', 'sub0', 'f0.txt'), path.join(data, 'link.txt'));
  const serial = await walkTree(data, { parallel: false });
  const parallel = await walkTree(data, { parallel: true, workerOnly: true });
  assert.equal(serial.count, 1501);
  assert.deepEqual(parallel.names.all(), serial.names.all());
  assert.deepEqual([...parallel.stats], [...serial.stats]);
  const f = 'd3/sub1/f10.txt';
  const j = parallel.names.all().indexOf(f);
  const st = lstatSync(path.join(data, f));
  assert.deepEqual([...parallel.stats.subarray(3 * j, 3 * j + 3)], [st.ino, st.mtimeMs, st.size], 'the public numbers');
  const i = serial.names.all().indexOf('link.txt');
  const target = await fs.stat(path.join(data, 'd0', 'sub0', 'f0.txt'));
  assert.deepEqual([...serial.stats.subarray(3 * i, 3 * i + 3)], [target.ino, target.mtimeMs, target.size]);
});

test('two walks at once share one stat thread and each gets what the main thread alone gets', async () => {
  const { walkTree } = await import('../../src/hash/walk.js');
  const { statWorkerForTests } = await import('../../src/hash/stat-worker.js');
  const dir = await tempDir();
  const trees: Record<string, string> = {};
  for (let i = 0; i < 1200; i++) trees[`a/d${i % 5}/f${i}.txt`] = `a${i}`;
  for (let i = 0; i < 900; i++) trees[`b/e${i % 4}/g${i}.bin`] = `b${i}`.repeat(i % 9);
  await writeTree(dir, trees);
  const [a, b] = ['a', 'b'].map((t) => path.join(dir, t)) as [string, string];
  const thread = await statWorkerForTests();
  const [pa, pb] = await Promise.all([a, b].map((t) => walkTree(t, { parallel: true, workerOnly: true })));
  assert.equal(await statWorkerForTests(), thread, 'the same thread served both walks');
  for (const [root, got] of [
    [a, pa],
    [b, pb],
  ] as const) {
    const serial = await walkTree(root, { parallel: false });
    assert.deepEqual(got!.names.all(), serial.names.all());
    assert.deepEqual([...got!.stats], [...serial.stats]);
  }
});

test('a stat thread that dies mid-walk leaves its part to the main thread, and the next walk gets a \
new one', { timeout: 30_000 }, async () => {
  const { walkTree } = await import('../../src/hash/walk.js');
  const { statWorkerForTests } = await import('../../src/hash/stat-worker.js');
  const dir = await tempDir();
  const files: Record<string, string> = {};
  for (let i = 0; i < 1200; i++) files[`d${i % 6}/f${i}.txt`] = `${i}`;
  await writeTree(dir, files);
  const serial = await walkTree(dir, { parallel: false });
  const doomed = await statWorkerForTests();
  const walking = walkTree(dir, { parallel: true, workerOnly: true });
  await doomed.terminate();
  const afterDeath = await walking;
  assert.deepEqual(afterDeath.names.all(), serial.names.all());
  assert.deepEqual([...afterDeath.stats], [...serial.stats]);
  const next = await statWorkerForTests();
  assert.notEqual(next, doomed, 'a new thread');
  const again = await walkTree(dir, { parallel: true, workerOnly: true });
  assert.deepEqual([...again.stats], [...serial.stats]);
});

test('hashing on a worker thread gives every file its own md5, in order', async () => {
  const { hashFilesParallel } = await import('../../src/hash/parallel-hash.js');
  const dir = await tempDir();
  const files: Record<string, string | Uint8Array> = { big: Buffer.alloc((2 << 20) + 1, 7) }; // several reads
  for (let i = 0; i < 200; i++) files[`f${i}`] = `file ${i}`;
  await writeTree(dir, files);
  const paths = Object.keys(files).map((f) => path.join(dir, f));
  const sizes = await Promise.all(paths.map(async (p) => (await fs.stat(p)).size));
  const viaWorker = await hashFilesParallel(paths, sizes, { workerOnly: true });
  const shared = await hashFilesParallel(paths, sizes);
  const direct = await Promise.all(paths.map((p) => hashFile(p)));
  assert.deepEqual(viaWorker, direct);
  assert.deepEqual(shared, direct);
  await fs.rm(paths[3] as string);
  await assert.rejects(
    hashFilesParallel(paths, sizes, { workerOnly: true }),
    /ENOENT/,
    'an unreadable file is an error',
  );
});

test('lookups in place (big segments) and from segments read whole (small ones) give the same answers', async () => {
  const dir = path.join(await tempDir(), 'stat-cache');
  const old = Date.now() - 60_000;
  const st = (i: number, v = 0) => ({ ino: 1000 + i, mtimeMs: old + v, size: 10 + i });
  const md5 = (i: number, v = 0) => `${String(i).padStart(4, '0')}${String(v).padStart(28, '0')}` as Md5;
  // three segments; path 3 has a newer version in the last one, path 7 is only in the first
  for (const [from, to, v] of [
    [0, 8, 0],
    [8, 12, 0],
    [3, 4, 1],
  ] as const) {
    const writer = new StatCache(dir);
    await writer.load();
    for (let i = from; i < to; i++) writer.setFile(`/p/${i}`, st(i, v), md5(i, v), Date.now());
    await writer.save();
    await new Promise((r) => setTimeout(r, 5)); // segment names sort by their ms timestamp
  }
  const answers = async (readWholeBelow: number) => {
    const c = new StatCache(dir, readWholeBelow);
    await c.load();
    const out: (string | undefined)[] = [];
    for (let i = 0; i < 13; i++) for (const v of [0, 1]) out.push(c.getFile(`/p/${i}`, st(i, v)));
    return out;
  };
  const inPlace = await answers(0);
  assert.deepEqual(await answers(Number.POSITIVE_INFINITY), inPlace);
  assert.equal(inPlace[3 * 2], md5(3, 0), 'an older version of a path still matches its own stat');
  assert.equal(inPlace[3 * 2 + 1], md5(3, 1));
  assert.equal(inPlace[7 * 2], md5(7, 0));
  assert.equal(inPlace[12 * 2], undefined);
});
