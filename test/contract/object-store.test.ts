import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openObjectStore } from '../../src/cache/index.js';
import { md5Hex } from '../../src/hash/index.js';
import { tempDir } from '../helpers/tmp.js';
import { objectStoreContract } from './object-store-contract.js';

objectStoreContract('local cache', async () => openObjectStore(path.join(await tempDir(), '.cache')));

test('local cache: DVC 3 layout files/md5/ab/cdef…, read-only objects, temp files not listed', async () => {
  const cache = path.join(await tempDir(), '.cache');
  const store = openObjectStore(cache);
  const src = path.join(cache, '..', 'x.txt');
  await fs.writeFile(src, 'layout');
  const md5 = md5Hex('layout');
  await store.addFile(src, md5);
  const obj = path.join(cache, 'files', 'md5', md5.slice(0, 2), md5.slice(2));
  assert.equal(store.objectPath(md5), obj);
  assert.equal(await fs.readFile(obj, 'utf8'), 'layout');
  assert.equal((await fs.stat(obj)).mode & 0o777, 0o444);
  await fs.writeFile(path.join(path.dirname(obj), `.${md5.slice(2)}.123.abcd.tmp`), 'partial');
  const listed: string[] = [];
  for await (const m of store.list()) listed.push(m);
  assert.deepEqual(listed, [md5]);
});

test('local cache: addFile of a symlink with move or hardlink stores the target content, not the link', async () => {
  const dir = await tempDir();
  const store = openObjectStore(path.join(dir, '.cache'));
  const target = path.join(dir, 'target.txt');
  await fs.writeFile(target, 'target bytes');
  const md5 = md5Hex('target bytes');
  for (const opts of [{ move: true }, { hardlink: true }]) {
    const link = path.join(dir, 'link');
    await fs.symlink(target, link);
    await store.addFile(link, md5, opts);
    assert.ok((await fs.lstat(store.objectPath(md5))).isFile());
    assert.ok((await fs.stat(target)).mode & 0o200, 'the target keeps its mode');
    await store.remove(md5);
    await fs.rm(link, { force: true });
  }
});
