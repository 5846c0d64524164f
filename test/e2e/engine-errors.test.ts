import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { CLI, countRun, runCount, tempProject, uniqueTag } from '../helpers/project.js';

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
    "lockstep: pipeline.yaml:4:5: stage 'a': unknown field 'outz' (did you mean 'outs'?). Fix the pipeline file and run again.",
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

test("Ctrl-C during -j 2 stops both stages' process trees; neither is recorded; the next repro reruns both", async () => {
  // Each stage starts a grandchild that would write late-<x>.txt after 33/34 s unless its tree is stopped.
  // durations unique to this run, so pgrep finds these sleeps and no other process's
  const tag = uniqueTag();
  const stage = (x: string, secs: string) =>
    `  ${x}:\n    cmd: ${countRun(x)} && echo partial > ${x}.txt && (sleep ${secs}; echo late > late-${x}.txt) & wait\n    outs: [${x}.txt]\n`;
  const p = await tempProject({
    'pipeline.yaml': `stages:\n${stage('a', `33.${tag}`)}${stage('b', `34.${tag}`)}`,
    '.gitignore': 'runs/\n',
  });
  const child = execa(process.execPath, [CLI, 'repro', '-j', '2'], { cwd: p.dir, reject: false });
  for (let i = 0; i < 200 && ((await runCount(p, 'a')) === 0 || (await runCount(p, 'b')) === 0); i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual([await runCount(p, 'a'), await runCount(p, 'b')], [1, 1], 'both stages run at once');
  await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGINT');
  const r = await child;
  assert.equal(r.exitCode, 130, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /^lockstep: interrupted/m);
  for (const secs of [`33.${tag}`, `34.${tag}`]) {
    const ps = await execa('pgrep', ['-f', `sleep ${secs}`], { reject: false });
    assert.equal(ps.stdout.trim(), '', `the tree of the stage sleeping ${secs} s is stopped`);
  }
  assert.doesNotMatch(await p.read('pipeline.lock').catch(() => ''), /\n {2}[ab]:/);
  const dry = await p.run(['repro', '--dry']);
  assert.equal(dry.stdout, "would run 'a': never run (no lock entry)\nwould run 'b': never run (no lock entry)");
});

test('a YAML syntax error is reported once, at its position, not as a cascade of follow-on errors', async () => {
  // `{` inside a flow sequence starts a flow mapping: a classic dvc.yaml mistake.
  const p = await tempProject({
    'dvc.yaml':
      'stages:\n  a:\n    cmd: echo ${item.x} > x-${item.y}.txt\n    outs: [x-${item.y}.txt]\n    deps: [a, b]\n  b:\n    cmd: echo\n',
  });
  const r = await p.run(['status']);
  assert.equal(r.exitCode, 2, r.all);
  assert.match(r.stderr, /^lockstep: dvc\.yaml:4:\d+: [^\n]+$/);
});

test("kill -9 of lockstep mid-stage: the stage's process tree is stopped too; the next repro reruns it", async () => {
  const tag = uniqueTag();
  const p = await tempProject({
    'pipeline.yaml': `stages:\n  long:\n    cmd: ${countRun('long')} && (sleep 35.${tag}; echo late > late.txt) & sleep 36.${tag}\n    outs: [out.txt]\n`,
    '.gitignore': 'runs/\n',
  });
  const child = execa(process.execPath, [CLI, 'repro'], { cwd: p.dir, reject: false });
  for (let i = 0; i < 200 && (await runCount(p, 'long')) === 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 1000)); // past the watchdog's start delay
  child.kill('SIGKILL');
  await child;
  let left = '';
  for (let i = 0; i < 60; i++) {
    left = (await execa('pgrep', ['-f', `sleep 3[56]\\.${tag}`], { reject: false })).stdout.trim();
    if (left === '') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(left, '', 'no process of the stage survives lockstep');
  const again = await p.run(['repro', '--dry']);
  assert.match(again.stdout, /would run 'long': never run/);
});
