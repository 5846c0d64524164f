/**
 * remote/stage-push.ts, the push of a queue job, on a real folder remote and a cache filled by the real
 * `lockstep repro`: it asks about the root object of an output the remote has (not about each file under
 * a manifest), pushes what the remote lacks, and uploads a run-cache entry only once every object it names
 * is on the remote (a cache that lost a file keeps the entry, and its directory stays incomplete there).
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openObjectStore } from '../../src/cache/index.js';
import { lockToRepoPaths, readLockFile } from '../../src/pipeline/lockfile.js';
import { FolderRemote } from '../../src/remote/folder.js';
import { pushStagesTo } from '../../src/remote/stage-push.js';
import { auditObjects } from '../helpers/objects.js';
import { tempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';

const PIPELINE = `stages:
  gen:
    cmd: mkdir -p data && for i in $(seq 1 40); do echo "$i" > data/f$i.txt; done
    outs: [data]
  use:
    cmd: cat data/f1.txt data/f2.txt > model.txt
    deps: [data]
    outs: [model.txt]
`;

async function reproduced() {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, '.gitignore': '.cache/\n/data/\n/model.txt\n' });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  const lock = await readLockFile(path.join(p.dir, 'pipeline.lock'));
  assert.ok(lock);
  return { p, cacheDir: path.join(p.dir, '.cache'), stages: lockToRepoPaths(lock, new Map()).stages };
}

const remoteRuns = async (root: string) =>
  (await fs.readdir(path.join(root, 'runs'), { recursive: true }).catch(() => [] as string[]))
    .map(String)
    .filter((f) => f.split('/').length === 3);

test('a job push asks about root objects, pushes what the remote lacks, then the entries', async () => {
  const { cacheDir, stages } = await reproduced();
  const root = await tempDir('lockstep-stage-push-');
  const remote = new FolderRemote('store', root);
  const store = openObjectStore(cacheDir);
  const first = await pushStagesTo(store, remote, cacheDir, stages, { jobs: 4 });
  assert.deepEqual(first.pushed, ['gen', 'use']);
  assert.equal(first.objects, 42, '40 files, the manifest, model.txt');
  assert.equal(first.entries, 2);
  assert.deepEqual(await auditObjects(root), { objects: 42, corrupt: [] });
  assert.equal((await remoteRuns(root)).length, 2);

  const again = await pushStagesTo(store, remote, cacheDir, stages, { jobs: 4 });
  assert.deepEqual(again.present, ['gen', 'use']);
  assert.deepEqual([again.objects, again.entries], [0, 0]);
  assert.equal(again.questions, 4, 'two root objects, two entries: not one question per file of data/');
});

test('a cache that lost a file of an output: the directory stays incomplete on the remote and its entry stays here; \
the stage whose objects all went up sends its entry', async () => {
  const { cacheDir, stages } = await reproduced();
  const dir = stages.gen!.outs![0]!.md5;
  const store = openObjectStore(cacheDir);
  const lost = (await store.readManifest(dir))[0]!.md5;
  await fs.rm(store.objectPath(lost), { force: true });
  const root = await tempDir('lockstep-stage-push-');
  const r = await pushStagesTo(store, new FolderRemote('store', root), cacheDir, stages, { jobs: 4 });
  assert.deepEqual(r.missing, [lost]);
  assert.equal(r.objects, 40, '39 files of data/ and model.txt; not the manifest, whose file is missing');
  assert.equal(r.entries, 1);
  const runs = await remoteRuns(root);
  assert.equal(runs.length, 1);
  const entry = await fs.readFile(path.join(root, 'runs', runs[0]!), 'utf8');
  assert.match(entry, /model\.txt/, "use's entry, not gen's");
  await assert.rejects(fs.access(path.join(root, 'files', 'md5', dir.slice(0, 2), dir.slice(2))));
});
