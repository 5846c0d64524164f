import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tempProject, type TempProject } from '../helpers/project.js';

/**
 * A two-stage shell pipeline: `upstream` (no params) and `train`, which reads seed/data from
 * params.yaml with sed and writes a metrics JSON; `data: v9` fails like an unknown partition. Stage runs
 * are counted in a folder outside the project, since experiments run in temporary workspaces.
 */
function pipeline(counts: string, extraDep = ''): string {
  return `stages:
  upstream:
    cmd: echo x >> ${counts}/upstream && mkdir -p data && cat input.txt > data/base.txt
    deps: [input.txt${extraDep}]
    outs: [data/base.txt]
  train:
    cmd: |
      echo x >> ${counts}/train
      s=$(sed -n 's/^seed: *\\([^ #]*\\).*/\\1/p' params.yaml)
      d=$(sed -n 's/^data: *\\([^ #]*\\).*/\\1/p' params.yaml)
      if [ "$d" = v9 ]; then echo "unknown partition v9" >&2; exit 1; fi
      n=$(echo "$d" | tr + '\\n' | wc -l | tr -d ' ')
      mkdir -p metrics
      echo "{\\"acc\\": 0.$s, \\"parts\\": $n}" > metrics/eval.json
    deps: [data/base.txt]
    params: [seed, data, train.lr]
    metrics: [metrics/eval.json]
`;
}

const PARAMS = '# knobs of the test pipeline\nseed: 42 # the seed\ndata: v1\ntrain:\n  lr: 0.1\n';

async function setup(extraDep = ''): Promise<{ p: TempProject; counts: string; count: (s: string) => Promise<number> }> {
  const counts = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-exp-counts-'));
  const p = await tempProject({
    'pipeline.yaml': pipeline(counts, extraDep),
    'params.yaml': PARAMS,
    'input.txt': 'hello\n',
    '.gitignore': '.cache/\n/data/\n/metrics/\n',
  });
  const count = async (s: string) => (await fs.readFile(path.join(counts, s), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  return { p, counts, count };
}

interface ShownExp {
  name: string;
  state: string;
  params: Record<string, Record<string, unknown>>;
  metrics: Record<string, Record<string, unknown>>;
  error?: string;
}

async function showJson(p: TempProject): Promise<ShownExp[]> {
  const r = await p.run(['exp', 'show', '--json']);
  assert.equal(r.exitCode, 0, r.all);
  return JSON.parse(r.stdout) as ShownExp[];
}

test('a 2x3 sweep with -j 2: records all, upstream runs once, a failure is recorded, the workspace is untouched', async () => {
  const { p, count } = await setup();
  // an uncommitted change to a tracked file belongs to the experiments, and stays in the user's tree
  const dirty = PARAMS.replace('lr: 0.1', 'lr: 0.5');
  await p.write('params.yaml', dirty);
  const statusBefore = await p.git('status', '--porcelain');
  const headBefore = await p.git('rev-parse', 'HEAD');

  const r = await p.run(['exp', 'run', '--seed', '1,2', '--data', 'v1,v1+v2,v9', '-j', '2']);
  assert.equal(r.exitCode, 1, r.all); // one or more experiments failed
  assert.match(r.stderr, /6 experiments recorded in [\d.]+s: 4 succeeded, 2 failed/);

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
  assert.deepEqual(tree.sort(), ['.lockstep/exp.json', '.lockstep/exp.log', 'metrics/eval.json', 'params.yaml', 'pipeline.lock']);
  const params = await p.git('show', `${ref}:params.yaml`);
  assert.match(params, /^# knobs of the test pipeline\nseed: [12] # the seed\ndata: v1(\+v2)?\ntrain:\n  lr: 0.5\n?$/);
  assert.match(await p.git('log', '-1', '--format=%B', ref), /Lockstep-State: success/);

  // the temporary workspaces are gone
  const leftovers = (await fs.readdir(os.tmpdir())).filter((f) => f.startsWith('lockstep-exp-') && !f.startsWith('lockstep-exp-counts-'));
  for (const f of leftovers) {
    // other test files may be running experiments at the same time; ours must not contain this project's files
    const has = await fs.access(path.join(os.tmpdir(), f, 'input.txt')).then(() => true, () => false);
    if (has) assert.notEqual(await fs.readFile(path.join(os.tmpdir(), f, 'params.yaml'), 'utf8').catch(() => ''), dirty);
  }

  // a second identical sweep restores everything from the run-cache: no stage runs again
  const again = await p.run(['exp', 'run', '--seed', '1,2', '--data', 'v1', '-j', '2']);
  assert.equal(again.exitCode, 0, again.all);
  assert.equal(await count('upstream'), 1);
  assert.equal(await count('train'), 6);
  assert.equal((await showJson(p)).length, 8);
});

test('exp show renders table, csv, markdown, group-by; list, diff, remove, apply', async () => {
  const { p } = await setup();
  const r = await p.run(['exp', 'run', '--seed', '1,2', '--data', 'v1,v1+v2', '-n', 'sw']);
  assert.equal(r.exitCode, 0, r.all);

  const table = await p.run(['exp', 'show', '--width', '200', '--sort-by', 'acc', '--sort-order', 'desc']);
  assert.equal(table.exitCode, 0, table.all);
  assert.match(table.stdout, /^baseline [0-9a-f]{7} \(HEAD\)\n/);
  assert.match(table.stdout, /Experiment.*Created.*State.*seed.*data.*acc.*parts/);
  const order = [...table.stdout.matchAll(/│ (sw-\d) /g)].map((m) => m[1]);
  assert.deepEqual(order.slice(0, 2).sort(), ['sw-3', 'sw-4']); // seed 2 -> acc 0.2 first

  const narrow = await p.run(['exp', 'show', '--width', '50']);
  assert.match(narrow.stderr, /columns? did not fit the 50-column terminal/);

  const csv = await p.run(['exp', 'show', '--csv', '--only-changed', '--sort-by', 'name']);
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines[0], 'baseline,Experiment,Created,State,seed,data,acc,parts');
  assert.equal(lines.length, 5);
  assert.match(lines[1]!, /,sw-1,.*,success,1,v1,0.1,1$/);

  const md = await p.run(['exp', 'show', '--md', '--drop', 'parts|Created']);
  assert.match(md.stdout, /^\| Experiment \| State \| seed \| data \| acc \|\n/);

  const grouped = await p.run(['exp', 'show', '--json', '--group-by', 'data', '--agg', 'mean,min,max']);
  const g = JSON.parse(grouped.stdout) as { groups: Array<Record<string, unknown>> };
  assert.deepEqual(g.groups.map((x) => [x.data, x.n, x['acc:mean'], x['acc:min'], x['acc:max']]), [
    ['v1', 2, 0.15000000000000002, 0.1, 0.2],
    ['v1+v2', 2, 0.15000000000000002, 0.1, 0.2],
  ]);

  assert.equal((await p.run(['exp', 'list', '--names-only'])).stdout.trim().split('\n').sort().join(' '), 'sw-1 sw-2 sw-3 sw-4');

  const diff = await p.run(['exp', 'diff', 'sw-1', 'sw-4', '--json']);
  const rows = JSON.parse(diff.stdout) as Array<{ key: string; a: unknown; b: unknown }>;
  assert.deepEqual(rows.map((x) => [x.key, x.a, x.b]), [
    ['data', 'v1', 'v1+v2'],
    ['seed', 1, 2],
    ['acc', 0.1, 0.2],
    ['parts', 1, 2],
  ]);

  // apply: params and lock land in the workspace, the outputs come back from the cache
  const applied = await p.run(['exp', 'apply', 'sw-4']);
  assert.equal(applied.exitCode, 0, applied.all);
  assert.match(await p.read('params.yaml'), /^# knobs of the test pipeline\nseed: 2 # the seed\ndata: v1\+v2\n/);
  assert.match(await p.read('pipeline.lock'), /schema: '2.0'/);
  assert.deepEqual(JSON.parse(await p.read('metrics/eval.json')), { acc: 0.2, parts: 2 });
  assert.equal(await p.read('data/base.txt'), 'hello\n');

  const removed = await p.run(['exp', 'remove', 'sw-1', 'sw-2']);
  assert.equal(removed.exitCode, 0, removed.all);
  assert.match(removed.stderr, /Removed 2 experiments: sw-1, sw-2/);
  assert.equal((await showJson(p)).length, 2);
  assert.equal((await p.run(['exp', 'remove', 'sw-1'])).stderr.trim(), "lockstep: no experiment named 'sw-1' List them with `lockstep exp list --all-commits`.");
  assert.equal((await p.run(['exp', 'remove', '--all'])).exitCode, 0);
  assert.equal(await p.git('for-each-ref', 'refs/exps/'), '');
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
    'lockstep: the workspace cannot be reproduced in isolation: pipeline inputs are not tracked by git: upstream: extra.txt `git add` them (or make them outputs of a stage), then run the experiment again.',
    1,
  );
  await p.git('add', 'extra.txt');
  await p.git('commit', '-qm', 'track extra');

  await expectError(['-S', 'sed=1'], "lockstep: params.yaml: unknown param 'sed'; valid keys: seed, data, train.lr Set a key the params file already has (see `lockstep exp show` or the file).");
  await expectError(['-S', 'seed'], 'lockstep: malformed -S seed: expected key=value Write -S key=value or -S file.yaml:key=value (a comma list sweeps).');
  await expectError(['--data', 'v1++v2'], "lockstep: malformed --data 'v1++v2': expected partitions joined by '+', e.g. v1 or v1+v2 Name each partition once, joined by +.");
  await expectError(['--seed', 'abc'], "lockstep: malformed --seed 'abc': 'abc' is not an integer Give integers, e.g. --seed 42,100,2025.");
  await expectError(['-n', 'bad name'], `lockstep: invalid experiment name 'bad name': it contains " " Use letters, digits, '-', '_' and '.', e.g. -n lr-sweep.`);
  await expectError(['-S', 'other.yaml:x=1'], 'lockstep: params file other.yaml does not exist in ' + (await fs.realpath(p.dir)) + ' Create it, or name an existing file with -S file.yaml:key=value.');
  await expectError(['-j', '0'], "lockstep: -j/--jobs must be a positive integer, got '0' E.g. -j 2.");
  assert.equal(await count('upstream'), 0);
  assert.equal(await p.git('for-each-ref', 'refs/exps/'), '');

  assert.equal((await p.run(['exp', 'run', '-n', 'taken'])).exitCode, 0);
  await expectError(['-n', 'taken'], "lockstep: experiment name 'taken' is already taken on this baseline Pick another name with -n, or remove the old one with `lockstep exp remove`.", 1);
  assert.equal((await p.git('for-each-ref', 'refs/exps/')).split('\n').length, 1);
});

test('exp show never loads TensorFlow.js', async () => {
  const { p } = await setup();
  assert.equal((await p.run(['exp', 'run', '-n', 'one'])).exitCode, 0);
  const hook = path.join(p.dir, 'no-tfjs.mjs');
  await fs.writeFile(
    hook,
    `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent('export async function resolve(s, c, next) { if (s.includes("@tensorflow") || s.includes("/stages/")) throw new Error("forbidden module loaded: " + s); return next(s, c); }'));
`,
  );
  const { execa } = await import('execa');
  const { CLI } = await import('../helpers/project.js');
  // the hook itself works: importing tfjs under it fails
  const control = await execa(process.execPath, ['--import', hook, '-e', 'await import("@tensorflow/tfjs-core")', '--input-type=module'], { cwd: path.dirname(CLI), reject: false });
  assert.notEqual(control.exitCode, 0);
  assert.match(control.stderr, /forbidden module loaded: @tensorflow\/tfjs-core/);
  for (const args of [['exp', 'show'], ['exp', 'show', '--json'], ['exp', 'list'], ['exp', 'show', '--group-by', 'data']]) {
    const r = await execa(process.execPath, ['--import', hook, CLI, ...args], { cwd: p.dir, reject: false, all: true });
    assert.equal(r.exitCode, 0, r.all);
    assert.doesNotMatch(r.all ?? '', /forbidden module/);
  }
});
