/**
 * Remote faults a test can only make real with root or a real server: a remote whose disk fills
 * up mid-push (a 1 MiB tmpfs under a folder remote, an SSH server and an S3 server) and a remote
 * the user may not write (lockstep run as `nobody`; an SSH login as `nobody`; an S3 account that
 * does not own the bucket, on versitygw). Each fails with one line saying what happened, leaves no temp file and no
 * corrupt object on the remote, and a rerun completes once the cause is gone. Skipped, saying why,
 * where the tests cannot mount a tmpfs or switch user.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, tempProject, type CliResult, type TempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';
import { sshdUnavailable, startSshd } from '../helpers/sshd.js';
import { startVersity, versitygwUnavailable } from '../helpers/versitygw.js';

// five objects of 300 kB: more than a 1 MiB disk holds
const PIPELINE = `stages:
  gen:
    cmd: mkdir -p data && for i in 1 2 3 4 5; do head -c 300000 /dev/urandom > data/f$i.bin; done
    outs: [data]
`;

/** A 1 MiB tmpfs mounted on a fresh folder, unmounted after the file's tests; or why not. */
async function smallDisk(): Promise<{ dir: string; grow(): Promise<void> } | string> {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-full-'));
  const r = await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', dir], { reject: false });
  after(async () => {
    if (r.exitCode === 0) await execa('umount', ['-l', dir], { reject: false });
    await fs.rm(dir, { recursive: true, force: true });
  });
  if (r.exitCode !== 0) return `cannot mount a tmpfs here (${r.stderr.trim() || `exit ${r.exitCode}`})`;
  return { dir, grow: async () => void (await execa('mount', ['-o', 'remount,size=16m', dir])) };
}

async function nobodyUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'switching to the user nobody needs root';
  const r = await execa('id', ['-u', 'nobody'], { reject: false });
  return r.exitCode === 0 ? null : 'there is no user nobody';
}

/** Object files under a folder remote checked against their names, and any temp files left. */
async function audit(root: string): Promise<{ objects: number; corrupt: string[]; temps: string[] }> {
  const out = { objects: 0, corrupt: [] as string[], temps: [] as string[] };
  const base = path.join(root, 'files', 'md5');
  for (const pre of await fs.readdir(base).catch(() => [])) {
    for (const name of await fs.readdir(path.join(base, pre))) {
      if (name.startsWith('.')) {
        out.temps.push(`${pre}/${name}`);
        continue;
      }
      out.objects++;
      const h = createHash('md5')
        .update(await fs.readFile(path.join(base, pre, name)))
        .digest('hex');
      if (`${pre}${name}` !== h + (name.endsWith('.dir') ? '.dir' : '')) out.corrupt.push(`${pre}/${name}`);
    }
  }
  return out;
}

async function reproduced(): Promise<TempProject> {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, '.gitignore': '.cache/\n' });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  return p;
}

function oneLine(r: CliResult, pattern: RegExp): void {
  assert.equal(r.exitCode, 1, r.all);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test(`a remote whose disk fills up: one line saying it is full, no temp file or corrupt object left, a rerun \
completes once there is room`, async (t) => {
  const disk = await smallDisk();
  if (typeof disk === 'string') return t.skip(disk);
  const sshWhy = sshdUnavailable();
  const p = await reproduced();
  const kinds: { name: string; root: string }[] = [{ name: 'folder', root: path.join(disk.dir, 'folder') }];
  await p.run(['remote', 'add', 'folder', kinds[0]!.root]);
  if (sshWhy) t.diagnostic(`ssh part skipped: ${sshWhy}`);
  else {
    const sshd = await startSshd();
    after(() => sshd.stop());
    kinds.push({ name: 'ssh', root: path.join(disk.dir, 'ssh') });
    await p.run(['remote', 'add', 'ssh', `ssh://${sshd.user}@127.0.0.1:${sshd.port}${kinds[1]!.root}`]);
    await p.run(['remote', 'modify', '--local', 'ssh', 'keyfile', sshd.keyfile]);
  }
  const s3Why = versitygwUnavailable();
  if (s3Why) t.diagnostic(`s3 part skipped: ${s3Why}`);
  else {
    const s3 = await startVersity({ dataDir: path.join(disk.dir, 's3') });
    after(() => s3.stop());
    kinds.push({ name: 's3', root: path.join(s3.dataDir, s3.bucket, 'store') });
    await p.run(['remote', 'add', 's3', `s3://${s3.bucket}/store`]);
    for (const [k, v] of Object.entries(s3.options())) await p.run(['remote', 'modify', '--local', 's3', k, v]);
  }
  for (const k of kinds) {
    const r = await p.run(['push', '-r', k.name]);
    oneLine(
      r,
      new RegExp(
        `^lockstep: remote '${k.name}' \\(.*\\) is full at files/md5/\\w\\w/\\w+: .*(ENOSPC|[Nn]o space left).* Free ` +
          `space on the remote; a rerun resumes where this stopped\\.$`,
      ),
    );
    const left = await audit(k.root);
    assert.deepEqual(left.corrupt, [], k.name);
    assert.deepEqual(left.temps, [], `${k.name}: temp files left on the remote`);
    assert.ok(left.objects < 6, `${k.name}: ${left.objects} objects fit`);
    // the other remote gets its turn on an emptied disk
    await fs.rm(k.root, { recursive: true, force: true });
  }
  await disk.grow();
  for (const k of kinds) {
    const r = await p.run(['push', '-r', k.name]);
    assert.equal(r.exitCode, 0, r.all);
    assert.deepEqual(await audit(k.root), { objects: 6, corrupt: [], temps: [] }, k.name);
  }
});

test(`a remote path the user may not write: one line saying permission denied, for a folder and over \
SSH`, async (t) => {
  const why = await nobodyUnavailable();
  if (why) return t.skip(why);
  // a folder owned by root, 0755: readable by nobody, not writable
  const locked = await tempDir('lockstep-locked-');
  await fs.chmod(locked, 0o755);
  const p = await reproduced();
  const asNobody = async (args: string[]): Promise<CliResult> => {
    const r = await execa(
      'setpriv',
      ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', process.execPath, CLI, ...args],
      {
        cwd: p.dir,
        reject: false,
        all: true,
        env: { HOME: p.dir, FORCE_COLOR: '0' },
        timeout: 60_000,
      },
    );
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), all: String(r.all) };
  };
  await p.run(['remote', 'add', 'folder', locked]);
  await execa('chown', ['-R', 'nobody', p.dir]);
  await fs.chmod(p.dir, 0o755);
  oneLine(
    await asNobody(['push', '-r', 'folder']),
    new RegExp(
      /^lockstep: permission denied on remote 'folder' \(.*\) at files\/md5\/\w\w\/\w+: EACCES: permission /.source +
        /denied, mkdir .* Check that this user or key may read and write the remote path\.$/.source,
    ),
  );
  assert.deepEqual(await fs.readdir(locked), []);

  const sshWhy = sshdUnavailable();
  if (sshWhy) return t.diagnostic(`ssh part skipped: ${sshWhy}`);
  const sshd = await startSshd({ user: 'nobody' });
  after(() => sshd.stop());
  await p.run(['remote', 'add', 'ssh', `ssh://nobody@127.0.0.1:${sshd.port}${locked}/store`]);
  await p.run(['remote', 'modify', '--local', 'ssh', 'keyfile', sshd.keyfile]);
  oneLine(
    await p.run(['push', '-r', 'ssh']),
    new RegExp(
      /^lockstep: permission denied on remote 'ssh' \(ssh:\/\/nobody@127\.0\.0\.1:\d+\/.*\) at /.source +
        /files\/md5\/\w\w\/\w+: Permission denied\. Check that this user or key may read and write the remote /.source +
        /path\.$/.source,
    ),
  );
  assert.deepEqual(await fs.readdir(locked), []);
  // allowed to write, the same push goes through
  await execa('chown', ['nobody', locked]);
  const ok = await p.run(['push', '-r', 'ssh']);
  assert.equal(ok.exitCode, 0, ok.all);
  assert.deepEqual(await audit(path.join(locked, 'store')), { objects: 6, corrupt: [], temps: [] });
});

test(`an S3 account that may not write the bucket: one line saying permission denied; as its owner the push goes \
through`, async (t) => {
  const why = versitygwUnavailable();
  if (why) return t.skip(why);
  const s3 = await startVersity();
  after(() => s3.stop());
  await s3.addUser('alice', 'alice-secret-key');
  const p = await reproduced();
  await p.run(['remote', 'add', 's3', `s3://${s3.bucket}/store`]);
  for (const [k, v] of Object.entries({
    ...s3.options(),
    access_key_id: 'alice',
    secret_access_key: 'alice-secret-key',
  }))
    await p.run(['remote', 'modify', '--local', 's3', k, v]);
  const denied = await p.run(['push', '-r', 's3']);
  oneLine(
    denied,
    new RegExp(
      /^lockstep: permission denied on remote 's3' \(s3:\/\/lockstep-test\/store at http:\/\/127\.0\.0\.1:\d+\) /
        .source +
        /at files\/md5\/\w\w\/\w+(\.dir)?: .*(403|Access Denied).* Check that this user or key may read and write /
          .source +
        /the remote path\.$/.source,
    ),
  );
  assert.doesNotMatch(denied.all, /alice-secret-key/);
  assert.deepEqual(await audit(path.join(s3.dataDir, s3.bucket, 'store')), { objects: 0, corrupt: [], temps: [] });
  for (const [k, v] of Object.entries(s3.options())) await p.run(['remote', 'modify', '--local', 's3', k, v]);
  const ok = await p.run(['push', '-r', 's3']);
  assert.equal(ok.exitCode, 0, ok.all);
  assert.deepEqual(await audit(path.join(s3.dataDir, s3.bucket, 'store')), { objects: 6, corrupt: [], temps: [] });
});
