/**
 * Cache integrity under faults (issue 12, items 8 and 9): a corrupt object (a flipped byte, a
 * truncation) is repaired when the output is cached again; a file that changes while it is being
 * cached never yields an object whose content does not match its name, and the commit fails with
 * one line naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { commitOutput, openObjectStore } from '../../src/cache/index.js';
import type { LinkType } from '../../src/cache/types.js';
import { LockstepError } from '../../src/errors.js';
import { CachingHasher } from '../../src/hash/hasher.js';
import { hashFile, md5Hex } from '../../src/hash/index.js';
import { statCacheFor } from '../../src/hash/stat-cache.js';
import { asMd5 } from '../../src/hash/types.js';
import { execa } from 'execa';
import { CLI, tempProject, type TempProject } from '../helpers/project.js';
import { age, tempDir } from '../helpers/tmp.js';
import { corruptObjects } from '../helpers/objects.js';
import { waitDead } from '../helpers/wait.js';

const BIG = 3 * 1024 * 1024;

function objectFile(cacheDir: string, md5: string): string {
  return path.join(cacheDir, 'files', 'md5', md5.slice(0, 2), md5.slice(2));
}

async function flipByte(file: string, at = 0): Promise<void> {
  await fs.chmod(file, 0o644);
  const b = await fs.readFile(file);
  b[at] = (b[at] ?? 0) ^ 0xff;
  await fs.writeFile(file, b);
  await fs.chmod(file, 0o444);
}

async function truncate(file: string): Promise<void> {
  await fs.chmod(file, 0o644);
  await fs.truncate(file, 10);
  await fs.chmod(file, 0o444);
}

// seeded content, so the stage writes the same bytes on every run
const PIPELINE = `stages:
  gen:
    cmd: >-
      mkdir -p data && echo small > data/small.txt &&
      head -c ${BIG} /dev/zero | tr '\\0' 'z' > data/big.bin && echo model > model.txt
    outs: [data, model.txt]
`;

for (const type of ['copy', 'hardlink'] as const) {
  test(`cache.type ${type}: corrupt objects (a flipped byte, a truncation) are repaired when the output is cached \
again`, async () => {
    const p = await tempProject({
      'pipeline.yaml': PIPELINE,
      '.lockstep/config.yaml': `cache:\n  type: ${type}\n`,
      '.gitignore': '.cache/\n',
    });
    const first = await p.run(['repro']);
    assert.equal(first.exitCode, 0, first.all);
    const cache = path.join(p.dir, '.cache');
    const small = objectFile(cache, md5Hex('small\n'));
    const big = objectFile(cache, md5Hex(Buffer.alloc(BIG, 'z')));
    const model = objectFile(cache, md5Hex('model\n'));
    // the objects were verified once (checkout-style marks): corruption after that must still be found
    assert.equal((await p.run(['checkout'])).exitCode, 0);
    await flipByte(small);
    await truncate(big);
    await flipByte(model);
    assert.equal((await corruptObjects(cache)).length, 3);
    const again = await p.run(['repro', '-f']);
    assert.equal(again.exitCode, 0, again.all);
    assert.deepEqual(await corruptObjects(cache), [], 'every corrupt object was replaced by the right bytes');
    assert.equal((await fs.stat(big)).size, BIG);
    // and checkout from the repaired cache restores the outputs
    await fs.rm(path.join(p.dir, 'data'), { recursive: true });
    const co = await p.run(['checkout']);
    assert.equal(co.exitCode, 0, co.all);
    assert.equal(await p.read('data/small.txt'), 'small\n');
  });
}

test(`an existing object whose size is right but whose bytes are not is repaired even with the workspace file \
unchanged`, async () => {
  const root = await tempDir();
  const cacheDir = path.join(root, '.cache');
  const store = openObjectStore(cacheDir);
  const file = path.join(root, 'out.bin');
  const content = randomBytes(BIG + 17);
  await fs.writeFile(file, content);
  await age(file);
  const hasher = new CachingHasher(statCacheFor(cacheDir));
  const info = await commitOutput(store, hasher, file, ['copy']);
  await flipByte(store.objectPath(info.md5), 1000);
  await age(store.objectPath(info.md5), 5);
  // the workspace file is unchanged (a stat-cache hit: not read again), the object is bad
  const again = await commitOutput(store, hasher, file, ['copy']);
  assert.equal(again.md5, info.md5);
  assert.equal(await hashFile(store.objectPath(info.md5)), info.md5);
});

test('a copy into the store whose bytes do not hash to the expected name is refused and stores nothing', async () => {
  const root = await tempDir();
  const store = openObjectStore(path.join(root, '.cache'));
  for (const size of [100, BIG]) {
    const src = path.join(root, `f${size}`);
    await fs.writeFile(src, randomBytes(size));
    // the name of what the file held before it changed
    const stale = asMd5(md5Hex(randomBytes(size)));
    assert.throws(
      () => store.addFileSync(src, stale),
      (e: unknown) => e instanceof LockstepError && /changed while it was being cached/.test(e.message),
    );
    assert.equal(store.hasSync(stale), false, 'nothing stored under a name its content does not have');
  }
  assert.deepEqual(await corruptObjects(path.join(root, '.cache')), []);
  const tmp = path.join(root, '.cache', 'files', 'md5');
  const leftovers = (await fs.readdir(tmp, { recursive: true })).filter((n) => String(n).includes('.tmp'));
  assert.deepEqual(leftovers, [], 'no temp file left behind');
});

for (const type of ['copy', 'hardlink', 'symlink'] as LinkType[]) {
  test(`cache.type ${type}: a large file rewritten between its hash and its store fails the commit naming the file, \
and no object is corrupt`, async () => {
    const root = await tempDir();
    const cacheDir = path.join(root, '.cache');
    const store = openObjectStore(cacheDir);
    const out = path.join(root, 'out');
    await fs.mkdir(out);
    const file = path.join(out, 'weights.bin');
    await fs.writeFile(file, randomBytes(BIG));
    await fs.writeFile(path.join(out, 'a.txt'), 'a\n');
    // a writer that is still at work when lockstep hashes the file: it rewrites the file right after the hash
    const hasher = new CachingHasher(statCacheFor(cacheDir), {
      hashFile: async (abs, size) => {
        const md5 = await hashFile(abs, size);
        if (abs === file) await fs.writeFile(file, randomBytes(BIG));
        return md5;
      },
    });
    await assert.rejects(
      commitOutput(store, hasher, out, [type], { displayRoot: root }),
      (e: unknown) =>
        e instanceof LockstepError &&
        e.message.includes("'out/weights.bin'") &&
        /changed while it was being cached/.test(e.message) &&
        !e.message.includes('\n'),
    );
    assert.deepEqual(await corruptObjects(cacheDir), []);
  });
}

test(`repro: a stage whose output is still being written after its command exits fails with one line naming the \
file`, async () => {
  // the stage leaves a writer behind that appends to its output for two seconds
  const p: TempProject = await tempProject({
    'pipeline.yaml': `stages:
  gen:
    cmd: >-
      head -c ${4 * BIG} /dev/zero > grow.bin;
      (sleep 2 & s=$!; while kill -0 $s 2>/dev/null; do printf x >> grow.bin; done) >/dev/null 2>&1 &
      echo $! > writer.pid; sleep 0.2
    outs: [grow.bin]
`,
    '.gitignore': '.cache/\n',
  });
  const r = await p.run(['repro']);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(r.exitCode, 1, r.all);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^lockstep: .*'grow\.bin' changed while it was being cached/);
  assert.deepEqual(await corruptObjects(path.join(p.dir, '.cache')), []);
  // wait out the writer so the temp project can be removed
  await waitDead([Number(await p.read('writer.pid'))], 'the writer the stage left behind');
});

test('a corrupt .dir manifest: checkout names the output it was for; caching the output again repairs it', async () => {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, '.gitignore': '.cache/\n' });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const lock = await p.read('pipeline.lock');
  const dirMd5 = /md5: ([0-9a-f]{32}\.dir)/.exec(lock)?.[1];
  assert.ok(dirMd5, lock);
  const manifest = objectFile(path.join(p.dir, '.cache'), dirMd5);
  await flipByte(manifest, 3);
  await fs.rm(path.join(p.dir, 'data'), { recursive: true });
  const co = await p.run(['checkout']);
  assert.equal(co.exitCode, 1, co.all);
  assert.match(co.stderr, /^lockstep: cache object files\/md5\/\w\w\/\w+\.dir for 'data' does not match its hash/);
  assert.equal(co.stderr.trim().split('\n').length, 1, co.stderr);
  const again = await p.run(['repro', '-f']);
  assert.equal(again.exitCode, 0, again.all);
  assert.deepEqual(await corruptObjects(path.join(p.dir, '.cache')), []);
});

test('an unreadable cache object (EACCES): one line naming the object and the output, exit 1', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('switching to the user nobody needs root');
  if ((await execa('id', ['-u', 'nobody'], { reject: false })).exitCode !== 0) return t.skip('no user nobody');
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, '.gitignore': '.cache/\n' });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const obj = objectFile(path.join(p.dir, '.cache'), md5Hex('model\n'));
  await fs.rm(path.join(p.dir, 'model.txt'));
  await execa('chown', ['-R', 'nobody', p.dir]);
  await fs.chmod(p.dir, 0o755);
  await fs.chmod(obj, 0o000);
  const r = await execa(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', process.execPath, CLI, 'checkout'],
    { cwd: p.dir, reject: false, all: true, env: { HOME: p.dir, FORCE_COLOR: '0' }, timeout: 60_000 },
  );
  assert.equal(r.exitCode, 1, r.all);
  const lines = String(r.stderr).split('\n').filter(Boolean);
  assert.equal(lines.length, 1, String(r.stderr));
  assert.match(
    lines[0]!,
    /^lockstep: cannot read cache object files\/md5\/\w\w\/\w+ for 'model\.txt': EACCES\. Check the permissions of /,
  );
});

test('a 240-byte file name in an output: checkout -f restores it (temp names stay within 255 bytes)', async () => {
  const long = `${'n'.repeat(236)}.txt`;
  const p = await tempProject({
    'pipeline.yaml': `stages:\n  gen:\n    cmd: mkdir -p out && echo first > out/${long}\n    outs: [out]\n`,
    '.gitignore': '.cache/\n',
  });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  await p.write(`out/${long}`, 'edited\n');
  const co = await p.run(['checkout', '-f']);
  assert.equal(co.exitCode, 0, co.all);
  assert.equal(await p.read(`out/${long}`), 'first\n');
});
