/**
 * hard-examples reads images through `.dir` manifests in the cache (issue 12, item 4: paths from
 * manifests are untrusted). It reads them with the cache's one manifest reader, so a manifest with a
 * `../` or absolute relpath, or an entry whose "md5" is a path, is refused as a corrupt object with
 * one line, and no file outside the cache is read into the report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../../src/errors.js';
import type { LockFile } from '../../src/pipeline/lockfile-types.js';
import { asMd5 } from '../../src/hash/types.js';
import { ImageResolver, cacheObjectPath } from '../../src/report/index.js';
import { tempProject } from '../helpers/project.js';
import { solidPng } from '../unit/hard-examples-fixtures.js';

const md5 = (b: string | Uint8Array) => createHash('md5').update(b).digest('hex');

async function put(cacheDir: string, bytes: string | Uint8Array, suffix = ''): Promise<string> {
  const hash = md5(bytes) + suffix;
  const file = cacheObjectPath(cacheDir, hash);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, bytes);
  return hash;
}

const lockWithDir = (dirMd5: string): LockFile => ({
  schema: '2.0',
  stages: {
    partition: { cmd: 'true', outs: [{ path: 'data/p', hash: 'md5', md5: asMd5(dirMd5), size: 0, nfiles: 2 }] },
  },
});

function refused(pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof LockstepError, String(e));
    assert.equal(e.reason, 'corrupt-object');
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, pattern);
    return true;
  };
}

test(`hard-examples refuses a .dir manifest listing ../, absolute or path-valued entries, reading nothing outside the \
cache`, async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages: {}\n' }, { git: false });
  const cacheDir = path.join(p.dir, '.cache');
  const good = await put(cacheDir, solidPng([1, 2, 3]));
  // a PNG outside the project that a path-valued "md5" would reach
  const secret = path.join(path.dirname(p.dir), `secret-${path.basename(p.dir)}.png`);
  await fs.writeFile(secret, solidPng([200, 0, 0]));
  const traversal = `../${path.relative(path.join(cacheDir, 'files'), secret)}`;
  const cases: [string, { md5: string; relpath: string }[], RegExp][] = [
    [
      '../',
      [{ md5: good, relpath: '../../outside/x.png' }],
      /lists an unsafe path '\.\.\/\.\.\/outside\/x\.png' \(a '\.\.' segment\)/,
    ],
    ['absolute', [{ md5: good, relpath: '/etc/x.png' }], /lists an unsafe path '\/etc\/x\.png' \(an absolute path\)/],
    [
      'md5 a path',
      [{ md5: traversal, relpath: 'cat/img1.png' }],
      /cache object files\/md5\/\w\w\/\w+\.dir for 'data\/p' does not match its hash/,
    ],
  ];
  for (const [label, entries, pattern] of cases) {
    // the manifest's own hash is right: only its content is hostile
    const dir = await put(cacheDir, JSON.stringify([...entries, { md5: good, relpath: 'dog/img2.png' }]), '.dir');
    const resolver = new ImageResolver([lockWithDir(dir)], cacheDir, p.dir);
    await assert.rejects(resolver.lookup('data/p/cat/img1.png'), refused(pattern), label);
    await assert.rejects(resolver.lookup('data/p/dog/img2.png'), refused(pattern), `${label}: the whole manifest`);
  }
  await fs.rm(secret);
});

test('hard-examples refuses a lock whose out md5 is a path, instead of reading the file it names', async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages: {}\n' }, { git: false });
  const cacheDir = path.join(p.dir, '.cache');
  const lock = lockWithDir('../../../../etc/hostname');
  const resolver = new ImageResolver([lock], cacheDir, p.dir);
  await assert.rejects(resolver.lookup('data/p'), refused(/is not an md5 hash/));
});
