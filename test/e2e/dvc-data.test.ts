import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';

// What DVC 3.67 writes for these files (checked with `dvc add` on the same content).
const RAW_DVC =
  'outs:\n- md5: 586af5f0e07a69419d4f36873b206b22.dir\n  size: 8\n  nfiles: 2\n  hash: md5\n  path: raw\n';
const FILE_DVC = 'outs:\n- md5: 9a8ad92c50cae39aa2c5604fd0ab6d8c\n  size: 2\n  hash: md5\n  path: file.txt\n';

async function dataProject(extra: Record<string, string> = {}) {
  const p = await tempProject({ 'data/raw/a.txt': 'hello\n', 'data/raw/b.txt': 'x\n', 'file.txt': 'f\n', ...extra });
  assert.equal((await p.run(['init'])).exitCode, 0);
  const r = await p.run(['add', 'data/raw', 'file.txt']);
  assert.equal(r.exitCode, 0, r.all);
  return p;
}

test(`add writes .dvc files byte-identical to DVC's, caches the data and git-ignores it; status and checkout honour \
them`, async () => {
  const p = await dataProject();
  assert.equal(await p.read('data/raw.dvc'), RAW_DVC);
  assert.equal(await p.read('file.txt.dvc'), FILE_DVC);
  assert.equal(await p.read('data/.gitignore'), '/raw\n');
  assert.match(await p.read('.gitignore'), /^\/file\.txt$/m);
  assert.ok(await p.exists('.cache/files/md5/9a/8ad92c50cae39aa2c5604fd0ab6d8c'));
  assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');

  await p.write('file.txt', 'changed\n');
  await fs.rm(path.join(p.dir, 'data/raw/a.txt'));
  const st = await p.run(['status']);
  assert.equal(
    st.stdout,
    'file.txt.dvc:\n\tchanged outs:\n\t\tmodified:           file.txt\ndata/raw.dvc:\n\tchanged outs:\n' +
      '\t\tmodified:  ' +
      '         data/raw',
  );
  // a modified file whose content is not cached is kept without --force; the deleted file is restored
  const co = await p.run(['checkout']);
  assert.notEqual(co.exitCode, 0);
  assert.match(co.stderr, /output 'file\.txt' of file\.txt\.dvc has changes that are not in the cache/);
  assert.equal(await p.read('data/raw/a.txt'), 'hello\n');
  assert.equal((await p.run(['checkout', '-f', 'file.txt.dvc'])).exitCode, 0);
  assert.equal(await p.read('file.txt'), 'f\n');
  // commit records the new content
  await p.write('file.txt', 'v2\n');
  assert.equal((await p.run(['commit', 'file.txt'])).exitCode, 0);
  assert.match(await p.read('file.txt.dvc'), /md5: [0-9a-f]{32}\n {2}size: 3\n/);
  assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');
});

test('move and remove work as in DVC: the .dvc file follows the data; remove keeps the data', async () => {
  const p = await dataProject();
  assert.equal((await p.run(['move', 'file.txt', 'renamed.txt'])).exitCode, 0);
  assert.equal(await p.exists('file.txt.dvc'), false);
  assert.match(await p.read('renamed.txt.dvc'), /path: renamed\.txt\n/);
  assert.match(await p.read('.gitignore'), /^\/renamed\.txt$/m);
  assert.doesNotMatch(await p.read('.gitignore'), /^\/file\.txt$/m);
  assert.equal((await p.run(['remove', 'renamed.txt.dvc'])).exitCode, 0);
  assert.equal(await p.exists('renamed.txt.dvc'), false);
  assert.equal(await p.read('renamed.txt'), 'f\n');
  assert.doesNotMatch(await p.read('.gitignore'), /renamed/);
});

test('a .dvc-tracked path is a dep source; a missing dep fails only the stages that need it', async () => {
  const p = await dataProject({
    'dvc.yaml': `stages:
  count:
    cmd: ls data/raw | wc -l > count.txt
    deps: [data/raw]
    outs: [count.txt]
  orphan:
    cmd: cat nowhere.txt > o.txt
    deps: [nowhere.txt]
    outs: [o.txt]
  after:
    cmd: cat o.txt > after.txt
    deps: [o.txt]
    outs: [after.txt]
  free:
    cmd: echo free > free.txt
    outs: [free.txt]
`,
  });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 2, r.all);
  assert.match(
    r.stderr,
    /^lockstep: stage 'orphan': dependency 'nowhere\.txt' does not exist and no stage produces it/m,
  );
  assert.match(r.stderr, /Stage 'after' not run: upstream stage 'orphan' failed/);
  assert.equal((await p.read('count.txt')).trim(), '2');
  assert.equal(await p.read('free.txt'), 'free\n');
  // tracked data not in the workspace: a clear error naming the .dvc file
  await fs.rm(path.join(p.dir, 'data/raw'), { recursive: true });
  const again = await p.run(['repro', '-f', 'count']);
  assert.equal(again.exitCode, 2);
  assert.match(
    again.stderr,
    new RegExp(
      /dependency 'data\/raw' is tracked by data\/raw\.dvc but is not in the workspace\. Run lockstep checkout /
        .source + /data\/raw\.dvc/.source,
    ),
  );
});

test('push, pull and gc honour .dvc files', async () => {
  const p = await dataProject();
  const store = await tempDir('lockstep-dvc-remote-');
  assert.equal((await p.run(['remote', 'add', '-d', 'store', store])).exitCode, 0);
  const push = await p.run(['push']);
  assert.equal(push.exitCode, 0, push.all);
  assert.ok(await fs.stat(path.join(store, 'files/md5/9a/8ad92c50cae39aa2c5604fd0ab6d8c')));
  const gc = await p.run(['gc', '-w']);
  assert.equal(gc.exitCode, 0, gc.all);
  assert.ok(await p.exists('.cache/files/md5/9a/8ad92c50cae39aa2c5604fd0ab6d8c'), 'gc keeps .dvc-tracked data');
  await fs.rm(path.join(p.dir, '.cache'), { recursive: true });
  await fs.rm(path.join(p.dir, 'data/raw'), { recursive: true });
  await fs.rm(path.join(p.dir, 'file.txt'));
  const pull = await p.run(['pull']);
  assert.equal(pull.exitCode, 0, pull.all);
  assert.equal(await p.read('data/raw/a.txt'), 'hello\n');
  assert.equal(await p.read('file.txt'), 'f\n');
});
