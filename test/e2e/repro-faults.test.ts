import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, countRun, runCount, tempProject, uniqueTag } from '../helpers/project.js';

const oneLine = (s: string) => s.trim().split('\n').length === 1 && !/\n\s+at /.test(s);

test('a failing command names the stage and exit code; nothing is cached or recorded; downstream does not run', async () => {
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
    "lockstep: stage 'b' failed: its command exited with code 3. Its outputs were not cached and downstream stages did not run; fix it and run lockstep repro again.",
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
          'stages:\n  a:\n    cmd: echo\n    deps: [b.txt]\n    outs: [a.txt]\n  b:\n    cmd: echo\n    deps: [a.txt]\n    outs: [b.txt]\n',
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
  // The stage holds until the test creates `release`, so the first repro surely holds the lock meanwhile.
  const p = await tempProject({
    'pipeline.yaml':
      'stages:\n  slow:\n    cmd: touch started && while [ ! -f release ]; do sleep 0.05; done && echo done > s.txt\n    outs: [s.txt]\n',
  });
  const first = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false });
  for (let i = 0; i < 600 && !(await p.exists('started')); i++) await new Promise((r) => setTimeout(r, 50));
  const second = await p.run(['repro']);
  assert.equal(second.exitCode, 1, second.all);
  assert.match(
    second.stderr,
    new RegExp(`^lockstep: the repository is locked by pid ${first.pid} \\(lockstep repro, started `),
  );
  // read-only commands take no lock
  assert.equal((await p.run(['status'])).exitCode, 0);
  const third = p.run(['repro', '--wait', '60']);
  await new Promise((r) => setTimeout(r, 500));
  await p.write('release', '');
  assert.equal((await first).exitCode, 0);
  const queued = await third;
  assert.equal(queued.exitCode, 0, queued.all);
  assert.match(queued.stdout, /Stage 'slow' didn't change, skipping/);
});

async function interruptedProject() {
  // The stage starts a child that would write late.txt after ~30 s unless its process tree is stopped;
  // its duration is unique to this test, so pgrep/pkill find this sleep and no other on the machine.
  const nap = `30.${uniqueTag()}`;
  const p = await tempProject({
    'pipeline.yaml': `stages:
  long:
    cmd: ${countRun('long')} && echo partial > out.txt && (sleep ${nap}; echo late > late.txt) & wait
    outs: [out.txt]
`,
    '.gitignore': 'runs/\n',
  });
  return { p, nap };
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
  test(`${signal} mid-stage: the tree stops, nothing is recorded, the next repro reruns the stage`, async () => {
    const { p, nap } = await interruptedProject();
    const child = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false });
    for (let i = 0; i < 200 && (await runCount(p, 'long')) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    child.kill(signal);
    const r = await child;
    if (signal !== 'SIGKILL') {
      assert.equal(r.exitCode, 130, r.all);
      assert.match(r.stderr, /^lockstep: interrupted/m);
      const ps = await execa('pgrep', ['-f', `sleep ${nap}`], { reject: false });
      assert.equal(ps.stdout.trim(), '', 'the stage process tree is stopped');
    } else {
      await execa('pkill', ['-f', `sleep ${nap}`], { reject: false });
    }
    assert.doesNotMatch(await p.read('pipeline.lock').catch(() => ''), /long:/);
    // the repository lock of a killed process is taken over
    const again = await p.run(['repro', '--dry']);
    assert.match(again.stdout, /would run 'long': never run/);
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
