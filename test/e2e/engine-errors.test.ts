import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { CLI, tempProject } from '../helpers/project.js';
import { testRig } from '../helpers/rig.js';
import { waitDead } from '../helpers/wait.js';

const PIPELINE = 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n';

test('usage and config errors: one line, exit 2, no stack trace; --verbose adds the stack', async () => {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE });
  const cases: [string[], RegExp][] = [
    [['repro', 'nope'], /^lockstep: no stage named 'nope'. Stages: a\.$/],
    [['repro', 'aa'], /^lockstep: no stage named 'aa'. Did you mean 'a'\?/],
    [['repro', '--forse'], /^lockstep: unknown option '--forse' \(Did you mean --force\?\)$/],
    [['statsu'], /^lockstep: unknown command 'statsu' \(Did you mean status\?\)$/],
    [['repro', '-j', '0'], /^lockstep: -j\/--jobs takes a whole number of at least 1, not '0'\. Example: -j 4\.$/],
    [['status', 'nope'], /^lockstep: no stage named 'nope'/],
  ];
  for (const [args, expected] of cases) {
    const r = await p.run(args);
    assert.equal(r.exitCode, 2, `${args.join(' ')}: ${r.all}`);
    assert.equal(r.stdout, '', args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), expected);
  }
  const verbose = await p.run(['repro', 'nope', '--verbose']);
  assert.equal(verbose.exitCode, 2);
  assert.match(verbose.stderr, /^lockstep: no stage named 'nope'.*\nLockstepError: no stage named 'nope'\n\s+at /);

  const bad = await tempProject({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo\n    outz: [x]\n' });
  const cfg = await bad.run(['status']);
  assert.equal(cfg.exitCode, 2);
  assert.equal(
    cfg.stderr,
    "lockstep: pipeline.yaml:4:5: stage 'a': unknown field 'outz' (did you mean 'outs'?). Fix the pipeline file and " +
      'run again.',
  );
  assert.doesNotMatch(cfg.stderr, /\n\s+at /);

  const outside = await tempProject({}, { git: false });
  const none = await outside.run(['repro']);
  assert.equal(none.exitCode, 2);
  assert.match(
    none.stderr,
    /^lockstep: no pipeline.yaml or dvc.yaml in .* or any parent folder. Run lockstep from a project folder\.$/,
  );
});

test(`Ctrl-C during -j 2 stops both stages' process trees; neither is recorded; the next repro reruns \
both`, async () => {
  // each stage holds with a child process until the test releases it (never, here)
  const rig = await testRig();
  const stage = (x: string) =>
    `  ${x}:\n    cmd: ${JSON.stringify(rig.command(x, { child: true, write: { [`${x}.txt`]: 'x\n' } }))}\n` +
    `    outs: [${x}.txt]\n`;
  const p = await tempProject({ 'pipeline.yaml': `stages:\n${stage('a')}${stage('b')}` });
  const child = execa(process.execPath, [CLI, 'repro', '-j', '2'], { cwd: p.dir, reject: false, all: true });
  const [a, b] = [await rig.started('a'), await rig.started('b')]; // both stages run at once
  child.kill('SIGINT');
  const r = await child;
  assert.equal(r.exitCode, 130, r.all);
  assert.match(r.stderr, /^lockstep: interrupted/m);
  await waitDead([a.pid, a.childPid!, b.pid, b.childPid!], 'both stage trees');
  assert.doesNotMatch(await p.read('pipeline.lock').catch(() => ''), /\n {2}[ab]:/);
  const dry = await p.run(['repro', '--dry']);
  assert.equal(dry.stdout, "would run 'a': never run (no lock entry)\nwould run 'b': never run (no lock entry)");
  await rig.release('a');
  await rig.release('b');
});

test('a YAML syntax error is reported once, at its position, not as a cascade of follow-on errors', async () => {
  // `{` inside a flow sequence starts a flow mapping: a classic dvc.yaml mistake.
  const p = await tempProject({
    'dvc.yaml':
      'stages:\n  a:\n    cmd: echo ${item.x} > x-${item.y}.txt\n    outs: [x-${item.y}.txt]\n    deps: [a, b]\n  ' +
      'b:\n    cmd: echo\n',
  });
  const r = await p.run(['status']);
  assert.equal(r.exitCode, 2, r.all);
  assert.match(r.stderr, /^lockstep: dvc\.yaml:4:\d+: [^\n]+$/);
});

test("kill -9 of lockstep mid-stage: the stage's process tree is stopped too; the next repro reruns it", async () => {
  const rig = await testRig();
  const cmd = rig.command('long', { child: true, write: { 'out.txt': 'x\n' } });
  const p = await tempProject({
    'pipeline.yaml': `stages:\n  long:\n    cmd: ${JSON.stringify(cmd)}\n    outs: [out.txt]\n`,
  });
  const child = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false });
  const run = await rig.started('long');
  child.kill('SIGKILL');
  await child;
  await waitDead([run.pid, run.childPid!], 'the stage tree of the killed lockstep');
  const again = await p.run(['repro', '--dry']);
  assert.match(again.stdout, /would run 'long': never run/);
  await rig.release('long');
});
