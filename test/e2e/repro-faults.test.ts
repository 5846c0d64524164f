import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, countRun, runCount, tempProject } from '../helpers/project.js';
import { testRig } from '../helpers/rig.js';
import { waitDead, waitFor } from '../helpers/wait.js';

const oneLine = (s: string) => s.trim().split('\n').length === 1 && !/\n\s+at /.test(s);

test(`a failing command names the stage and exit code; nothing is cached or recorded; downstream does not \
run`, async () => {
  const p = await tempProject({
    'pipeline.yaml': `stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
  b:
    cmd: echo partial > b.txt && exit 3
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: ${countRun('c')} && cat b.txt > c.txt
    deps: [b.txt]
    outs: [c.txt]
`,
  });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 1);
  assert.equal(
    r.stderr.trim().split('\n').at(-1),
    "lockstep: stage 'b' failed: its command exited with code 3. Its outputs were not cached and downstream stages " +
      'did not run; fix it and run lockstep repro again.',
  );
  assert.equal(await runCount(p, 'c'), 0);
  const lock = await p.read('pipeline.lock');
  assert.match(lock, /\n {2}a:\n/);
  assert.doesNotMatch(lock, /\n {2}b:\n/);
  // the partial b.txt is not in the cache: only a.txt's object exists
  const objects = await execa('find', ['.cache/files', '-type', 'f'], { cwd: p.dir });
  assert.equal(objects.stdout.trim().split('\n').length, 1);
});

test('config and graph errors are one line with exit code 2 and no stack trace', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'pipeline.yaml': 'stages:\n  a:\n    cmd: [unclosed\n' }, /^lockstep: pipeline\.yaml:\d+:\d+: /],
    [
      { 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n    dep: [x]\n' },
      /^lockstep: pipeline\.yaml:4:5: stage 'a': unknown field 'dep' \(did you mean 'deps'\?\)/,
    ],
    [
      { 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n    deps: [nowhere.txt]\n' },
      /^lockstep: stage 'a': dependency 'nowhere\.txt' does not exist and no stage produces it/,
    ],
    [
      {
        'pipeline.yaml':
          'stages:\n  a:\n    cmd: echo\n    deps: [b.txt]\n    outs: [a.txt]\n  b:\n    cmd: echo\n    deps: ' +
          '[a.txt]\n    outs: [b.txt]\n',
      },
      /^lockstep: the pipeline has a cycle: (a -> b -> a|b -> a -> b)/,
    ],
    [
      { 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n    outs: [x.txt]\n  b:\n    cmd: echo\n    outs: [x.txt]\n' },
      /^lockstep: .*'x\.txt'.*/,
    ],
    [{ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n    outs: [../x.txt]\n' }, /^lockstep: .*outside/],
    [{ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n    outs: [/tmp/x.txt]\n' }, /^lockstep: .*outside/],
    [
      {
        'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n    params: [train.lr]\n    outs: [x.txt]\n',
        'params.yaml': 'train:\n  epochs: 3\n',
      },
      /^lockstep: .*train\.lr.*params\.yaml/,
    ],
  ];
  for (const [files, expected] of cases) {
    const p = await tempProject(files);
    const r = await p.run(['repro']);
    assert.equal(r.exitCode, 2, `${JSON.stringify(files)}: ${r.all}`);
    assert.match(r.stderr, expected, JSON.stringify(files));
    assert.ok(oneLine(r.stderr.split('\n')[0]!) && !/\bat .*\.js:\d+/.test(r.stderr), r.stderr);
  }
});

test('an output through a symlink that leaves the repository is refused', async () => {
  const p = await tempProject({
    'pipeline.yaml': 'stages:\n  a:\n    cmd: echo x > out/x.txt\n    outs: [out/x.txt]\n',
  });
  await fs.symlink('/tmp', path.join(p.dir, 'out'));
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 2, r.all);
  assert.match(r.stderr, /outside/);
});

test('a second repro in the same workspace fails naming the holder pid; --wait queues behind it', async () => {
  // The stage holds until the test releases it, so the first repro surely holds the lock meanwhile.
  const rig = await testRig();
  const cmd = rig.command('slow', { write: { 's.txt': 'done\n' } });
  const p = await tempProject({
    'pipeline.yaml': `stages:\n  slow:\n    cmd: ${JSON.stringify(cmd)}\n    outs: [s.txt]\n`,
  });
  const first = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false, all: true });
  await rig.started('slow');
  const second = await p.run(['repro']);
  assert.equal(second.exitCode, 1, second.all);
  assert.match(
    second.stderr,
    new RegExp(`^lockstep: the repository is locked by pid ${first.pid} \\(lockstep repro, started `),
  );
  // read-only commands take no lock
  assert.equal((await p.run(['status'])).exitCode, 0);
  const third = execa(process.execPath, [CLI, 'repro', '--wait', '60'], { cwd: p.dir, reject: false, all: true });
  let waiting = '';
  third.stderr?.on('data', (d: Buffer) => {
    waiting += d.toString();
  });
  await waitFor(() => waiting.includes(`Waiting for pid ${first.pid}`), { what: 'the third repro to queue' });
  assert.equal(await rig.runs('slow'), 1, 'the queued repro runs nothing while the lock is held');
  await rig.release('slow');
  assert.equal((await first).exitCode, 0);
  const queued = await third;
  assert.equal(queued.exitCode, 0, queued.all);
  assert.match(queued.stdout, /Stage 'slow' didn't change, skipping/);
  assert.equal(await rig.runs('slow'), 1);
});

async function interruptedProject() {
  // The stage holds with a child process until the test releases it (never, here).
  const rig = await testRig();
  const cmd = rig.command('long', { child: true, write: { 'out.txt': 'done\n' } });
  const p = await tempProject({
    'pipeline.yaml': `stages:\n  long:\n    cmd: ${JSON.stringify(cmd)}\n    outs: [out.txt]\n`,
  });
  return { p, rig };
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
  test(`${signal} mid-stage: the tree stops, nothing is recorded, the next repro reruns the stage`, async () => {
    const { p, rig } = await interruptedProject();
    const child = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false, all: true });
    const run = await rig.started('long');
    child.kill(signal);
    const r = await child;
    if (signal !== 'SIGKILL') {
      assert.equal(r.exitCode, 130, r.all);
      assert.match(r.stderr, /^lockstep: interrupted/m);
    }
    await waitDead([run.pid, run.childPid!], 'the stage process tree');
    assert.doesNotMatch(await p.read('pipeline.lock').catch(() => ''), /long:/);
    // the repository lock of a killed process is taken over
    const again = await p.run(['repro', '--dry']);
    assert.match(again.stdout, /would run 'long': never run/);
    await rig.release('long');
  });
}

test('a corrupt cache object is detected at checkout, never silently used', async () => {
  const p = await tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo good > a.txt\n    outs: [a.txt]\n' });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const { stdout } = await execa('find', ['.cache/files', '-type', 'f'], { cwd: p.dir });
  const object = path.join(p.dir, stdout.trim());
  await fs.chmod(object, 0o644);
  await fs.writeFile(object, 'evil\n');
  await fs.rm(path.join(p.dir, 'a.txt'));
  const r = await p.run(['checkout']);
  assert.equal(r.exitCode, 1, r.all);
  assert.match(r.stderr, /^lockstep: cache object .* does not match its hash/);
  assert.equal(await p.exists('a.txt'), false);
});

test('gc removes objects no lock references; --dry only lists them', async () => {
  const p = await tempProject({
    'pipeline.yaml': 'stages:\n  a:\n    cmd: cat in.txt > a.txt\n    deps: [in.txt]\n    outs: [a.txt]\n',
    'in.txt': 'one\n',
  });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  await p.write('in.txt', 'two\n');
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const dry = await p.run(['gc', '-w', '--dry', '--json']);
  assert.equal(JSON.parse(dry.stdout).removed.length, 1, dry.all);
  const objects = async () =>
    (await execa('find', ['.cache/files', '-type', 'f'], { cwd: p.dir })).stdout.trim().split('\n').length;
  assert.equal(await objects(), 2);
  assert.equal((await p.run(['gc', '-w'])).exitCode, 0);
  assert.equal(await objects(), 1);
  assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');
});
