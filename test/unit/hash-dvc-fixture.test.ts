/**
 * Our hashes against what DVC 3 really recorded for the same tree (test/fixtures/dvc-hashes.json,
 * made by scripts/dvc-fixture.py): file md5s, the .dir hash, and the .dir object's exact bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openHasher } from '../../src/hash/index.js';
import { openObjectStore, commitOutput } from '../../src/cache/index.js';
import { LockstepError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

interface TreeSpec {
  path: string;
  utf8?: string;
  base64?: string;
  pattern?: { size: number; seed: number };
  dir?: boolean;
  symlink?: string;
}
interface Fixture {
  dvc_version: string;
  tree: TreeSpec[];
  extra_empty_dirs: string[];
  dirs: {
    path: string;
    md5: string;
    size: number;
    nfiles: number;
    manifest_bytes_base64: string;
    manifest: { md5: string; relpath: string }[];
  }[];
  files: { path: string; md5: string; size: number }[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/test/unit -> test/fixtures in the source tree
const fixture = JSON.parse(
  await fs.readFile(path.resolve(here, '../../../test/fixtures/dvc-hashes.json'), 'utf8'),
) as Fixture;

/** Same bytes as pattern() in scripts/dvc-fixture.py. */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * i + seed * i + seed) % 251;
  return b;
}

/**
 * The fixture's tree. DVC leaves the files behind a symlink to a directory out of the hash; lockstep
 * refuses such a link (issue 12 item 12), so it is left out here and tried on its own below.
 */
async function buildTree(root: string): Promise<string[]> {
  const dirLinks: string[] = [];
  for (const spec of fixture.tree) {
    const abs = path.join(root, spec.path);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    if (spec.dir) await fs.mkdir(abs, { recursive: true });
    else if (spec.symlink !== undefined) {
      await fs.symlink(spec.symlink, abs);
      if ((await fs.stat(abs).catch(() => undefined))?.isDirectory()) {
        await fs.rm(abs);
        dirLinks.push(spec.path);
      }
    } else if (spec.utf8 !== undefined) await fs.writeFile(abs, spec.utf8, 'utf8');
    else if (spec.base64 !== undefined) await fs.writeFile(abs, Buffer.from(spec.base64, 'base64'));
    else if (spec.pattern) await fs.writeFile(abs, pattern(spec.pattern.size, spec.pattern.seed));
  }
  for (const d of fixture.extra_empty_dirs) await fs.mkdir(path.join(root, d), { recursive: true });
  return dirLinks;
}

test(`pattern bytes match the generator (i*i + seed*i + seed) mod 251`, () => {
  // Python's pattern(5, 13): [13, 27, 43, 61, 81]
  assert.deepEqual([...pattern(5, 13)], [13, 27, 43, 61, 81]);
  // wraps mod 251 without overflow for large i (i*i exceeds 2^31 at 3 MiB)
  assert.equal(pattern(3_000_000, 13)[2_999_999], (2_999_999 * 2_999_999 + 13 * 2_999_999 + 13) % 251);
});

test(`directory and file hashes equal DVC ${fixture.dvc_version}'s`, async () => {
  const root = await tempDir();
  const dirLinks = await buildTree(root);
  assert.ok(dirLinks.length > 0, 'the fixture has a symlink to a directory');
  const cacheDir = path.join(root, '.cache');
  const hasher = await openHasher(cacheDir);
  for (const d of fixture.dirs) {
    const r = await hasher.hashPath(path.join(root, d.path));
    assert.ok(r, d.path);
    assert.equal(r.info.md5, d.md5, `${d.path}: .dir hash`);
    assert.equal(r.info.size, d.size, `${d.path}: size`);
    assert.equal(r.info.nfiles, d.nfiles, `${d.path}: nfiles`);
    assert.deepEqual(
      r.entries?.map((e) => ({ md5: e.md5, relpath: e.relpath })),
      d.manifest,
      `${d.path}: manifest entries and order`,
    );
  }
  for (const f of fixture.files) {
    const r = await hasher.hashPath(path.join(root, f.path));
    assert.equal(r?.info.md5, f.md5, f.path);
    assert.equal(r?.info.size, f.size, f.path);
  }
  // Where DVC silently drops a symlinked directory's files, lockstep names the link.
  const spec = fixture.tree.find((t) => t.path === dirLinks[0]) as TreeSpec;
  await fs.symlink(spec.symlink as string, path.join(root, spec.path));
  const inDir = fixture.dirs.find((d) => spec.path.startsWith(`${d.path}/`)) as Fixture['dirs'][number];
  await assert.rejects(hasher.hashPath(path.join(root, inDir.path)), (e: unknown) => {
    assert.ok(e instanceof LockstepError && e.reason === 'data', String(e));
    assert.match(e.message, /is a symlink to a directory inside/);
    return true;
  });
});

test('the stored .dir object is byte for byte what DVC writes', async () => {
  const root = await tempDir();
  await buildTree(root);
  const cacheDir = path.join(root, '.cache');
  const hasher = await openHasher(cacheDir);
  const store = openObjectStore(cacheDir);
  for (const d of fixture.dirs) {
    const info = await commitOutput(store, hasher, path.join(root, d.path), ['copy']);
    assert.equal(info.md5, d.md5);
    const bytes = await fs.readFile(store.objectPath(info.md5));
    assert.equal(bytes.toString('base64'), d.manifest_bytes_base64, `${d.path}: .dir bytes`);
  }
});
