/**
 * One command's folder listings (src/util/dir-listings.ts): the pipeline-file walk and the `.dvc` walk
 * share them, so a folder both enter is read once, and both find what they find alone; a big folder's
 * entries kept between commands are used only while the folder's stamp holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { collectPipelineFiles, pipelineWalkReads } from '../../src/config/collect.js';
import { collectDvcFiles, dvcWalkReads } from '../../src/dvcfile/collect.js';
import { DirListings, type EntryKind, MEMO_MIN_ENTRIES } from '../../src/util/dir-listings.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

/** Counts the folders actually read. */
class CountingListings extends DirListings {
  reads = 0;
  override list(abs: string) {
    const before = this.size();
    const entries = super.list(abs);
    if (this.size() > before) this.reads++;
    return entries;
  }
}

test('a folder is read once, then served from memory until cleared', async () => {
  const dir = await tempDir();
  await writeTree(dir, { 'a.txt': 'a' });
  const listings = new DirListings();
  assert.deepEqual(
    listings.list(dir).map((d) => d.name),
    ['a.txt'],
  );
  await fs.writeFile(path.join(dir, 'b.txt'), 'b');
  assert.deepEqual(
    listings.list(dir).map((d) => d.name),
    ['a.txt'],
    'the listing read earlier in the same command',
  );
  listings.clear();
  assert.deepEqual(
    listings
      .list(dir)
      .map((d) => d.name)
      .sort(),
    ['a.txt', 'b.txt'],
  );
  assert.throws(() => listings.list(path.join(dir, 'gone')), /ENOENT/);
});

test('the pipeline walk and the .dvc walk sharing listings find what each finds alone, \
reading each folder once', async () => {
  const dir = await tempDir();
  const files: Record<string, string> = {
    'pipeline.yaml': 'stages: {}\n',
    'sub/dvc.yaml': 'stages: {}\n',
    'raw.dvc': 'outs:\n- path: raw\n',
    'sub/more.dvc': 'outs:\n- path: more\n',
    '.gitignore': '/ignored\n',
    'ignored/x.dvc': 'outs:\n- path: x\n',
    'ignored/dvc.yaml': 'stages: {}\n',
    'out/y.dvc': 'outs:\n- path: y\n',
  };
  for (let i = 0; i < 50; i++) files[`data/c${i % 5}/${i}.png`] = `${i}`;
  await writeTree(dir, files);
  const visit = async (f: string) => (f === 'pipeline.yaml' ? ['out'] : []);
  const alone = await collectPipelineFiles(dir, { visit });
  const dvcAlone = (await collectDvcFiles(dir, ['out'])).map((f) => f.file);
  const listings = new CountingListings();
  const shared = await collectPipelineFiles(dir, { visit, listings });
  const readByPipelineWalk = listings.reads;
  const dvcShared = (await collectDvcFiles(dir, ['out'], listings)).map((f) => f.file);
  assert.deepEqual(shared, alone);
  assert.deepEqual(shared, ['pipeline.yaml', 'sub/dvc.yaml']);
  assert.deepEqual(dvcShared, dvcAlone);
  assert.deepEqual(dvcShared, ['raw.dvc', 'ignored/x.dvc', 'sub/more.dvc']);
  // root, data, data/c0..c4, sub: 8 folders; the .dvc walk adds only the folder git ignores
  assert.equal(readByPipelineWalk, 8);
  assert.equal(listings.reads, 9);
});

/** A project with a big data folder (more entries than MEMO_MIN_ENTRIES) holding a pipeline and a .dvc file. */
async function bigProject() {
  const dir = await tempDir();
  const files: Record<string, string> = {
    'pipeline.yaml': 'stages: {}\n',
    'data/dvc.yaml': 'stages: {}\n',
    'data/raw.dvc': 'outs:\n- path: raw\n',
    'data/.gitignore': '/ignored\n',
    'data/ignored/dvc.yaml': 'stages: [not a pipeline\n',
    'data/sub/x.dvc': 'outs:\n- path: x\n',
  };
  for (let i = 0; i < MEMO_MIN_ENTRIES; i++) files[`data/${i}.png`] = `${i}`;
  await writeTree(dir, files);
  const data = path.join(dir, 'data');
  const past = new Date(Date.now() - 60_000);
  await fs.utimes(data, past, past); // not modified within the racy window of the listing
  const memo = { file: path.join(dir, '.cache', 'tmp', 'listings.json'), keep: memoKeep };
  const walk = async (listings: DirListings) => {
    const pipelines = await collectPipelineFiles(dir, { visit: async () => [], listings });
    const dvcFiles = (await collectDvcFiles(dir, [], listings)).map((f) => f.file);
    await listings.close();
    return { pipelines, dvcFiles };
  };
  return { dir, data, memo, walk, past };
}
const memoKeep = (name: string, kind: EntryKind) => pipelineWalkReads(name, kind) || dvcWalkReads(name, kind);
const FOUND = { pipelines: ['pipeline.yaml', 'data/dvc.yaml'], dvcFiles: ['data/raw.dvc', 'data/sub/x.dvc'] };

test('a big folder unchanged since the last command is not listed again: its stamp and the entries the walks \
read are kept, and both walks find the same', async () => {
  const { data, memo, walk } = await bigProject();
  assert.deepEqual(await walk(new DirListings()), FOUND);
  assert.deepEqual(await walk(new DirListings(memo)), FOUND); // lists, writes the memo
  const kept = JSON.parse(await fs.readFile(memo.file, 'utf8')) as { dirs: unknown[][] };
  assert.deepEqual(
    kept.dirs.map((d) => d[0]),
    [data],
  );
  const again = new DirListings(memo);
  assert.deepEqual(await walk(again), FOUND);
  // served from the memo: only the entries a walk reads, not the 1,000 data files
  assert.deepEqual(
    new DirListings(memo)
      .list(data)
      .map((e) => e.name)
      .sort(),
    ['.gitignore', 'dvc.yaml', 'ignored', 'raw.dvc', 'sub'],
  );
});

test('fault: a kept listing is never used once its folder changed (entry added, folder replaced), nor when \
the folder was modified within its racy window', async () => {
  const { data, memo, walk, past } = await bigProject();
  await walk(new DirListings(memo));
  // a new .dvc file: the folder's mtime moves, so it is listed again
  await fs.writeFile(path.join(data, 'new.dvc'), 'outs:\n- path: new\n');
  assert.deepEqual((await walk(new DirListings(memo))).dvcFiles, ['data/new.dvc', 'data/raw.dvc', 'data/sub/x.dvc']);
  // the folder replaced by another with the same mtime (another inode): listed again
  await walk(new DirListings(memo));
  await fs.utimes(data, past, past);
  await walk(new DirListings(memo));
  const old = path.join(await tempDir(), 'old');
  await fs.rename(data, old);
  await fs.cp(old, data, { recursive: true });
  await fs.rm(path.join(data, 'raw.dvc'));
  await fs.utimes(data, past, past);
  assert.deepEqual((await walk(new DirListings(memo))).dvcFiles, ['data/new.dvc', 'data/sub/x.dvc']);
  // modified just now: used this once, not kept
  await fs.rm(memo.file);
  await fs.writeFile(path.join(data, 'late.dvc'), 'outs:\n- path: late\n');
  await walk(new DirListings(memo));
  await assert.rejects(fs.readFile(memo.file), /ENOENT/);
});

test('fault: a damaged or hostile memo file is not used: names leaving the folder, bad kinds, bad JSON', async () => {
  const { data, memo, walk } = await bigProject();
  await walk(new DirListings(memo));
  const good = JSON.parse(await fs.readFile(memo.file, 'utf8')) as { v: number; dirs: unknown[][] };
  const [abs, ino, mtimeMs] = good.dirs[0]!;
  for (const bad of ['d..', 'd.', 'fa/b.dvc', 'f', 'x.dvc', 'f\0.dvc', 'd../../etc']) {
    await fs.writeFile(memo.file, JSON.stringify({ v: 1, dirs: [[abs, ino, mtimeMs, 'fraw.dvc', bad]] }));
    const names = new DirListings(memo).list(data).map((e) => e.name);
    assert.equal(names.length, MEMO_MIN_ENTRIES + 5, `${JSON.stringify(bad)}: listed, not taken from the memo`);
  }
  for (const text of ['{', '[]', '{"v":2,"dirs":[]}', JSON.stringify({ v: 1, dirs: [[abs, String(ino), mtimeMs]] })]) {
    await fs.writeFile(memo.file, text);
    assert.deepEqual(await walk(new DirListings(memo)), FOUND);
  }
});

test('a command in another workspace (an experiment’s) keeps other folders’ records in the memo', async () => {
  const a = await bigProject();
  const b = await bigProject();
  const memo = a.memo; // one cache folder for both, as exp run's workspaces share the project's
  await a.walk(new DirListings(memo));
  const listB = new DirListings(memo);
  assert.deepEqual((await collectDvcFiles(b.dir, [], listB)).length, 2);
  await listB.close();
  const kept = JSON.parse(await fs.readFile(memo.file, 'utf8')) as { dirs: unknown[][] };
  assert.deepEqual(kept.dirs.map((d) => d[0]).sort(), [a.data, b.data].sort());
  assert.equal(new DirListings(memo).list(a.data).length, 5, 'a’s folder still served from the memo');
});
