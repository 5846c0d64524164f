import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { countRun, runCount, tempProject } from '../helpers/project.js';

test(`frozen never runs, even when its deps change; always_changed runs every time and never uses the \
run-cache`, async () => {
  const p = await tempProject({
    'pipeline.yaml': `stages:
  fz:
    desc: a frozen stage
    meta: {owner: qa, tags: [a, b]}
    cmd: ${countRun('fz')} && cat in.txt > fz.txt
    deps: [in.txt]
    outs: [fz.txt]
    frozen: true
  ac:
    cmd: ${countRun('ac')} && echo same > ac.txt
    always_changed: true
    outs: [ac.txt]
  after_ac:
    cmd: ${countRun('after_ac')} && cat ac.txt > after.txt
    deps: [ac.txt]
    outs: [after.txt]
`,
    'in.txt': 'in\n',
    'fz.txt': 'committed by hand\n',
    '.gitignore': 'runs/\n',
  });
  for (let i = 1; i <= 3; i++) {
    const r = await p.run(['repro']);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stdout, /Stage 'fz' is frozen, skipping/);
    assert.equal(await runCount(p, 'ac'), i, 'always_changed runs every time');
    await p.write('in.txt', `in ${i}\n`);
  }
  assert.equal(await runCount(p, 'fz'), 0);
  assert.equal(await p.read('fz.txt'), 'committed by hand\n');
  // ac reproduces the same output each time, so its downstream stage stays fresh.
  assert.equal(await runCount(p, 'after_ac'), 1);
  assert.doesNotMatch(await p.read('pipeline.lock'), /\n {2}fz:/);
  // always_changed stages record no run-cache entry (nothing under .cache/runs for it).
  const runs = await fs.readdir(path.join(p.dir, '.cache', 'runs')).catch(() => [] as string[]);
  const entries = await Promise.all(
    runs.map((d) => fs.readdir(path.join(p.dir, '.cache', 'runs', d)).catch(() => [] as string[])),
  );
  assert.equal(entries.flat().length, 1, 'only after_ac is in the run-cache');
  // status shows always_changed, never the frozen stage
  assert.equal((await p.run(['status'])).stdout, 'ac:\n\talways changed');
  // --force does not unfreeze: a frozen stage still never runs
  assert.equal((await p.run(['repro', '--force', 'fz'])).exitCode, 0);
  assert.equal(await runCount(p, 'fz'), 0);
});

test('persist outputs are not deleted before the run; other outputs are', async () => {
  const p = await tempProject({
    'pipeline.yaml': `stages:
  a:
    cmd: echo run >> kept.txt && echo run >> gone.txt && echo run >> ckpt.txt
    outs:
      - kept.txt:
          persist: true
      - gone.txt
      - ckpt.txt:
          persist: true
          cache: false
`,
  });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.equal((await p.run(['repro', '--force'])).exitCode, 0);
  assert.equal(await p.read('kept.txt'), 'run\nrun\n');
  assert.equal(await p.read('ckpt.txt'), 'run\nrun\n');
  assert.equal(await p.read('gone.txt'), 'run\n');
  // persisted outputs are still cached: deleting one makes the stage stale, checkout brings it back
  await fs.rm(path.join(p.dir, 'kept.txt'));
  assert.equal((await p.run(['status'])).stdout, 'a:\n\touts missing: kept.txt');
  assert.equal((await p.run(['checkout'])).exitCode, 0);
  assert.equal(await p.read('kept.txt'), 'run\nrun\n');
});

test(`cache: false outputs, metrics and plots are recorded in the lock, stay plain files, and the run-cache keeps \
them (as DVC)`, async () => {
  const p = await tempProject({
    'pipeline.yaml': `stages:
  a:
    cmd: >-
      ${countRun('a')} && echo model > model.bin && echo nc > nc.txt && echo 0.5 > metrics.json &&
      echo x,y > plot.csv
    outs:
      - model.bin
      - nc.txt:
          cache: false
    metrics:
      - metrics.json:
          cache: false
    plots:
      - plot.csv
`,
    '.gitignore': 'runs/\n',
  });
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  const lock = YAML.parse(await p.read('pipeline.lock'));
  assert.deepEqual(
    lock.stages.a.outs.map((o: { path: string }) => o.path),
    ['metrics.json', 'model.bin', 'nc.txt', 'plot.csv'],
  );
  const objects = (await fs.readdir(path.join(p.dir, '.cache/files/md5'), { recursive: true })).filter(
    (f) => f.length > 3,
  );
  assert.equal(objects.length, 4, `every output, for the run-cache: ${objects.join(', ')}`);
  // only cached outputs are git-ignored (and the cache); uncached ones are plain writable files for git
  assert.deepEqual((await p.read('.gitignore')).split('\n').filter(Boolean).sort(), [
    '/.cache/',
    '/model.bin',
    '/plot.csv',
    'runs/',
  ]);
  const st = await fs.lstat(path.join(p.dir, 'nc.txt'));
  assert.ok(st.isFile() && st.nlink === 1 && (st.mode & 0o200) !== 0);
  // an uncached output changed by hand makes the stage stale; the run-cache restores it without running
  await p.write('nc.txt', 'edited\n');
  assert.equal((await p.run(['status'])).stdout, 'a:\n\touts changed: nc.txt');
  const again = await p.run(['repro']);
  assert.equal(again.exitCode, 0, again.all);
  assert.match(again.stdout, /Stage 'a' restored from the cache, not run/);
  assert.equal(await runCount(p, 'a'), 1);
  assert.equal(await p.read('nc.txt'), 'nc\n');
  assert.equal((await fs.lstat(path.join(p.dir, 'nc.txt'))).nlink, 1);
  // checkout leaves uncached outputs to git
  await p.write('metrics.json', 'mine\n');
  assert.equal((await p.run(['checkout'])).exitCode, 0);
  assert.equal(await p.read('metrics.json'), 'mine\n');
});

const KEEP_GOING = `stages:
  bad:
    cmd: echo partial > bad.txt && exit 4
    outs: [bad.txt]
  after_bad:
    cmd: ${countRun('after_bad')} && cat bad.txt > ab.txt
    deps: [bad.txt]
    outs: [ab.txt]
  good:
    cmd: ${countRun('good')} && echo good > good.txt
    outs: [good.txt]
  after_good:
    cmd: ${countRun('after_good')} && cat good.txt > ag.txt
    deps: [good.txt]
    outs: [ag.txt]
`;

test('--keep-going: independent stages still run after a failure; exit 1 naming the failed stage', async () => {
  const p = await tempProject({ 'pipeline.yaml': KEEP_GOING, '.gitignore': 'runs/\n' });
  const stop = await p.run(['repro']);
  assert.equal(stop.exitCode, 1, stop.all);
  assert.equal(await runCount(p, 'good'), 0, 'without -k nothing runs after the failure');

  for (const flag of ['--keep-going', '-k']) {
    const r = await p.run(['repro', flag]);
    assert.equal(r.exitCode, 1, r.all);
    assert.match(r.stderr, /Stage 'after_bad' not run: upstream stage 'bad' failed/);
    assert.equal(
      r.stderr.trim().split('\n').at(-1)!.startsWith("lockstep: stage 'bad' failed: its command exited with code 4"),
      true,
      r.stderr,
    );
  }
  assert.deepEqual(
    [await runCount(p, 'good'), await runCount(p, 'after_good'), await runCount(p, 'after_bad')],
    [1, 1, 0],
  );
  const lock = YAML.parse(await p.read('pipeline.lock'));
  assert.deepEqual(Object.keys(lock.stages), ['good', 'after_good']);

  // --json: every event line parses; the failure is an event too
  const json = await p.run(['repro', '-k', '--json']);
  assert.equal(json.exitCode, 1);
  const events = json.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    events.map((e) => `${e.type}:${e.stage}`),
    ['stage-start:bad', 'stage-failed:bad', 'stage-skipped:after_bad', 'stage-fresh:good', 'stage-fresh:after_good'],
  );
});

test('--downstream runs the target and what depends on it, not its upstream', async () => {
  const p = await tempProject({
    'pipeline.yaml': `stages:
  a:
    cmd: ${countRun('a')} && cat in.txt > a.txt
    deps: [in.txt]
    outs: [a.txt]
  b:
    cmd: ${countRun('b')} && cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: ${countRun('c')} && cat b.txt > c.txt
    deps: [b.txt]
    outs: [c.txt]
  other:
    cmd: ${countRun('other')} && echo o > o.txt
    outs: [o.txt]
`,
    'in.txt': '1\n',
    '.gitignore': 'runs/\n',
  });
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const dry = await p.run(['repro', '--dry', '--force', '--downstream', 'b']);
  assert.deepEqual(
    dry.stdout.split('\n').map((l) => l.replace(/:.*/, '')),
    ["would run 'b'", "would run 'c'"],
  );
  assert.equal((await p.run(['repro', '--force', '--downstream', 'b'])).exitCode, 0);
  assert.deepEqual(
    [await runCount(p, 'a'), await runCount(p, 'b'), await runCount(p, 'c'), await runCount(p, 'other')],
    [1, 2, 2, 1],
  );
});

test('-j 4: stages finishing together each get their line in the shared .gitignore', async () => {
  const names = ['s1', 's2', 's3', 's4', 's5', 's6'];
  const stage = (n: string) => `  ${n}:\n    cmd: echo ${n} > ${n}.txt\n    outs: [${n}.txt]\n`;
  const p = await tempProject({
    'pipeline.yaml': `stages:\n${names.map(stage).join('')}`,
  });
  const r = await p.run(['repro', '-j', '4']);
  assert.equal(r.exitCode, 0, r.all);
  assert.deepEqual((await p.read('.gitignore')).split('\n').filter(Boolean).sort(), [
    '/.cache/',
    ...names.map((n) => `/${n}.txt`),
  ]);
});
