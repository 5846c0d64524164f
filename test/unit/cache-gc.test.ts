import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { collectGarbage, commitOutput, openObjectStore } from '../../src/cache/index.js';
import { md5Hex, openHasher } from '../../src/hash/index.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

test('gc keeps used hashes and the files of used manifests, removes the rest; dry removes nothing', async () => {
  const root = await tempDir();
  const cacheDir = path.join(root, '.cache');
  const store = openObjectStore(cacheDir);
  const hasher = await openHasher(cacheDir);
  await writeTree(root, { 'keep/a.txt': 'a', 'keep/b.txt': 'bb', 'old.txt': 'old content', 'single.txt': 'single' });
  const dir = await commitOutput(store, hasher, path.join(root, 'keep'), ['copy']);
  const old = await commitOutput(store, hasher, path.join(root, 'old.txt'), ['copy']);
  const single = await commitOutput(store, hasher, path.join(root, 'single.txt'), ['copy']);
  await fs.writeFile(path.join(root, 'keep', 'b.txt'), 'changed');
  const newer = await commitOutput(store, hasher, path.join(root, 'keep'), ['copy']);

  const dry = await collectGarbage(store, [newer.md5, single.md5], { dry: true });
  assert.deepEqual(dry.removed.sort(), [dir.md5, md5Hex('bb'), old.md5].sort());
  assert.equal(dry.bytes, 2 + 11 + (await fs.stat(store.objectPath(dir.md5))).size);
  assert.ok(await store.has(old.md5), 'dry run removes nothing');

  const real = await collectGarbage(store, [newer.md5, single.md5], { dry: false });
  assert.deepEqual(real.removed.sort(), dry.removed.sort());
  for (const m of real.removed) assert.equal(await store.has(m), false);
  for (const m of [newer.md5, single.md5, md5Hex('a'), md5Hex('changed')]) assert.ok(await store.has(m));
});
