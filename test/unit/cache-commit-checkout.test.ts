/**
 * commitOutput / checkoutOutput per link type: the cache can never be changed through the workspace,
 * checkout restores exactly the manifest, and bad objects are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkoutOutput, commitOutput, openObjectStore, unprotectOutput } from '../../src/cache/index.js';
import type { LinkType } from '../../src/cache/types.js';
import { LockstepError } from '../../src/errors.js';
import { CachingHasher } from '../../src/hash/hasher.js';
import { hashFile, md5Hex, openHasher } from '../../src/hash/index.js';
import { statCacheFor } from '../../src/hash/stat-cache.js';
import { ageTree, tempDir, writeTree } from '../helpers/tmp.js';

const TREE = { 'a.txt': 'alpha\n', 'sub/b.txt': 'beta\n', 'sub/deep/c.txt': 'gamma\n', 'empty.txt': '' };

async function project() {
  const root = await tempDir();
  const cacheDir = path.join(root, '.cache');
  await writeTree(path.join(root, 'data'), TREE);
  await fs.writeFile(path.join(root, 'model.bin'), 'weights');
  await ageTree(root);
  return { root, cacheDir, store: openObjectStore(cacheDir), hasher: await openHasher(cacheDir) };
}

async function readTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const d of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    const parent =
      (d as unknown as { parentPath?: string; path: string }).parentPath ?? (d as unknown as { path: string }).path;
    if (!d.isDirectory())
      out[path.relative(dir, path.join(parent, d.name))] = await fs.readFile(path.join(parent, d.name), 'utf8');
  }
  return out;
}

for (const type of ['copy', 'hardlink', 'symlink'] as const) {
  test(`${type}: commit stores every file and the manifest, and the workspace keeps the content`, async () => {
    const p = await project();
    const info = await commitOutput(p.store, p.hasher, path.join(p.root, 'data'), [type]);
    assert.equal(info.nfiles, 4);
    assert.ok(await p.store.has(info.md5));
    for (const content of Object.values(TREE)) assert.ok(await p.store.verify(md5Hex(content)));
    assert.deepEqual(await readTree(path.join(p.root, 'data')), TREE);

    const ws = path.join(p.root, 'data', 'a.txt');
    const obj = p.store.objectPath(md5Hex(TREE['a.txt']));
    const lst = await fs.lstat(ws);
    if (type === 'copy') {
      assert.notEqual(lst.ino, (await fs.stat(obj)).ino);
      assert.ok(lst.mode & 0o200, 'the workspace copy stays writable');
    } else if (type === 'hardlink') {
      assert.equal(lst.ino, (await fs.stat(obj)).ino);
      assert.equal(lst.mode & 0o222, 0, 'a hardlinked output is read-only');
    } else {
      assert.ok(lst.isSymbolicLink());
      assert.equal(await fs.readlink(ws), obj);
    }
  });

  test(`${type}: editing the workspace output (after unprotect, as documented) never changes the object`, async () => {
    const p = await project();
    await commitOutput(p.store, p.hasher, path.join(p.root, 'data'), [type]);
    const ws = path.join(p.root, 'data', 'sub', 'b.txt');
    const md5 = md5Hex(TREE['sub/b.txt']);
    const n = await unprotectOutput(path.join(p.root, 'data'));
    assert.equal(n, type === 'copy' ? 0 : 4);
    await fs.appendFile(ws, 'edited\n');
    assert.equal(await fs.readFile(ws, 'utf8'), 'beta\nedited\n');
    assert.equal(await hashFile(p.store.objectPath(md5)), md5);
  });

  test(`${type}: checkout restores deleted, edited and extra files, then finds nothing to do`, async () => {
    const p = await project();
    const data = path.join(p.root, 'data');
    const info = await commitOutput(p.store, p.hasher, data, [type]);
    await unprotectOutput(data);
    await fs.rm(path.join(data, 'sub', 'deep'), { recursive: true });
    await fs.writeFile(path.join(data, 'a.txt'), 'edited');
    await writeTree(data, { 'extra.txt': 'not in the manifest', 'junk/more.txt': 'junk' });
    assert.deepEqual(await checkoutOutput(p.store, info, data, [type]), { changed: true });
    assert.deepEqual(await readTree(data), TREE);
    await assert.rejects(fs.access(path.join(data, 'junk')), 'directories emptied by checkout are removed');
    assert.deepEqual(await checkoutOutput(p.store, info, data, [type]), { changed: false });

    await fs.rm(data, { recursive: true });
    assert.deepEqual(await checkoutOutput(p.store, info, data, [type]), { changed: true });
    assert.deepEqual(await readTree(data), TREE);
    if (type === 'copy')
      assert.ok((await fs.stat(path.join(data, 'a.txt'))).mode & 0o200, 'checked-out copies are writable');
  });
}

test('single files: commit and checkout with hardlink, falling back from reflink', async () => {
  const p = await project();
  const file = path.join(p.root, 'model.bin');
  const info = await commitOutput(p.store, p.hasher, file, ['reflink', 'hardlink']);
  assert.deepEqual(info, { md5: md5Hex('weights'), size: 7 });
  await fs.rm(file);
  assert.deepEqual(await checkoutOutput(p.store, info, file, ['reflink', 'hardlink']), { changed: true });
  assert.equal(await fs.readFile(file, 'utf8'), 'weights');
});

test('default [reflink, copy] works here (reflink falls back to copy where unsupported)', async () => {
  const p = await project();
  const data = path.join(p.root, 'data');
  const info = await commitOutput(p.store, p.hasher, data, ['reflink', 'copy']);
  await fs.rm(data, { recursive: true });
  await checkoutOutput(p.store, info, data, ['reflink', 'copy']);
  assert.deepEqual(await readTree(data), TREE);
  await fs.writeFile(path.join(data, 'a.txt'), 'independent');
  assert.ok(await p.store.verify(md5Hex(TREE['a.txt'])));
});

test('a file already in place is not read again by a second checkout (stat cache)', async () => {
  const p = await project();
  const data = path.join(p.root, 'data');
  const info = await commitOutput(p.store, p.hasher, data, ['copy']);
  let reads = 0;
  const hasher = new CachingHasher(statCacheFor(p.cacheDir), { onRead: () => reads++ });
  assert.deepEqual(await checkoutOutput(p.store, info, data, ['copy'], { hasher }), { changed: false });
  assert.equal(reads, 0, 'commit already recorded the (old, not racy) workspace files');
});

test('a corrupt object is refused with the exact message, and nothing is placed from it', async () => {
  const p = await project();
  const data = path.join(p.root, 'data');
  const info = await commitOutput(p.store, p.hasher, data, ['copy']);
  const md5 = md5Hex(TREE['sub/b.txt']);
  const obj = p.store.objectPath(md5);
  await fs.chmod(obj, 0o644);
  await fs.writeFile(obj, 'BETA\n'); // same size, different bytes
  await fs.rm(path.join(data, 'sub', 'b.txt'));
  await assert.rejects(checkoutOutput(p.store, info, data, ['copy'], { displayRoot: p.root }), (e: unknown) => {
    assert.ok(e instanceof LockstepError);
    assert.equal(e.reason, 'corrupt-object');
    assert.equal(
      e.message,
      `cache object files/md5/${md5.slice(0, 2)}/${md5.slice(2)} for 'data/sub/b.txt' does not match its hash`,
    );
    assert.equal(e.hint, 'Remove it and run lockstep pull or repro.');
    return true;
  });
  await assert.rejects(fs.access(path.join(data, 'sub', 'b.txt')));
});

test('a hardlinked output edited in place by root is caught as a corrupt object at the next checkout', async () => {
  const p = await project();
  const data = path.join(p.root, 'data');
  const info = await commitOutput(p.store, p.hasher, data, ['hardlink']);
  await ageTree(path.join(p.cacheDir, 'files'));
  await checkoutOutput(p.store, info, data, ['hardlink']); // verifies and marks the objects
  const ws = path.join(data, 'a.txt');
  try {
    await fs.writeFile(ws, 'ALPHA\n'); // only root gets past the 0444 mode
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'EACCES');
    return; // not root: the edit was refused, the object is safe
  }
  await fs.rm(ws);
  await assert.rejects(
    checkoutOutput(p.store, info, data, ['hardlink']),
    (e: unknown) => e instanceof LockstepError && e.reason === 'corrupt-object',
  );
});

test('a missing object or manifest fails with missing-object', async () => {
  const p = await project();
  const data = path.join(p.root, 'data');
  const info = await commitOutput(p.store, p.hasher, data, ['copy']);
  const md5 = md5Hex(TREE['a.txt']);
  await p.store.remove(md5);
  await fs.rm(path.join(data, 'a.txt'));
  await assert.rejects(checkoutOutput(p.store, info, data, ['copy'], { displayRoot: p.root }), (e: unknown) => {
    assert.ok(e instanceof LockstepError);
    assert.equal(e.reason, 'missing-object');
    assert.equal(e.message, `cache object files/md5/${md5.slice(0, 2)}/${md5.slice(2)} for 'data/a.txt' is missing`);
    return true;
  });
  await p.store.remove(info.md5);
  await assert.rejects(
    checkoutOutput(p.store, info, data, ['copy']),
    (e: unknown) => e instanceof LockstepError && e.reason === 'missing-object',
  );
});

test('verification is done once: a verified object is marked in the stat cache', async () => {
  const p = await project();
  const file = path.join(p.root, 'model.bin');
  const info = await commitOutput(p.store, p.hasher, file, ['copy']);
  const obj = p.store.objectPath(info.md5);
  await ageTree(path.join(p.cacheDir, 'files'));
  await fs.rm(file);
  await checkoutOutput(p.store, info, file, ['copy']);
  assert.equal(statCacheFor(p.cacheDir).getFile(obj, await fs.stat(obj)), info.md5);
});

test('commitOutput of a path that does not exist fails with missing-output', async () => {
  const p = await project();
  await assert.rejects(
    commitOutput(p.store, p.hasher, path.join(p.root, 'nope'), ['copy'], { displayRoot: p.root }),
    (e: unknown) => {
      assert.ok(e instanceof LockstepError);
      assert.equal(e.reason, 'missing-output');
      assert.equal(e.message, "output 'nope' does not exist");
      return true;
    },
  );
});

test('checkout replaces a file by a directory and a directory by a file', async () => {
  const p = await project();
  const data = path.join(p.root, 'data');
  const file = path.join(p.root, 'model.bin');
  const dirInfo = await commitOutput(p.store, p.hasher, data, ['copy']);
  const fileInfo = await commitOutput(p.store, p.hasher, file, ['copy']);
  await checkoutOutput(p.store, fileInfo, data, ['copy']);
  assert.equal(await fs.readFile(data, 'utf8'), 'weights');
  await checkoutOutput(p.store, dirInfo, data, ['copy']);
  assert.deepEqual(await readTree(data), TREE);
});

test('every link type round-trips a single file placed over an existing one', async () => {
  for (const type of ['copy', 'hardlink', 'symlink'] satisfies LinkType[]) {
    const p = await project();
    const file = path.join(p.root, 'model.bin');
    const info = await commitOutput(p.store, p.hasher, file, ['copy']);
    await fs.writeFile(file, 'other');
    await checkoutOutput(p.store, info, file, [type]);
    assert.equal(await fs.readFile(file, 'utf8'), 'weights', type);
  }
});

test('reflink alone where the file system cannot clone fails with a config error, not a raw errno', async (t) => {
  const p = await project();
  const { reflinkPossible } = await import('../../src/cache/link.js');
  if (reflinkPossible(p.cacheDir, p.root)) {
    t.skip('this file system supports reflinks');
    return;
  }
  await assert.rejects(commitOutput(p.store, p.hasher, path.join(p.root, 'model.bin'), ['reflink']), (e: unknown) => {
    assert.ok(e instanceof LockstepError);
    assert.equal(e.reason, 'config');
    assert.match(
      e.message,
      /^no configured cache link type works here \(cache\.type reflink; reflink failed with E[A-Z]+\)$/,
    );
    return true;
  });
});

test('checkout never writes through a file or a symlinked folder standing where a manifest folder goes', async () => {
  const p = await project();
  const data = path.join(p.root, 'data');
  const info = await commitOutput(p.store, p.hasher, data, ['copy']);
  const elsewhere = path.join(p.root, 'elsewhere');
  await writeTree(elsewhere, { 'b.txt': 'not yours' });
  await fs.rm(path.join(data, 'sub'), { recursive: true });
  await fs.symlink(elsewhere, path.join(data, 'sub'));
  await fs.rm(path.join(data, 'a.txt'));
  await fs.mkdir(path.join(data, 'a.txt'));
  await checkoutOutput(p.store, info, data, ['copy']);
  assert.deepEqual(await readTree(data), TREE);
  assert.ok((await fs.lstat(path.join(data, 'sub'))).isDirectory());
  assert.equal(await fs.readFile(path.join(elsewhere, 'b.txt'), 'utf8'), 'not yours');
});

test(`a user's symlink inside an output is hashed through; its target is copied in, never moved or made \
read-only`, async () => {
  for (const type of ['copy', 'hardlink', 'symlink'] satisfies LinkType[]) {
    const p = await project();
    const target = path.join(p.root, 'outside.txt');
    await fs.writeFile(target, 'outside content');
    await fs.symlink(target, path.join(p.root, 'data', 'link.txt'));
    const info = await commitOutput(p.store, p.hasher, path.join(p.root, 'data'), [type]);
    const obj = p.store.objectPath(md5Hex('outside content'));
    assert.ok((await fs.lstat(obj)).isFile(), `${type}: the object is a regular file`);
    assert.equal(await fs.readFile(obj, 'utf8'), 'outside content');
    assert.equal(await fs.readFile(target, 'utf8'), 'outside content', `${type}: the target is untouched`);
    assert.ok((await fs.stat(target)).mode & 0o200, `${type}: the target stays writable`);
    assert.equal(info.nfiles, 5);
  }
});

test(`reflink where the file system clones: independent writable copies, the cache never changed through \
them`, async (t) => {
  // ext4 and tmpfs cannot clone; set LOCKSTEP_REFLINK_DIR to a folder on btrfs or XFS (reflink=1) to run this
  const base = process.env.LOCKSTEP_REFLINK_DIR;
  const p = await project();
  const root = base ? await fs.mkdtemp(path.join(base, 'lockstep-reflink-')) : p.root;
  if (base) t.after(() => fs.rm(root, { recursive: true, force: true }));
  const cacheDir = path.join(root, '.cache');
  const { reflinkPossible } = await import('../../src/cache/link.js');
  if (!reflinkPossible(cacheDir, root)) {
    t.skip(`the file system of ${root} cannot clone files (reflink); set LOCKSTEP_REFLINK_DIR to a btrfs/XFS folder`);
    return;
  }
  const store = openObjectStore(cacheDir);
  const hasher = await openHasher(cacheDir);
  const data = path.join(root, 'data');
  await writeTree(data, TREE);
  const info = await commitOutput(store, hasher, data, ['reflink']);
  const a = path.join(data, 'a.txt');
  const st = await fs.lstat(a);
  assert.ok(!st.isSymbolicLink() && st.nlink === 1, 'a clone is its own file, not a link to the object');
  assert.ok(st.mode & 0o200, 'and stays writable');
  await fs.writeFile(a, 'edited');
  assert.equal(await fs.readFile(store.objectPath(md5Hex('alpha\n')), 'utf8'), 'alpha\n');
  await fs.rm(data, { recursive: true });
  assert.deepEqual(await checkoutOutput(store, info, data, ['reflink']), { changed: true });
  assert.deepEqual(await readTree(data), TREE);
  assert.equal((await fs.lstat(a)).nlink, 1);
});
