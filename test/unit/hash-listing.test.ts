/**
 * The listing kept with a directory's record: a warm walk skips readdir while every folder of the tree
 * keeps its inode and mtime, and never misses a file created, removed or renamed; a racy or hostile
 * listing is not used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CachingHasher } from '../../src/hash/hasher.js';
import { StatCache } from '../../src/hash/stat-cache.js';
import { encodeSegment } from '../../src/hash/stat-table.js';
import { parseListing, safeRelpaths } from '../../src/hash/listing.js';
import { walkTree } from '../../src/hash/walk.js';
import { age, ageTree, tempDir, writeTree } from '../helpers/tmp.js';

/** Age every file and folder below root (root too), so neither counts as just modified. */
async function ageAll(root: string): Promise<void> {
  await ageTree(root);
  for (const d of await fs.readdir(root, { withFileTypes: true, recursive: true })) {
    if (d.isDirectory()) await age(path.join(d.parentPath ?? (d as unknown as { path: string }).path, d.name));
  }
  await age(root);
}

function hasherOn(cacheDir: string) {
  const statCache = new StatCache(path.join(cacheDir, 'tmp', 'stat-cache'));
  return { statCache, hasher: new CachingHasher(statCache) };
}

/** A project with data/ (two folders of files), aged, hashed once and saved; a fresh stat cache on it. */
async function warmProject() {
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  await writeTree(data, { 'a.txt': 'a', 'x/b.txt': 'b', 'x/c.txt': 'c', 'y/d.txt': 'd' });
  await ageAll(data);
  const cacheDir = path.join(dir, '.cache');
  const first = hasherOn(cacheDir);
  const cold = await first.hasher.hashPath(data);
  await first.hasher.save();
  const warm = hasherOn(cacheDir);
  await warm.statCache.load();
  return { data, cacheDir, cold, warm };
}

test('a saved listing is reused by the next process while its folders are unchanged', async () => {
  const { data, cold, warm } = await warmProject();
  const known = warm.statCache.getListing(data);
  assert.ok(known, 'the directory record keeps its listing');
  assert.deepEqual(
    known.dirs.map(([rel]) => rel),
    ['', 'x', 'y'],
  );
  assert.equal(known.files, ['a.txt', 'x/b.txt', 'x/c.txt', 'y/d.txt'].join('\0'));
  const tree = await walkTree(data, { known });
  assert.equal(tree.listing, known, 'no readdir: the kept listing is the one used');
  assert.deepEqual(await warm.hasher.hashPath(data, { infoOnly: true }), { info: cold?.info });
});

test('a file created, removed or renamed in a subfolder is seen though the listing was kept', async () => {
  const { data, cold, warm, cacheDir } = await warmProject();
  await fs.writeFile(path.join(data, 'x/new.txt'), 'new');
  await age(path.join(data, 'x/new.txt'));
  const added = await warm.hasher.hashPath(data);
  assert.deepEqual(
    added?.entries?.map((e) => e.relpath),
    ['a.txt', 'x/b.txt', 'x/c.txt', 'x/new.txt', 'y/d.txt'],
  );
  await warm.hasher.save();

  await fs.rename(path.join(data, 'y/d.txt'), path.join(data, 'y/e.txt'));
  await fs.rm(path.join(data, 'x/new.txt'));
  const next = hasherOn(cacheDir);
  await next.statCache.load();
  const moved = await next.hasher.hashPath(data);
  assert.deepEqual(
    moved?.entries?.map((e) => e.relpath),
    ['a.txt', 'x/b.txt', 'x/c.txt', 'y/e.txt'],
  );
  assert.notEqual(moved?.info.md5, cold?.info.md5);
});

test('a folder replaced by another with the same mtime is listed again (its inode differs)', async () => {
  const { data, warm } = await warmProject();
  const y = path.join(data, 'y');
  const { mtime } = await fs.stat(y);
  await fs.rename(y, path.join(data, '..', 'y-old'));
  await writeTree(y, { 'd.txt': 'd', 'f.txt': 'f' });
  await ageTree(y);
  await fs.utimes(y, mtime, mtime);
  const { mtime: parentMtime } = await fs.stat(path.join(data, '..', 'y-old'));
  await fs.utimes(data, parentMtime, parentMtime); // hide the parent's change too: only y's inode tells
  const r = await warm.hasher.hashPath(data);
  assert.ok(r?.entries?.some((e) => e.relpath === 'y/f.txt'));
});

test(`a listing read while a folder was just modified is not kept: an entry added within the same mtime is \
seen`, async () => {
  const dir = await tempDir();
  const data = path.join(dir, 'data');
  await writeTree(data, { 'a.txt': 'a' });
  await ageAll(data);
  const soon = new Date(Date.now() + 60_000); // "just modified", however slow this machine is
  await fs.utimes(data, soon, soon);
  const { hasher, statCache } = hasherOn(path.join(dir, '.cache'));
  await hasher.hashPath(data);
  assert.equal(statCache.getListing(data), undefined, 'a racy folder: its listing is not kept');
  await fs.writeFile(path.join(data, 'b.txt'), 'b');
  await age(path.join(data, 'b.txt'));
  await fs.utimes(data, soon, soon); // the same stamp as before the entry was added
  const r = await hasher.hashPath(data);
  assert.deepEqual(
    r?.entries?.map((e) => e.relpath),
    ['a.txt', 'b.txt'],
  );
});

test('a hostile or damaged listing in a segment is dropped: the walk lists the folder itself', async () => {
  const { data, cacheDir } = await warmProject();
  const st = await fs.stat(data);
  const segDir = path.join(cacheDir, 'tmp', 'stat-cache');
  for (const name of await fs.readdir(segDir)) await fs.rm(path.join(segDir, name));
  const record = (files: string) => [
    data,
    'fp',
    `${'0'.repeat(32)}.dir`,
    1,
    1,
    0,
    [[['', st.ino, st.mtimeMs]], files, [], 0],
  ];
  const dirs = JSON.stringify([record('../../etc/passwd')]);
  await fs.writeFile(path.join(segDir, '000000000000001-1-aa.bin'), encodeSegment([], dirs, Date.now()));
  const { statCache, hasher } = hasherOn(cacheDir);
  await statCache.load();
  assert.equal(statCache.getListing(data), undefined);
  const r = await hasher.hashPath(data);
  assert.deepEqual(
    r?.entries?.map((e) => e.relpath),
    ['a.txt', 'x/b.txt', 'x/c.txt', 'y/d.txt'],
  );

  for (const bad of ['/abs', 'a//b', 'a\0./b', 'x/..', 'a\0\0b', '.']) assert.equal(safeRelpaths(bad), false, bad);
  for (const ok of ['a', '.hidden', 'a/b\0c/..d', '...']) assert.equal(safeRelpaths(ok), true, ok);
  const stamp: [string, number, number] = ['', 1, 2];
  assert.equal(parseListing([[stamp], 'a\0b', [2], 0], 10), undefined, 'link index out of range');
  assert.equal(parseListing([[stamp], 'a', [], 10], 10), undefined, 'racy when its segment was written');
  assert.equal(parseListing([[['x', 1, 2]], 'a', [], 0], 10), undefined, 'the root must come first');
  assert.deepEqual(parseListing([[stamp], 'a\0b', [1], 0], 10), {
    dirs: [stamp],
    files: 'a\0b',
    links: [1],
    racyUntil: 0,
  });
});
