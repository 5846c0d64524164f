import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readLockFile } from '../../src/pipeline/lockfile.js';
import { tempDir } from '../helpers/tmp.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A lock of `n` stages (past the size threshold from ~40 stages on). */
function lockText(n: number, tag = 'a'): string {
  let t = 'schema: "2.0"\nstages:\n';
  for (let i = 0; i < n; i++) {
    const h = md5(`${tag}${i}`);
    t +=
      `  s${i}:\n    cmd: echo ${i} > o${i}.txt\n    deps:\n    - path: o${Math.max(0, i - 1)}.txt\n` +
      `      hash: md5\n      md5: ${md5(`d${i}`)}\n      size: 2\n    outs:\n    - path: o${i}.txt\n` +
      `      hash: md5\n      md5: ${h}\n      size: 2\n`;
  }
  return t;
}

async function setup(text: string) {
  const dir = await tempDir('lockstep-lockcache-');
  const cacheDir = path.join(dir, '.cache');
  const file = path.join(dir, 'pipeline.lock');
  await fs.writeFile(file, text);
  const read = () => readLockFile(file, { cacheDir, slot: 'pipeline.lock' });
  const kept = async () => {
    const names = await fs.readdir(path.join(cacheDir, 'tmp', 'parsed')).catch(() => [] as string[]);
    return names.filter((n) => !n.endsWith('.tmp')).map((n) => path.join(cacheDir, 'tmp', 'parsed', n));
  };
  return { dir, cacheDir, file, read, kept };
}

/** Rewrite a kept entry's JSON consistently (its checksum recomputed), as a valid entry for the same text. */
async function rewriteKept(entry: string, change: (data: { stages: Record<string, unknown> }) => void) {
  const raw = await fs.readFile(entry, 'utf8');
  const nl = raw.indexOf('\n');
  const data = JSON.parse(raw.slice(nl + 1));
  change(data);
  const json = JSON.stringify(data);
  await fs.writeFile(entry, `${raw.slice(0, 32)} ${md5(json)}\n${json}`);
}

test('a large lock is kept parsed in one slot and read back from it; small locks are not kept', async () => {
  const s = await setup(lockText(100));
  const first = await s.read();
  assert.equal(Object.keys(first.stages).length, 100);
  const kept = await s.kept();
  assert.equal(kept.length, 1);
  assert.deepEqual(await s.read(), first);
  // proof that the second read came from the slot: a consistent edit of the entry is what it returns
  await rewriteKept(kept[0]!, (d) => {
    (d.stages.s3 as { cmd: string }).cmd = 'from the slot';
  });
  assert.equal((await s.read()).stages.s3?.cmd, 'from the slot');

  const small = await setup(lockText(3));
  await small.read();
  assert.equal((await small.kept()).length, 0);
});

test(`an edit of the lock with the same size and mtime (racy) is never served the old copy, and each rewrite \
replaces the one slot`, async () => {
  const s = await setup(lockText(100));
  const before = await s.read();
  const st = await fs.stat(s.file);
  const text = await fs.readFile(s.file, 'utf8');
  const oldMd5 = before.stages.s50!.outs![0]!.md5;
  const newMd5 = md5('edited');
  const edited = text.replace(oldMd5, newMd5);
  assert.equal(edited.length, text.length);
  await fs.writeFile(s.file, edited);
  await fs.utimes(s.file, st.atime, st.mtime);
  const after = await s.read();
  assert.equal(after.stages.s50!.outs![0]!.md5, newMd5);
  assert.equal((await s.kept()).length, 1, 'the slot was replaced, not a second entry added');
  // and back: the slot now holds the edited text's copy, so the original is parsed again, not confused
  await fs.writeFile(s.file, text);
  assert.equal((await s.read()).stages.s50!.outs![0]!.md5, oldMd5);
});

test('a torn, altered or ill-formed kept copy is ignored, the text parsed, and the slot rebuilt', async () => {
  const s = await setup(lockText(100));
  const truth = await s.read();
  const [entry] = await s.kept();
  const good = await fs.readFile(entry!, 'utf8');

  // torn (a crash mid-write of an older version, or a full disk): shorter than its checksum says
  await fs.writeFile(entry!, good.slice(0, good.length - 500));
  assert.deepEqual(await s.read(), truth);
  assert.equal(await fs.readFile(entry!, 'utf8'), good, 'rebuilt');

  // one byte of the JSON changed without its checksum: a stage's md5 would silently differ
  const i = good.indexOf(truth.stages.s7!.outs![0]!.md5);
  const flipped = good.slice(0, i) + (good[i] === '0' ? '1' : '0') + good.slice(i + 1);
  await fs.writeFile(entry!, flipped);
  assert.deepEqual(await s.read(), truth);
  assert.equal(await fs.readFile(entry!, 'utf8'), good, 'rebuilt');

  // a consistent entry whose data fails the lock's checks (an absolute path, not an md5) is not trusted
  await rewriteKept(entry!, (d) => {
    (d.stages.s9 as { outs: { path: string }[] }).outs[0]!.path = '/etc/passwd';
  });
  assert.deepEqual(await s.read(), truth);
  assert.equal(await fs.readFile(entry!, 'utf8'), good, 'rebuilt');
  await rewriteKept(entry!, (d) => {
    (d.stages.s9 as { outs: { md5: string }[] }).outs[0]!.md5 = 'not-a-hash';
  });
  assert.deepEqual(await s.read(), truth);
  assert.equal(await fs.readFile(entry!, 'utf8'), good, 'rebuilt');

  // not an entry at all
  await fs.writeFile(entry!, 'garbage');
  assert.deepEqual(await s.read(), truth);
  assert.equal(await fs.readFile(entry!, 'utf8'), good, 'rebuilt');
});

test(`values JSON cannot carry exactly (an infinite float in params) are not kept; the lock still reads \
right`, async () => {
  const text = `${lockText(100)}  big:\n    cmd: echo\n    params:\n      params.yaml:\n        limit: .inf\n`;
  const s = await setup(text);
  const limit = async () => ((await s.read()).stages.big!.params!['params.yaml'] as Record<string, unknown>).limit;
  assert.equal(await limit(), Number.POSITIVE_INFINITY);
  assert.equal((await s.kept()).length, 0);
  assert.equal(await limit(), Number.POSITIVE_INFINITY);
});

test('a broken lock text is still an error naming the file, whatever the slot holds', async () => {
  const s = await setup(lockText(100));
  await s.read();
  await fs.writeFile(s.file, `${lockText(100)}  bad: [unclosed\n`);
  await assert.rejects(s.read(), /pipeline\.lock:\d+:\d+/);
});
