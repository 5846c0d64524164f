/**
 * The remotes never claim something false (issue 12, items 8, 10 and 13): push never uploads an
 * object whose content does not match its name; a file object missing under a `.dir` that is still
 * on the remote is pushed again and `status --cloud` reports it; uncached outputs (`cache: false`,
 * as the project's own `persist: true, cache: false` checkpoint) are not transferred; and `pull`
 * checks out every output it has before naming what is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { md5Hex } from '../../src/hash/index.js';
import { freshClone, tempProject, type CliResult, type TempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';

/** The shape of the project's own train stage: a cached model folder, a persist+cache:false checkpoint, metrics. */
const PIPELINE = `stages:
  prepare:
    cmd: mkdir -p data && for i in 1 2 3 4; do echo "image $i" > data/img$i.txt; done
    outs: [data]
  train:
    cmd: >-
      mkdir -p models/model models/checkpoint metrics && cat data/* > models/model/weights.bin &&
      echo step >> models/checkpoint/state && echo '{"acc": 1}' > metrics/train.json
    deps: [data]
    outs:
      - models/model
      - models/checkpoint:
          persist: true
          cache: false
    metrics:
      - metrics/train.json:
          cache: false
`;

async function reproduced(pipeline = PIPELINE): Promise<TempProject> {
  const p = await tempProject({ 'pipeline.yaml': pipeline, '.gitignore': '.cache/\n' });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  return p;
}

/** Commit the lock and everything else, then a fresh clone of that. */
async function committedClone(p: TempProject): Promise<TempProject> {
  await p.git('add', '-A');
  await p.git('commit', '-q', '-m', 'lock');
  return freshClone(p);
}

async function withFolderRemote(p: TempProject): Promise<string> {
  const remote = await tempDir('lockstep-remote-');
  assert.equal((await p.run(['remote', 'add', '-d', 'store', remote])).exitCode, 0);
  return remote;
}

const objectKeyPath = (remote: string, md5: string) => path.join(remote, 'files', 'md5', md5.slice(0, 2), md5.slice(2));

function oneLine(r: CliResult, pattern: RegExp): void {
  assert.equal(r.exitCode, 1, r.all);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

test(`the project's own pipeline shape: push, status --cloud and a fresh clone's pull skip the persist+cache:false \
checkpoint`, async () => {
  const p = await reproduced();
  const remote = await withFolderRemote(p);
  const push = await p.run(['push']);
  assert.equal(push.exitCode, 0, push.all);
  const st = await p.run(['status', '--cloud', '--json']);
  assert.equal(st.exitCode, 0, st.all);
  const cloud = JSON.parse(st.stdout) as { inSync: boolean; outputs: { path: string }[] };
  assert.equal(cloud.inSync, true, st.stdout);
  assert.deepEqual(cloud.outputs.map((o) => o.path).sort(), ['data', 'models/model']);
  const c = await committedClone(p);
  const pull = await c.run(['pull']);
  assert.equal(pull.exitCode, 0, pull.all);
  assert.equal(
    await fs.readFile(path.join(c.dir, 'models/model/weights.bin'), 'utf8'),
    'image 1\nimage 2\nimage 3\nimage 4\n',
  );
  assert.equal(await fs.readFile(path.join(c.dir, 'data/img3.txt'), 'utf8'), 'image 3\n');
  const fetch = await c.run(['fetch']);
  assert.equal(fetch.exitCode, 0, fetch.all);
  assert.ok((await fs.readdir(remote)).includes('files'));
});

test(`pull with objects missing on the remote: every output it has is checked out, then the missing ones are named \
(exit 1)`, async () => {
  const p = await reproduced();
  const remote = await withFolderRemote(p);
  assert.equal((await p.run(['push'])).exitCode, 0);
  // the model's only file disappears from the remote
  const weights = md5Hex('image 1\nimage 2\nimage 3\nimage 4\n');
  await fs.rm(objectKeyPath(remote, weights));
  const c = await committedClone(p);
  const pull = await c.run(['pull']);
  oneLine(pull, /^lockstep: 1 object is missing on remote 'store' .*models\/model/);
  assert.equal(await fs.readFile(path.join(c.dir, 'data/img2.txt'), 'utf8'), 'image 2\n', 'data was checked out');
  assert.match(pull.stdout, /M\tdata/);
});

test(`a file object missing on the remote under a .dir that is still there: status --cloud reports it, push uploads \
it again`, async () => {
  const p = await reproduced();
  const remote = await withFolderRemote(p);
  assert.equal((await p.run(['push'])).exitCode, 0);
  const img = md5Hex('image 3\n');
  await fs.rm(objectKeyPath(remote, img));
  const st = await p.run(['status', '--cloud', '--json']);
  const cloud = JSON.parse(st.stdout) as { inSync: boolean; outputs: { path: string; new: string[] }[] };
  assert.equal(cloud.inSync, false, st.stdout);
  assert.deepEqual(cloud.outputs.find((o) => o.path === 'data')?.new, ['data/img3.txt']);
  const push = await p.run(['push']);
  assert.equal(push.exitCode, 0, push.all);
  assert.match(push.stdout, /pushed 1 object/);
  assert.equal(md5Hex(await fs.readFile(objectKeyPath(remote, img))), img);
  const again = await p.run(['status', '--cloud', '--json']);
  assert.equal((JSON.parse(again.stdout) as { inSync: boolean }).inSync, true, again.stdout);
});

test('push never uploads a corrupt cache object: one line naming it, and the remote never holds it', async () => {
  const p = await reproduced();
  const remote = await withFolderRemote(p);
  const img = md5Hex('image 2\n');
  const obj = path.join(p.dir, '.cache', 'files', 'md5', img.slice(0, 2), img.slice(2));
  await fs.chmod(obj, 0o644);
  await fs.writeFile(obj, 'IMAGE 2\n');
  const push = await p.run(['push']);
  oneLine(push, /^lockstep: cache object files\/md5\/\w\w\/\w+ .*does not match its hash.*not pushed/);
  assert.equal(
    await fs.access(objectKeyPath(remote, img)).then(
      () => true,
      () => false,
    ),
    false,
    'the corrupt object is not on the remote',
  );
  // its directory is not marked complete on the remote either, and every object there is sound
  for (const pre of await fs.readdir(path.join(remote, 'files', 'md5'))) {
    for (const name of await fs.readdir(path.join(remote, 'files', 'md5', pre))) {
      const h = createHash('md5')
        .update(await fs.readFile(path.join(remote, 'files', 'md5', pre, name)))
        .digest('hex');
      assert.equal(`${pre}${name}`, h + (name.endsWith('.dir') ? '.dir' : ''));
      assert.ok(
        !name.endsWith('.dir') ||
          !(await fs.readFile(path.join(remote, 'files', 'md5', pre, name), 'utf8')).includes(img),
      );
    }
  }
});

test(`a stage with wdir: its lock paths meet the pipeline's push: false and cache: false flags (push, status --cloud, \
fetch)`, async () => {
  const p = await reproduced(`stages:
  train:
    wdir: sub
    cmd: >-
      mkdir -p ckpt && echo weights > model.bin && echo private > private.bin && echo step >> ckpt/state
    outs:
      - model.bin
      - private.bin:
          push: false
      - ckpt:
          persist: true
          cache: false
`);
  const remote = await withFolderRemote(p);
  const push = await p.run(['push']);
  assert.equal(push.exitCode, 0, push.all);
  assert.match(push.stdout, /pushed 1 object/);
  const exists = (md5: string) =>
    fs.access(objectKeyPath(remote, md5)).then(
      () => true,
      () => false,
    );
  assert.equal(await exists(md5Hex('weights\n')), true);
  assert.equal(await exists(md5Hex('private\n')), false, 'push: false in a wdir stage is not pushed');
  const st = await p.run(['status', '--cloud', '--json']);
  assert.equal(st.exitCode, 0, st.all);
  const cloud = JSON.parse(st.stdout) as { inSync: boolean; outputs: { path: string; push: boolean }[] };
  assert.equal(cloud.inSync, true, st.stdout);
  assert.deepEqual(cloud.outputs.map((o) => [o.path, o.push]).sort(), [
    ['sub/model.bin', true],
    ['sub/private.bin', false],
  ]);
  const c = await committedClone(p);
  const fetch = await c.run(['fetch']);
  assert.equal(fetch.exitCode, 0, fetch.all);
});
