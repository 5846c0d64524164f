/**
 * The ObjectStore contract, run against every store (local cache, remotes): a backend's own test
 * file is `objectStoreContract('name', makeStore)`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ObjectStore } from '../../src/cache/types.js';
import { LockstepError } from '../../src/errors.js';
import { manifestJson, md5Hex } from '../../src/hash/index.js';
import { asMd5, type DirEntry, type Md5 } from '../../src/hash/types.js';
import { tempDir } from '../helpers/tmp.js';

/** Write `content` to a fresh temp file; returns its path and md5. */
async function source(content: string): Promise<{ file: string; md5: Md5 }> {
  const dir = await tempDir('lockstep-src-');
  const file = path.join(dir, 'src.bin');
  await fs.writeFile(file, content);
  return { file, md5: md5Hex(content) };
}

async function listAll(store: ObjectStore): Promise<Md5[]> {
  const out: Md5[] = [];
  for await (const m of store.list()) out.push(m);
  return out.sort();
}

export function objectStoreContract(name: string, makeStore: () => Promise<ObjectStore>): void {
  test(`${name}: has() is false until addFile(), then true; the source is kept`, async () => {
    const store = await makeStore();
    const { file, md5 } = await source('hello object');
    assert.equal(await store.has(md5), false);
    await store.addFile(file, md5);
    assert.equal(await store.has(md5), true);
    assert.equal(await fs.readFile(file, 'utf8'), 'hello object');
    assert.equal(await store.verify(md5), true);
  });

  test(`${name}: addFile with move consumes the source`, async () => {
    const store = await makeStore();
    const { file, md5 } = await source('moved object');
    await store.addFile(file, md5, { move: true });
    assert.equal(await store.has(md5), true);
    assert.equal(await store.verify(md5), true);
    await assert.rejects(fs.access(file));
  });

  test(`${name}: an object already present is not rewritten`, async () => {
    const store = await makeStore();
    const good = await source('the real content');
    const other = await source('something else entirely');
    await store.addFile(good.file, good.md5);
    await store.addFile(other.file, good.md5); // same name, wrong content: must be ignored
    assert.equal(await store.verify(good.md5), true);
  });

  test(`${name}: verify() is false for content that does not match its name, and for absent objects`, async () => {
    const store = await makeStore();
    const lie = await source('content A');
    const wrongName = md5Hex('content B');
    // A store may trust the caller's hash (the local cache does) or refuse the lie on upload.
    await store.addFile(lie.file, wrongName).catch(() => undefined);
    assert.equal(await store.verify(wrongName), false);
    assert.equal(await store.verify(md5Hex('never added')), false);
  });

  test(`${name}: manifests round-trip and are named by the md5 of DVC's JSON + .dir`, async () => {
    const store = await makeStore();
    const entries: DirEntry[] = [
      { relpath: 'sub/b.txt', md5: md5Hex('b'), size: 1 },
      { relpath: 'a.txt', md5: md5Hex('a'), size: 1 },
      { relpath: 'ü/c.txt', md5: md5Hex('c'), size: 1 },
    ];
    const md5 = await store.addManifest(entries);
    const sorted = [entries[1], entries[0], entries[2]] as DirEntry[];
    assert.equal(md5, `${md5Hex(manifestJson(sorted))}.dir`);
    assert.equal(await store.has(md5), true);
    assert.equal(await store.verify(md5), true);
    const back = await store.readManifest(md5);
    assert.deepEqual(
      back.map((e) => [e.relpath, e.md5]),
      sorted.map((e) => [e.relpath, e.md5]),
    );
    assert.equal(await store.addManifest([...entries].reverse()), md5, 'order of input does not matter');
  });

  test(`${name}: readManifest of an absent manifest fails with missing-object`, async () => {
    const store = await makeStore();
    await assert.rejects(
      store.readManifest(asMd5(`${md5Hex('nothing')}.dir`)),
      (e: unknown) => e instanceof LockstepError && e.reason === 'missing-object',
    );
  });

  test(`${name}: list() yields every file and manifest; remove() deletes one and is idempotent`, async () => {
    const store = await makeStore();
    const a = await source('list a');
    const b = await source('list b');
    await store.addFile(a.file, a.md5);
    await store.addFile(b.file, b.md5);
    const dir = await store.addManifest([{ relpath: 'a', md5: a.md5, size: 6 }]);
    assert.deepEqual(await listAll(store), [a.md5, b.md5, dir].sort());
    await store.remove(b.md5);
    await store.remove(b.md5);
    assert.equal(await store.has(b.md5), false);
    assert.deepEqual(await listAll(store), [a.md5, dir].sort());
  });
}
