/**
 * The walk's names (src/hash/relpaths.ts, src/hash/walk.ts): a kept listing is walked from its joined text
 * without a string per file, by the main thread and by the stat thread alike, and gives exactly what a fresh
 * walk gives, non-ASCII names included; a file the listing names but that is gone when stat'ed is dropped,
 * and that listing is not kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Relpaths } from '../../src/hash/relpaths.js';
import { walkTree } from '../../src/hash/walk.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

test('Relpaths: each name sliced out of the joined text, the empty list, and every name at once', () => {
  const names = Relpaths.fromArray(['a', 'dir/é.txt', 'x/😀/y', 'z']);
  assert.equal(names.count, 4);
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => names.at(i)),
    ['a', 'dir/é.txt', 'x/😀/y', 'z'],
  );
  assert.deepEqual(names.all(), ['a', 'dir/é.txt', 'x/😀/y', 'z']);
  assert.equal(names.joined, 'a\0dir/é.txt\0x/😀/y\0z');
  const none = Relpaths.fromJoined('');
  assert.equal(none.count, 0);
  assert.deepEqual(none.all(), []);
});

const FILES = 1100; // two of the walk's chunks
/** One tree for the walk tests, made at the file's top level so it outlives each test (the last removes a folder). */
const made = (async () => {
  const dir = await tempDir();
  const files: Record<string, string> = { 'é/ü.txt': 'umlaut', '😀.bin': 'emoji' };
  for (let i = 0; i < FILES; i++) files[`d${i % 7}/s${i % 3}/f${i}.txt`] = `${i}`;
  await writeTree(dir, files);
  return dir;
})();
const tree = (): Promise<string> => made;

test('a kept listing walked by the main thread and by the stat thread gives what a fresh walk gives', async () => {
  const dir = await tree();
  const fresh = await walkTree(dir, { parallel: false });
  assert.equal(fresh.count, FILES + 2);
  assert.ok(fresh.listing.dirs.length > 0, 'a listing to keep');
  for (const opts of [{ parallel: false }, { parallel: true, workerOnly: true }]) {
    const again = await walkTree(dir, { ...opts, known: fresh.listing });
    assert.equal(again.listing, fresh.listing, 'the kept listing was used, not a readdir');
    assert.deepEqual(again.names.all(), fresh.names.all());
    assert.deepEqual([...again.stats], [...fresh.stats]);
  }
  const k = fresh.names.all().indexOf('é/ü.txt');
  const st = lstatSync(path.join(dir, 'é/ü.txt'));
  assert.deepEqual([...fresh.stats.subarray(3 * k, 3 * k + 3)], [st.ino, st.mtimeMs, st.size]);
});

test('a name the listing holds but the folder no longer has is dropped, and that listing is not kept', async () => {
  const dir = await tree();
  const fresh = await walkTree(dir, { parallel: false });
  // As if the file went between the listing and its stat (the folders' stamps still hold).
  const all = fresh.names.all();
  const lying = { ...fresh.listing, files: [...all.slice(0, 10), 'd0/gone.txt', ...all.slice(10)].join('\0') };
  for (const opts of [{ parallel: false }, { parallel: true, workerOnly: true }]) {
    const got = await walkTree(dir, { ...opts, known: lying });
    assert.equal(got.count, FILES + 2);
    assert.deepEqual(got.names.all(), all);
    assert.equal(got.names.joined, fresh.names.joined);
    assert.deepEqual([...got.stats], [...fresh.stats]);
    assert.deepEqual(got.listing.dirs, [], 'not kept for the next walk');
  }
  // A folder removed for real moves its parent's stamp: the kept listing is not used, the folder is read.
  await fs.rm(path.join(dir, 'd1'), { recursive: true });
  const after = await walkTree(dir, { parallel: false, known: fresh.listing });
  assert.notEqual(after.listing, fresh.listing);
  assert.deepEqual(
    after.names.all(),
    all.filter((r) => !r.startsWith('d1/')),
  );
});

test('two folders hashed at once share the one helper thread (the stat thread), each file its own md5', async () => {
  const { hashFilesParallel } = await import('../../src/hash/parallel-hash.js');
  const { statWorkerForTests } = await import('../../src/hash/stat-worker.js');
  const { hashFile } = await import('../../src/hash/md5-file.js');
  const dir = await tempDir();
  const files: Record<string, string | Uint8Array> = {
    'a/big': Buffer.alloc((1 << 20) + 5, 9),
    'b/exact': Buffer.alloc(1 << 20, 4),
  };
  for (let i = 0; i < 400; i++) files[`${i % 2 ? 'a' : 'b'}/f${i}-é`] = `file ${i}`.repeat(i % 13);
  await writeTree(dir, files);
  const lists = ['a', 'b'].map((t) =>
    Object.keys(files)
      .filter((f) => f.startsWith(`${t}/`))
      .map((f) => path.join(dir, f)),
  );
  const thread = await statWorkerForTests();
  const answers: unknown[] = [];
  const listen = (m: unknown) => answers.push(m);
  thread.on('message', listen);
  const sizes = lists.map((l) => l.map((p) => lstatSync(p).size));
  const got = await Promise.all(lists.map((l, k) => hashFilesParallel(l, sizes[k]!, { workerOnly: true })));
  thread.off('message', listen);
  assert.equal(await statWorkerForTests(), thread, 'the same thread served both');
  assert.equal(answers.length, 2, 'both hash jobs were answered by the stat thread');
  for (const [k, l] of lists.entries()) assert.deepEqual(got[k], await Promise.all(l.map((p) => hashFile(p))));
});

test('a helper thread that dies mid-hash leaves its files to the main thread', { timeout: 30_000 }, async () => {
  const { hashFilesParallel } = await import('../../src/hash/parallel-hash.js');
  const { statWorkerForTests } = await import('../../src/hash/stat-worker.js');
  const { hashFile } = await import('../../src/hash/md5-file.js');
  const dir = await tempDir();
  const files: Record<string, string> = {};
  for (let i = 0; i < 400; i++) files[`f${i}`] = `${i}`.repeat(50);
  await writeTree(dir, files);
  const paths = Object.keys(files).map((f) => path.join(dir, f));
  const sizes = paths.map((p) => lstatSync(p).size);
  const doomed = await statWorkerForTests();
  const hashing = hashFilesParallel(paths, sizes, { workerOnly: true });
  await doomed.terminate();
  assert.deepEqual(await hashing, await Promise.all(paths.map((p) => hashFile(p))));
});

test('a thread that cannot start leaves walk and hash to the main thread; the next job starts one', async () => {
  const { hashFilesParallel } = await import('../../src/hash/parallel-hash.js');
  const { failNextStatWorkerSpawnForTests, statWorkerForTests } = await import('../../src/hash/stat-worker.js');
  const { hashFile } = await import('../../src/hash/md5-file.js');
  const dir = await tempDir();
  const files: Record<string, string> = {};
  for (let i = 0; i < 300; i++) files[`d${i % 4}/f${i}`] = `${i}`.repeat(i % 17);
  await writeTree(dir, files);
  const serial = await walkTree(dir, { parallel: false });
  await (await statWorkerForTests()).terminate(); // so that the next job must start a thread
  for (const opts of [{ parallel: true }, { parallel: true, workerOnly: true }]) {
    failNextStatWorkerSpawnForTests();
    const got = await walkTree(dir, opts);
    assert.deepEqual(got.names.all(), serial.names.all());
    assert.deepEqual([...got.stats], [...serial.stats]);
  }
  const paths = serial.names.all().map((r) => path.join(dir, r));
  const sizes = paths.map((p) => lstatSync(p).size);
  failNextStatWorkerSpawnForTests();
  assert.deepEqual(
    await hashFilesParallel(paths, sizes, { workerOnly: true }),
    await Promise.all(paths.map((p) => hashFile(p))),
  );
  const again = await walkTree(dir, { parallel: true, workerOnly: true });
  assert.deepEqual([...again.stats], [...serial.stats], 'a thread started for the next job');
});
