import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { countRun, freshClone, tempProject, type TempProject } from '../helpers/project.js';
import { auditObjects } from '../helpers/objects.js';
import { tempDir } from '../helpers/tmp.js';
import { startS3 } from '../helpers/s3server.js';
import { freePort, startProxy } from '../helpers/net.js';
import { sshdUnavailable, startSshd } from '../helpers/sshd.js';

const PIPELINE = (files: number, size: number) => `stages:
  gen:
    cmd: >-
      mkdir -p data && for i in $(seq 1 ${files}); do head -c ${size} /dev/urandom > data/f$i.bin; done &&
      echo model > model.txt
    outs: [data, model.txt]
  side:
    cmd: echo local-only > side.txt
    outs:
      - side.txt:
          push: false
`;

/** A project that has run its pipeline and committed the lock file. */
async function reproduced(files = 5, size = 3000): Promise<TempProject> {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE(files, size), '.gitignore': '.cache/\n' });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  return p;
}

async function commitAll(p: TempProject): Promise<void> {
  await p.git('add', '-A');
  await p.git('commit', '-q', '-m', 'lock');
}

test('push to a folder remote, then a fresh clone pulls the outputs back; push: false stays local', async () => {
  const p = await reproduced();
  const remoteDir = await tempDir('lockstep-remote-');
  assert.equal((await p.run(['remote', 'add', '-d', 'store', remoteDir])).exitCode, 0);
  assert.equal((await p.run(['remote', 'list'])).stdout, `store\t${remoteDir}\t(default)`);
  const push = await p.run(['push', '-j', '4']);
  assert.equal(push.exitCode, 0, push.all);
  // 5 data files + the .dir manifest + model.txt; side.txt is push: false
  assert.match(push.stdout, /^pushed 7 objects \(.*\) to 'store' .*; 0 already there$/);
  assert.deepEqual(await auditObjects(remoteDir), { objects: 7, corrupt: [] });
  const again = await p.run(['push']);
  // every object is asked about again (a .dir on the remote proves nothing about its files)
  assert.match(again.stdout, /^pushed 0 objects .*; 7 already there$/, again.all);

  const status = await p.run(['status', '--cloud']);
  assert.equal(status.exitCode, 0, status.all);
  assert.match(status.stdout, /gen: data \(remote 'store'\): 0 new, 0 deleted, 0 missing, 6 in sync/);

  await commitAll(p);
  const clone = await freshClone(p);
  const pull = await clone.run(['pull', 'gen']);
  assert.equal(pull.exitCode, 0, pull.all);
  assert.match(pull.stdout, /^fetched 7 objects/);
  for (let i = 1; i <= 5; i++) assert.equal(await clone.read(`data/f${i}.bin`), await p.read(`data/f${i}.bin`));
  assert.equal(await clone.read('model.txt'), 'model\n');
});

test('status --cloud counts new objects after an output changed', async () => {
  const p = await reproduced(4);
  const remoteDir = await tempDir('lockstep-remote-');
  await p.run(['remote', 'add', '-d', 'store', remoteDir]);
  assert.equal((await p.run(['push'])).exitCode, 0);
  await p.write('pipeline.yaml', PIPELINE(5, 3000));
  assert.equal((await p.run(['repro', 'gen'])).exitCode, 0);
  const status = await p.run(['status', '--cloud', 'gen', '--json']);
  assert.equal(status.exitCode, 0, status.all);
  const data = JSON.parse(status.stdout) as { outputs: { path: string; new: string[] }[]; inSync: boolean };
  const dataOut = data.outputs.find((o) => o.path === 'data')!;
  // every file was regenerated (random content): 5 new files and a new manifest
  assert.equal(dataOut.new.length, 6);
  assert.equal(data.inSync, false);
});

test('a corrupted object on the remote is refused on pull and never enters the cache', async () => {
  const p = await reproduced(3);
  const remoteDir = await tempDir('lockstep-remote-');
  await p.run(['remote', 'add', '-d', 'store', remoteDir]);
  assert.equal((await p.run(['push'])).exitCode, 0);
  await commitAll(p);
  const h = createHash('md5')
    .update(await fs.readFile(path.join(p.dir, 'data/f2.bin')))
    .digest('hex');
  const obj = path.join(remoteDir, 'files', 'md5', h.slice(0, 2), h.slice(2));
  await fs.chmod(obj, 0o644);
  await fs.writeFile(obj, 'not the right bytes');
  const clone = await freshClone(p);
  const pull = await clone.run(['pull', 'gen']);
  assert.equal(pull.exitCode, 1, pull.all);
  assert.equal(pull.stderr.split('\n').filter(Boolean).length, 1, pull.stderr);
  assert.match(
    pull.stderr,
    new RegExp(`^lockstep: remote object files/md5/${h.slice(0, 2)}/${h.slice(2)} on 'store' does not match its hash`),
  );
  await assert.rejects(fs.access(path.join(clone.dir, '.cache', 'files', 'md5', h.slice(0, 2), h.slice(2))));
});

test('unknown remote names and a missing default are one-line errors listing the known remotes', async () => {
  const p = await reproduced(1);
  const none = await p.run(['push']);
  assert.equal(none.exitCode, 1);
  assert.equal(none.stderr, 'lockstep: no remote is configured. Add one with lockstep remote add -d NAME URL.');
  await p.run(['remote', 'add', 'a', '/tmp/x']);
  await p.run(['remote', 'add', 'b', 's3://bucket/x']);
  const unknown = await p.run(['push', '-r', 'nope']);
  assert.equal(unknown.exitCode, 1);
  assert.match(unknown.stderr, /^lockstep: unknown remote 'nope' \(known remotes: a, b\)/);
  const bad = await p.run(['remote', 'modify', 'a', 'endpointurl', 'x']);
  assert.equal(bad.exitCode, 2);
  assert.match(bad.stderr, /'endpointurl' is not an option of folder remote 'a'/);
  const port = await freePort();
  await p.run(['remote', 'add', 'dead', `ssh://nobody@127.0.0.1:${port}/srv/store`]);
  const dead = await p.run(['push', '-r', 'dead']);
  assert.equal(dead.exitCode, 1);
  assert.match(
    dead.stderr,
    new RegExp(
      `^lockstep: cannot reach remote 'dead' \\(ssh://nobody@127.0.0.1:${port}/srv/store\\): connect ECONNREFUSED ` +
        `[^\\n]* Check the host name and port, and that the server is running.$`,
    ),
  );
  assert.equal((await p.run(['remote', 'remove', 'a'])).exitCode, 0);
  assert.equal(
    (await p.run(['remote', 'list'])).stdout,
    `b\ts3://bucket/x\ndead\tssh://nobody@127.0.0.1:${port}/srv/store`,
  );
});

test('push and pull through an S3 API server with credentials in the local config', async () => {
  const s3 = await startS3();
  after(() => s3.stop());
  const p = await reproduced(4);
  await p.run(['remote', 'add', '-d', 'cloud', `s3://${s3.bucket}/team/project`]);
  for (const [k, v] of Object.entries(s3.options()))
    assert.equal((await p.run(['remote', 'modify', '--local', 'cloud', k, v])).exitCode, 0);
  // credentials stay out of the git-tracked config
  assert.doesNotMatch(await p.read('.lockstep/config.yaml'), /S3RVER/);
  assert.equal(await p.read('.lockstep/.gitignore'), '/tmp/\n/config.local.yaml\n');
  const push = await p.run(['push']);
  assert.equal(push.exitCode, 0, push.all);
  assert.match(push.stdout, /^pushed 6 objects/);
  assert.doesNotMatch(push.all ?? '', /S3RVER/);
  assert.equal(push.stderr, '', 'nothing but the summary is printed');
  await commitAll(p);
  const clone = await freshClone(p);
  await fs.copyFile(
    path.join(p.dir, '.lockstep/config.local.yaml'),
    path.join(clone.dir, '.lockstep/config.local.yaml'),
  );
  const pull = await clone.run(['pull']);
  assert.equal(pull.exitCode, 1, pull.all); // side.txt (push: false) has nothing to check out from
  const pullGen = await clone.run(['pull', 'gen']);
  assert.equal(pullGen.exitCode, 0, pullGen.all);
  assert.equal(await clone.read('data/f3.bin'), await p.read('data/f3.bin'));
});

test(`a connection dropped mid-push fails with one line; a rerun completes and nothing on the remote is \
corrupt`, async (t) => {
  const why = sshdUnavailable();
  if (why) return t.skip(why);
  const sshd = await startSshd();
  after(() => sshd.stop());
  const proxy = await startProxy(sshd.port);
  after(() => proxy.close());
  const p = await reproduced(400, 3000);
  await p.run(['remote', 'add', '-d', 'ssh', `ssh://${sshd.user}@127.0.0.1:${proxy.port}${sshd.root}/store`]);
  await p.run(['remote', 'modify', '--local', 'ssh', 'keyfile', sshd.keyfile]);
  // cut the network for good once ~300 kB went up: retries cannot reconnect, so the push fails
  proxy.onUpstreamBytes(300_000, () => proxy.cut({ refuse: true }));
  const first = await p.run(['push', '-j', '8']);
  assert.equal(first.exitCode, 1, first.all);
  assert.equal(first.stderr.split('\n').filter(Boolean).length, 1, first.stderr);
  assert.match(first.stderr, /^lockstep: (connection to|cannot reach) remote 'ssh'/);
  const partial = await auditObjects(path.join(sshd.root, 'store'));
  assert.deepEqual(partial.corrupt, []);
  assert.ok(partial.objects < 402, `the first push was interrupted (${partial.objects} objects up)`);
  proxy.restore();
  const second = await p.run(['push', '-j', '8']);
  assert.equal(second.exitCode, 0, second.all);
  assert.deepEqual(await auditObjects(path.join(sshd.root, 'store')), { objects: 402, corrupt: [] });
});

test('--run-cache mirrors the run-cache entries, and fetch --run-cache brings them into a fresh cache', async () => {
  const p = await reproduced(2);
  const remoteDir = await tempDir('lockstep-remote-');
  await p.run(['remote', 'add', '-d', 'store', remoteDir]);
  const push = await p.run(['push', '--run-cache']);
  assert.equal(push.exitCode, 0, push.all);
  const entries = (
    await fs.readdir(path.join(p.dir, '.cache', 'runs'), { recursive: true, withFileTypes: true })
  ).filter((e) => e.isFile());
  assert.ok(entries.length >= 2, 'repro wrote run-cache entries');
  assert.match(push.stdout, new RegExp(`run-cache: ${entries.length} entries pushed`));
  const remoteEntries = (
    await fs.readdir(path.join(remoteDir, 'runs'), { recursive: true, withFileTypes: true })
  ).filter((e) => e.isFile());
  assert.equal(remoteEntries.length, entries.length);
  await commitAll(p);
  const clone = await freshClone(p);
  const fetch = await clone.run(['fetch', '--run-cache']);
  assert.equal(fetch.exitCode, 0, fetch.all);
  const fetched = (
    await fs.readdir(path.join(clone.dir, '.cache', 'runs'), { recursive: true, withFileTypes: true })
  ).filter((e) => e.isFile());
  assert.equal(fetched.length, entries.length);
});

test(`push --run-cache sends the objects every entry names first, and keeps here an entry whose objects the cache \
lost: the remote never holds an entry naming an object it lacks`, async () => {
  const pipeline = 'stages:\n  gen:\n    cmd: cat params.yaml > out.txt\n    params: [v]\n    outs: [out.txt]\n';
  const p = await tempProject({ 'pipeline.yaml': pipeline, 'params.yaml': 'v: 1\n', '.gitignore': '.cache/\n' });
  for (const v of [1, 2, 3]) {
    await p.write('params.yaml', `v: ${v}\n`);
    assert.equal((await p.run(['repro'])).exitCode, 0);
  }
  // the lock names v: 3's output only; the run-cache has an entry per value. The cache loses v: 1's output.
  const md5 = (t: string) => createHash('md5').update(t).digest('hex');
  const lost = md5('v: 1\n');
  await fs.rm(path.join(p.dir, '.cache', 'files', 'md5', lost.slice(0, 2), lost.slice(2)));
  const remoteDir = await tempDir('lockstep-remote-');
  await p.run(['remote', 'add', '-d', 'store', remoteDir]);
  const push = await p.run(['push', '--run-cache']);
  assert.equal(push.exitCode, 0, push.all);
  assert.match(push.stdout, /run-cache: 2 entries pushed/);
  const entries = (await fs.readdir(path.join(remoteDir, 'runs'), { recursive: true, withFileTypes: true })).filter(
    (e) => e.isFile(),
  );
  const named = new Set<string>();
  for (const e of entries) {
    for (const m of (await fs.readFile(path.join(e.parentPath, e.name), 'utf8')).matchAll(/md5: ([0-9a-f]{32})/g))
      named.add(m[1]!);
  }
  assert.deepEqual([...named].sort(), [md5('v: 2\n'), md5('v: 3\n')].sort());
  for (const h of named) {
    await fs.access(path.join(remoteDir, 'files', 'md5', h.slice(0, 2), h.slice(2)));
  }
  assert.deepEqual((await auditObjects(remoteDir)).corrupt, []);
});

test(`repro --pull on a fresh clone restores stages from the remote instead of running them; an unreachable remote \
only means they run`, async () => {
  const pipeline = `stages:
  gen:
    cmd: >-
      ${countRun('gen')} && mkdir -p data && head -c 5000 /dev/urandom > data/a.bin &&
      head -c 7000 /dev/urandom > data/b.bin
    outs: [data]
  use:
    cmd: ${countRun('use')} && cat data/a.bin data/b.bin | md5sum > sum.txt
    deps: [data]
    outs: [sum.txt]
`;
  const p = await tempProject({ 'pipeline.yaml': pipeline, '.gitignore': '.cache/\nruns/\n' });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const remoteDir = await tempDir('lockstep-remote-');
  await p.run(['remote', 'add', '-d', 'store', remoteDir]);
  assert.equal((await p.run(['push', '--run-cache'])).exitCode, 0);
  await commitAll(p);

  // with the lock file: its entries name the objects
  const clone = await freshClone(p);
  const r = await clone.run(['repro', '--pull']);
  assert.equal(r.exitCode, 0, r.all);
  assert.match(r.stdout, /Stage 'gen' restored from the cache \(objects pulled from the remote\), not run/);
  assert.match(r.stdout, /Stage 'use' restored from the cache \(objects pulled from the remote\), not run/);
  await assert.rejects(fs.access(path.join(clone.dir, 'runs')), 'no stage command ran in the clone');
  assert.equal(await clone.read('sum.txt'), await p.read('sum.txt'));

  // without it: the run-cache entries on the remote name them
  const bare = await freshClone(p);
  await fs.rm(path.join(bare.dir, 'pipeline.lock'));
  const r2 = await bare.run(['repro', '--pull']);
  assert.equal(r2.exitCode, 0, r2.all);
  assert.match(r2.stdout, /Stage 'gen' restored from the run-cache \(objects pulled from the remote\), not run/);
  assert.equal(await bare.read('sum.txt'), await p.read('sum.txt'));

  // a remote that cannot be reached: a warning per stage, then the stages run as without --pull
  const offline = await freshClone(p);
  const port = await freePort();
  await offline.run(['remote', 'add', '-d', 'dead', `ssh://nobody@127.0.0.1:${port}/srv`]);
  const r3 = await offline.run(['repro', '--pull']);
  assert.equal(r3.exitCode, 0, r3.all);
  assert.match(
    r3.stderr,
    /^Stage 'gen': could not pull from the remote \(cannot reach remote 'dead' .*\); running it instead$/m,
  );
  assert.equal(await offline.read('runs/gen'), 'x\n');
});
