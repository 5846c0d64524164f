import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PARAMS, setup, showJson, type ShownExp } from './exp-fixture.js';

test(`a 2x3 sweep with -j 2: records all, upstream runs once, a failure is recorded, the workspace is \
untouched`, async () => {
  const { p, count } = await setup();
  // an uncommitted change to a tracked file belongs to the experiments, and stays in the user's tree
  const dirty = PARAMS.replace('lr: 0.1', 'lr: 0.5');
  await p.write('params.yaml', dirty);
  const statusBefore = await p.git('status', '--porcelain');
  const headBefore = await p.git('rev-parse', 'HEAD');

  const r = await p.run(['exp', 'run', '--seed', '1,2', '--data', 'v1,v1+v2,v9', '-j', '2']);
  assert.equal(r.exitCode, 1, r.all); // one or more experiments failed
  assert.match(
    r.stderr,
    new RegExp(
      /6 experiments recorded in [\d.]+s: 4 succeeded, 2 failed \([a-z-]+, [a-z-]+\); stages: 5 ran, 5 restored /
        .source + /from the run-cache/.source,
    ),
  );
  assert.match(r.stderr, /FAILED +[a-z-]+ +[\d.]+s: \[train\] unknown partition v9/);

  assert.equal(await count('upstream'), 1);
  assert.equal(await count('train'), 6);
  assert.equal(await p.git('status', '--porcelain'), statusBefore);
  assert.equal(await p.git('rev-parse', 'HEAD'), headBefore);
  assert.equal(await p.read('params.yaml'), dirty);
  assert.equal(await p.exists('pipeline.lock'), false);
  assert.equal(await p.exists('metrics'), false);

  const refs = (await p.git('for-each-ref', '--format=%(refname)', 'refs/exps/')).split('\n').filter(Boolean);
  assert.equal(refs.length, 6);
  assert.ok(refs.every((ref) => ref.startsWith(`refs/exps/${headBefore}/`)));

  const shown = await showJson(p);
  assert.equal(shown.length, 6);
  const key = (e: ShownExp) => `${String(e.params['params.yaml']!.seed)}/${String(e.params['params.yaml']!.data)}`;
  assert.deepEqual(shown.map(key).sort(), ['1/v1', '1/v1+v2', '1/v9', '2/v1', '2/v1+v2', '2/v9']);
  for (const e of shown) {
    assert.equal(e.params['params.yaml']!['train.lr'], 0.5);
    const { seed, data } = e.params['params.yaml']! as { seed: number; data: string };
    if (data === 'v9') {
      assert.equal(e.state, 'failed');
      assert.match(e.error ?? '', /unknown partition v9/);
      assert.deepEqual(e.metrics, {});
    } else {
      assert.equal(e.state, 'success');
      assert.deepEqual(e.metrics['metrics/eval.json'], { acc: Number(`0.${seed}`), parts: data.split('+').length });
    }
  }

  // the record commit: parent = baseline, params written with their comments, lock and metrics in the tree
  const ok = shown.find((e) => e.state === 'success')!;
  const ref = refs.find((x) => x.endsWith(`/${ok.name}`))!;
  assert.equal(await p.git('rev-parse', `${ref}^`), headBefore);
  const tree = (await p.git('ls-tree', '-r', '--name-only', ref)).split('\n');
  assert.deepEqual(tree.sort(), [
    '.lockstep/exp.json',
    '.lockstep/exp.log',
    'metrics/eval.json',
    'params.yaml',
    'pipeline.lock',
  ]);
  const params = await p.git('show', `${ref}:params.yaml`);
  assert.match(
    params,
    /^# knobs of the test pipeline\nseed: [12] # the seed\ndata: v1(\+v2)?\ntrain:\n {2}lr: 0.5\n?$/,
  );
  assert.match(await p.git('log', '-1', '--format=%B', ref), /Lockstep-State: success/);

  // the temporary workspaces are gone
  const leftovers = (await fs.readdir(os.tmpdir())).filter(
    (f) => f.startsWith('lockstep-exp-') && !f.startsWith('lockstep-exp-counts-'),
  );
  for (const f of leftovers) {
    // other test files may be running experiments at the same time; ours must not contain this project's files
    const has = await fs.access(path.join(os.tmpdir(), f, 'input.txt')).then(
      () => true,
      () => false,
    );
    if (has)
      assert.notEqual(await fs.readFile(path.join(os.tmpdir(), f, 'params.yaml'), 'utf8').catch(() => ''), dirty);
  }

  // a second identical sweep restores everything from the run-cache: no stage runs again
  const again = await p.run(['exp', 'run', '--seed', '1,2', '--data', 'v1', '-j', '2']);
  assert.equal(again.exitCode, 0, again.all);
  assert.match(
    again.stderr,
    /2 experiments recorded in [\d.]+s: 2 succeeded, 0 failed; stages: 0 ran, 4 restored from the run-cache/,
  );
  assert.equal(await count('upstream'), 1);
  assert.equal(await count('train'), 6);
  assert.equal((await showJson(p)).length, 8);
});

test('bad input fails before anything runs, with one-line errors and nothing under refs/exps', async () => {
  const { p, count } = await setup(', extra.txt');
  const expectError = async (args: string[], message: string, code = 2) => {
    const r = await p.run(['exp', 'run', ...args]);
    assert.equal(r.stderr.trim(), message);
    assert.equal(r.exitCode, code, r.all);
  };
  // extra.txt is a dep that exists but is not tracked: an isolated run could not see it
  await p.write('extra.txt', 'local only\n');
  await expectError(
    ['--seed', '1'],
    'lockstep: the workspace cannot be reproduced in isolation: pipeline inputs are not tracked by git: upstream: ' +
      'extra.txt. `git add` them (or make them outputs of a stage), then run the experiment again.',
    1,
  );
  await p.git('add', 'extra.txt');
  await p.git('commit', '-qm', 'track extra');

  await expectError(
    ['-S', 'sed=1'],
    "lockstep: params.yaml: unknown param 'sed'; valid keys: seed, data, train.lr. Set a key the params file already " +
      'has (see `lockstep exp show` or the file).',
  );
  await expectError(
    ['-S', 'seed'],
    'lockstep: malformed -S seed: expected key=value. Write -S key=value or -S file.yaml:key=value (a comma list ' +
      'sweeps).',
  );
  await expectError(
    ['--data', 'v1++v2'],
    "lockstep: malformed --data 'v1++v2': expected partitions joined by '+', e.g. v1 or v1+v2. Name each partition " +
      'once, joined by +.',
  );
  await expectError(
    ['--seed', 'abc'],
    "lockstep: malformed --seed 'abc': 'abc' is not an integer. Give integers, e.g. --seed 42,100,2025.",
  );
  await expectError(
    ['-n', 'bad name'],
    `lockstep: invalid experiment name 'bad name': it contains " ". Use letters, digits, '-', '_' and '.', e.g. -n ` +
      `lr-sweep.`,
  );
  await expectError(
    ['-S', 'other.yaml:x=1'],
    'lockstep: params file other.yaml does not exist in ' +
      (await fs.realpath(p.dir)) +
      '. Create it, or name an existing file with -S file.yaml:key=value.',
  );
  await expectError(['-j', '0'], "lockstep: -j/--jobs takes a whole number of at least 1, not '0'. Example: -j 4.");
  // declared choices catch an unknown partition before the upstream stage runs
  await p.write('.lockstep/config.yaml', "exp:\n  choices:\n    data: {values: [v1, v2, v3], join: '+'}\n");
  await p.git('add', '.lockstep/config.yaml');
  await p.git('commit', '-qm', 'declare partitions');
  await expectError(
    ['--seed', '1,2', '--data', 'v1,v2+v4'],
    "lockstep: invalid value 'v2+v4' for data: 'v4' is not one of v1, v2, v3 (joined by '+'). Pick from the values " +
      'declared in .lockstep/config.yaml exp.choices.data.',
  );
  assert.equal(await count('upstream'), 0);
  assert.equal(await p.git('for-each-ref', 'refs/exps/'), '');

  assert.equal((await p.run(['exp', 'run', '-n', 'taken'])).exitCode, 0);
  await expectError(
    ['-n', 'taken'],
    "lockstep: experiment name 'taken' is already taken on this baseline. Pick another name with -n, or remove the " +
      'old one with `lockstep exp remove`.',
    1,
  );
  assert.equal((await p.git('for-each-ref', 'refs/exps/')).split('\n').length, 1);
});
