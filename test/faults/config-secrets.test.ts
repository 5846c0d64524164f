/**
 * Issue 12, configuration bullets: secrets never go to the tracked config.yaml (lockstep refuses and says
 * to use --local), the local config is 0600; a new project git-ignores its cache, .lockstep/tmp and the
 * local config; outputs of a project in a subfolder of a git repository are git-ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, tempProject } from '../helpers/project.js';

test('a secret in a remote URL or option is refused for config.yaml, with one line saying --local', async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages: {}\n' });
  const cases: string[][] = [
    ['remote', 'add', 'box', 'ssh://alice:hunter2@example.com/srv/store'],
    ['remote', 'add', 'bucket', 's3://bucket/prefix?secret_access_key=abc'],
  ];
  for (const args of cases) {
    const r = await p.run(args);
    assert.equal(r.exitCode, 2, `${args.join(' ')}: ${r.all}`);
    assert.match(
      r.stderr,
      /^lockstep: .*(password|secret).* would go to \.lockstep\/config\.yaml, which git tracks\. .*--local/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.equal(await p.exists('.lockstep/config.yaml'), false, 'nothing was written');
  assert.equal((await p.run(['remote', 'add', 'box', 'ssh://alice@example.com/srv/store'])).exitCode, 0);
  assert.equal((await p.run(['remote', 'add', 'bucket', 's3://bucket/prefix'])).exitCode, 0);
  for (const [name, key] of [
    ['box', 'password'],
    ['bucket', 'secret_access_key'],
    ['bucket', 'access_key_id'],
    ['bucket', 'session_token'],
  ] as const) {
    const r = await p.run(['remote', 'modify', name, key, 'shh']);
    assert.equal(r.exitCode, 2, `${key}: ${r.all}`);
    assert.match(r.stderr, new RegExp(`^lockstep: '${key}' is a secret: .*--local`));
  }
  const url = await p.run(['remote', 'modify', 'box', 'url', 'ssh://alice:pw@example.com/x']);
  assert.equal(url.exitCode, 2, url.all);
  assert.doesNotMatch(await p.read('.lockstep/config.yaml'), /hunter2|shh|pw@|secret=/);
  // with --local they go to the git-ignored local file, created 0600
  assert.equal((await p.run(['remote', 'modify', '--local', 'box', 'password', 'shh'])).exitCode, 0);
  assert.equal((await fs.stat(path.join(p.dir, '.lockstep/config.local.yaml'))).mode & 0o777, 0o600);
  assert.match(await p.read('.lockstep/config.local.yaml'), /password: shh/);
  assert.equal(await p.git('check-ignore', '.lockstep/config.local.yaml'), '.lockstep/config.local.yaml');
});

test('a local config that exists with 0644 becomes 0600 when lockstep writes it', async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages: {}\n', '.lockstep/config.local.yaml': 'core: {}\n' });
  await fs.chmod(path.join(p.dir, '.lockstep/config.local.yaml'), 0o644);
  assert.equal((await p.run(['remote', 'add', '--local', 'box', 'ssh://alice:pw@example.com/x'])).exitCode, 0);
  assert.equal((await fs.stat(path.join(p.dir, '.lockstep/config.local.yaml'))).mode & 0o777, 0o600);
});

test('the first repro of a new project git-ignores the cache, .lockstep/tmp and the local config', async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n' });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.write('.lockstep/config.local.yaml', 'core: {}\n');
  await p.git('add', '-A');
  const staged = (await p.git('diff', '--cached', '--name-only')).split('\n');
  assert.ok(!staged.some((f) => f.startsWith('.cache/') || f.startsWith('.lockstep/tmp/')), staged.join(' '));
  assert.ok(!staged.includes('.lockstep/config.local.yaml') && !staged.includes('a.txt'), staged.join(' '));
  assert.ok(staged.includes('pipeline.lock'), staged.join(' '));
});

test('a project in a subfolder of a git repository git-ignores its outputs', async () => {
  const repo = await tempProject({
    'ml/pipeline.yaml':
      'stages:\n  a:\n    cmd: mkdir -p out && echo a > out/a.txt && echo b > b.txt\n    outs: [out, b.txt]\n',
  });
  const r = await execa(process.execPath, [CLI, 'repro'], {
    cwd: path.join(repo.dir, 'ml'),
    reject: false,
    all: true,
  });
  assert.equal(r.exitCode, 0, r.all);
  await repo.git('add', '-A');
  const staged = (await repo.git('diff', '--cached', '--name-only')).split('\n');
  assert.ok(
    !staged.some((f) => f.startsWith('ml/out/') || f === 'ml/b.txt' || f.startsWith('ml/.cache/')),
    staged.join(' '),
  );
  assert.ok(staged.includes('ml/pipeline.lock'), staged.join(' '));
});
