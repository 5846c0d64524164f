/**
 * One command's folder listings (src/util/dir-listings.ts): the pipeline-file walk and the `.dvc` walk
 * share them, so a folder both enter is read once, and both find what they find alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { collectPipelineFiles } from '../../src/config/collect.js';
import { collectDvcFiles } from '../../src/dvcfile/collect.js';
import { DirListings } from '../../src/util/dir-listings.js';
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
