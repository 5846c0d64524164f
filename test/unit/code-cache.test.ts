/**
 * bin/code-cache.js: the V8 code cache Node 20 runs the CommonJS bundle with. The cache may only ever save
 * time: one made for other bytes, a damaged or truncated file, another Node version, or a folder other users
 * can write are never used; a command runs the same with or without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';

interface Loaded {
  exports: { answer: () => number; later: () => Promise<string> };
  used: boolean;
  save: () => void;
}
interface CodeCache {
  loadCached(file: string, importModule: (s: string) => Promise<unknown>, opts?: { dir?: string }): Loaded;
  cacheDir(base?: string): string | undefined;
}
const cc = (await import(pathToFileURL(path.join(REPO_ROOT, 'bin', 'code-cache.js')).href)) as CodeCache;

const BUNDLE = `'use strict';
exports.answer = () => 6 * 7;
exports.later = async () => (await __lockstepImport('node:path')).basename(__lockstepBundleUrl);
`;
const importer = (s: string) => import(s);

async function setup() {
  const root = await tempDir('lockstep-code-cache-');
  const file = path.join(root, 'cli.cjs');
  await fs.writeFile(file, BUNDLE);
  const dir = path.join(root, 'cache');
  await fs.mkdir(dir, { mode: 0o700 });
  const load = () => cc.loadCached(file, importer, { dir });
  const slot = async () => {
    const names = await fs.readdir(dir);
    assert.equal(names.length, 1, `one cache file: ${names.join(', ')}`);
    return path.join(dir, names[0]!);
  };
  return { file, dir, load, slot };
}

test('the first run writes the cache, the next one uses it; the bundle runs the same either way', async () => {
  const { load, slot } = await setup();
  const first = load();
  assert.equal(first.used, false);
  assert.equal(first.exports.answer(), 42);
  assert.equal(await first.exports.later(), 'cli.cjs'); // import() and import.meta.url are passed in
  first.save();
  const written = await fs.readFile(await slot());
  const second = load();
  assert.equal(second.used, true);
  assert.equal(second.exports.answer(), 42);
  second.save(); // a used cache is not written again
  assert.deepEqual(await fs.readFile(await slot()), written);
});

test('a damaged or truncated cache file is not used, and the next save replaces it', async () => {
  const { load, slot } = await setup();
  load().save();
  const file = await slot();
  const good = await fs.readFile(file);
  const damaged = Buffer.from(good);
  damaged[damaged.length - 10]! ^= 0xff; // inside V8's data: only the checksum can tell
  await fs.writeFile(file, damaged);
  const run = load();
  assert.equal(run.used, false);
  assert.equal(run.exports.answer(), 42);
  run.save();
  assert.notDeepEqual(await fs.readFile(file), damaged);
  assert.equal(load().used, true);
  await fs.writeFile(file, good.subarray(0, good.length - 100));
  assert.equal(load().used, false);
  await fs.writeFile(file, good.subarray(0, 20));
  assert.equal(load().used, false);
});

test('a cache made for other bytes of the bundle, or for another Node version, is not used', async () => {
  const { file, load } = await setup();
  load().save();
  assert.equal(load().used, true);
  // same length, other code: V8 alone would accept the data (it checks the source's length, not its text)
  await fs.writeFile(file, BUNDLE.replace('6 * 7', '7 * 6'));
  const other = load();
  assert.equal(other.used, false);
  assert.equal(other.exports.answer(), 42);
  other.save();
  assert.equal(load().used, true);
  const version = Object.getOwnPropertyDescriptor(process, 'version')!;
  Object.defineProperty(process, 'version', { ...version, value: 'v99.0.0' });
  try {
    assert.equal(load().used, false);
  } finally {
    Object.defineProperty(process, 'version', version);
  }
});

test('the cache folder is used only when it is this user’s alone: not writable by others, not a symlink', async () => {
  const base = await tempDir('lockstep-code-cache-base-');
  const made = cc.cacheDir(base);
  assert.ok(made !== undefined);
  assert.equal((await fs.stat(made)).mode & 0o777, 0o700);
  await fs.chmod(made, 0o777);
  assert.equal(cc.cacheDir(base), undefined);
  await fs.rm(made, { recursive: true });
  const elsewhere = await tempDir('lockstep-code-cache-elsewhere-');
  await fs.chmod(elsewhere, 0o700);
  await fs.symlink(elsewhere, made);
  assert.equal(cc.cacheDir(base), undefined);
});

test('a bundle with non-ASCII text keeps its characters; the built bundle is ASCII (read as latin1)', async () => {
  const { file, load } = await setup();
  // UTF-8 of characters above U+007F: decoded as latin1 each would become two or three wrong characters
  await fs.writeFile(file, `${BUNDLE}exports.text = () => 'mean ± std … é';\n`);
  const first = load() as Loaded & { exports: { text: () => string } };
  assert.equal(first.exports.text(), 'mean ± std … é');
  first.save();
  assert.equal((load() as typeof first).exports.text(), 'mean ± std … é');
  const built = await fs.readFile(path.join(REPO_ROOT, 'dist', 'bundle', 'cli.cjs')).catch(() => undefined);
  if (built !== undefined) {
    const { isAscii } = await import('node:buffer');
    const at = built.findIndex((b) => b > 0x7f);
    assert.ok(isAscii(built), `dist/bundle/cli.cjs: a non-ASCII byte at ${at}: ${built.subarray(at - 40, at + 10)}`);
  }
});
