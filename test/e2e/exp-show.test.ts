import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, freshClone, tempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';
import { setup, showJson } from './exp-fixture.js';

test('exp show renders table, csv, markdown, group-by; list, diff, remove, apply', async () => {
  const { p } = await setup();
  const r = await p.run(['exp', 'run', '--seed', '1,2', '--data', 'v1,v1+v2', '-n', 'sw']);
  assert.equal(r.exitCode, 0, r.all);

  const table = await p.run(['exp', 'show', '--width', '200', '--sort-by', 'acc', '--sort-order', 'desc']);
  assert.equal(table.exitCode, 0, table.all);
  assert.match(table.stdout, /Experiment.*Created.*State.*seed.*data.*acc.*parts/);
  // DVC's rows: the workspace, the baseline commit by its branch, its experiments under it
  assert.match(table.stdout, /│ workspace +│.*\n│ main +│ [A-Z][a-z]{2} \d\d \d\d:\d\d │ +│ +42 │ v1 +│ +- │/);
  const order = [...table.stdout.matchAll(/│ [├└]── (sw-\d) /g)].map((m) => m[1]);
  assert.deepEqual(order.slice(0, 2).sort(), ['sw-3', 'sw-4']); // seed 2 -> acc 0.2 first
  assert.match(table.stdout, /└── sw-\d .*\n└/, 'the last experiment closes the tree');

  const narrow = await p.run(['exp', 'show', '--width', '50']);
  assert.match(narrow.stderr, /columns? did not fit the 50-column terminal/);

  const csv = await p.run(['exp', 'show', '--csv', '--only-changed', '--sort-by', 'name']);
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines[0], 'baseline,type,Experiment,Created,State,seed,data,acc,parts');
  assert.equal(lines.length, 7);
  assert.match(lines[1]!, /^[0-9a-f]{40},workspace,workspace,,,42,v1,,$/);
  assert.match(lines[2]!, /^[0-9a-f]{40},baseline,main,\d{4}-.*,,42,v1,,$/);
  assert.match(lines[3]!, /,experiment,sw-1,.*,success,1,v1,0.1,1$/);

  const md = await p.run(['exp', 'show', '--md', '--drop', 'parts|Created']);
  assert.match(
    md.stdout,
    /^\| Experiment \| State \| seed \| data \| acc \|\n.*\n\| workspace \| +\| 42 \| v1 \| - \|\n\| main \|/,
  );

  const grouped = await p.run(['exp', 'show', '--json', '--group-by', 'data', '--agg', 'mean,min,max']);
  const g = JSON.parse(grouped.stdout) as { groups: Array<Record<string, unknown>> };
  assert.deepEqual(
    g.groups.map((x) => [x.data, x.n, x['acc:mean'], x['acc:min'], x['acc:max']]),
    [
      ['v1', 2, 0.15000000000000002, 0.1, 0.2],
      ['v1+v2', 2, 0.15000000000000002, 0.1, 0.2],
    ],
  );

  assert.equal(
    (await p.run(['exp', 'list', '--names-only'])).stdout.trim().split('\n').sort().join(' '),
    'sw-1 sw-2 sw-3 sw-4',
  );

  const diff = await p.run(['exp', 'diff', 'sw-1', 'sw-4', '--json']);
  const rows = JSON.parse(diff.stdout) as Array<{ key: string; a: unknown; b: unknown }>;
  assert.deepEqual(
    rows.map((x) => [x.key, x.a, x.b]),
    [
      ['data', 'v1', 'v1+v2'],
      ['seed', 1, 2],
      ['acc', 0.1, 0.2],
      ['parts', 1, 2],
    ],
  );

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
  assert.equal(
    (await p.run(['exp', 'remove', 'sw-1'])).stderr.trim(),
    "lockstep: no experiment named 'sw-1'. List them with `lockstep exp list --all-commits`.",
  );
  assert.equal((await p.run(['exp', 'remove', '--all'])).exitCode, 0);
  assert.equal(await p.git('for-each-ref', 'refs/exps/'), '');
});

test('status, dag, exp show and --help never load TensorFlow.js nor the AWS SDK', async () => {
  const { p } = await setup();
  assert.equal((await p.run(['exp', 'run', '-n', 'one'])).exitCode, 0);
  // an S3 remote as the default: the read-only verbs must still not load its SDK
  assert.equal((await p.run(['remote', 'add', '-d', 's3store', 's3://bucket/prefix'])).exitCode, 0);
  const hook = path.join(p.dir, 'no-heavy.mjs');
  const forbidden = ['@tensorflow', '/stages/', '@aws-sdk', '@smithy'];
  const resolver =
    `export async function resolve(s, c, next) { if (${JSON.stringify(forbidden)}.some((f) => s.includes(f))) ` +
    'throw new Error("forbidden module loaded: " + s); return next(s, c); }';
  const url = `data:text/javascript,${encodeURIComponent(resolver)}`;
  await fs.writeFile(hook, `import { register } from 'node:module';\nregister(${JSON.stringify(url)});\n`);
  // and require(): the CLI runs as one CommonJS file (bin/code-cache.js), whose packages are required
  const requireHook = path.join(p.dir, 'no-heavy-require.cjs');
  await fs.writeFile(
    requireHook,
    "const M = require('node:module'); const resolve = M._resolveFilename; " +
      `M._resolveFilename = function (s, ...rest) { if (${JSON.stringify(forbidden)}.some((f) => s.includes(f))) ` +
      'throw new Error("forbidden module loaded: " + s); return resolve.call(this, s, ...rest); };\n',
  );
  // the hook itself works: importing tfjs or the AWS SDK under it fails
  for (const mod of ['@tensorflow/tfjs-core', '@aws-sdk/client-s3']) {
    for (const [flag, file, code] of [
      ['--import', hook, `await import(${JSON.stringify(mod)})`],
      ['--require', requireHook, `require(${JSON.stringify(mod)})`],
    ] as const) {
      const control = await execa(
        process.execPath,
        [flag, file, '-e', code, ...(flag === '--import' ? ['--input-type=module'] : [])],
        { cwd: path.dirname(CLI), reject: false },
      );
      assert.notEqual(control.exitCode, 0);
      assert.match(control.stderr, new RegExp(`forbidden module loaded: ${mod.replace('/', '\\/')}`));
    }
  }
  for (const args of [
    ['--help'],
    ['status'],
    ['status', '--json'],
    ['dag'],
    ['dag', '--mermaid'],
    ['exp', 'show'],
    ['exp', 'show', '--json'],
    ['exp', 'list'],
    ['exp', 'show', '--group-by', 'data'],
    ['exp', '--help'],
  ]) {
    // both forms of the bundle: the CommonJS one with a code cache and the ES modules (LOCKSTEP_CODE_CACHE=0)
    for (const cache of ['1', '0']) {
      const r = await execa(process.execPath, ['--import', hook, '--require', requireHook, CLI, ...args], {
        cwd: p.dir,
        reject: false,
        all: true,
        env: { LOCKSTEP_CODE_CACHE: cache },
      });
      assert.equal(r.exitCode, 0, `${args.join(' ')}: ${r.all}`);
      assert.doesNotMatch(r.all ?? '', /forbidden module/);
    }
  }
});

test('exp push / pull move experiment refs through a git remote', async () => {
  const { p } = await setup();
  assert.equal((await p.run(['exp', 'run', '--seed', '1,2', '-n', 'shared'])).exitCode, 0);
  const bare = await tempDir('lockstep-origin-');
  await execa('git', ['init', '-q', '--bare', bare]);
  await p.git('remote', 'add', 'origin', bare);
  assert.equal(
    (await p.run(['exp', 'push', 'nowhere', '--all'])).stderr.trim(),
    "lockstep: 'nowhere' is not a git remote of " +
      (await fs.realpath(p.dir)) +
      '; remotes: origin. Add it with `git remote add NAME URL`, or give a URL.',
  );
  const noStore = await p.run(['exp', 'push', 'origin', '--all']);
  assert.match(noStore.stderr, /Pushed 2 experiments to origin\. Outputs stay local: no default remote store/);
  // with a lockstep remote store the outputs travel too
  const store = await tempDir('lockstep-store-');
  assert.equal((await p.run(['remote', 'add', '-d', 'store', store])).exitCode, 0);
  const pushed = await p.run(['exp', 'push', 'origin', '--all']);
  assert.equal(pushed.exitCode, 0, pushed.all);
  assert.match(pushed.stderr, /Pushed 2 experiments to origin\. Outputs: [1-9]\d* objects? moved, \d+ already there\./);
  assert.equal((await execa('git', ['for-each-ref', 'refs/exps/'], { cwd: bare })).stdout.split('\n').length, 2);

  // a clone sees no experiments until it pulls them
  const clone = (await freshClone(bare)).dir;
  await execa('git', ['checkout', '-q', (await p.git('rev-parse', 'HEAD')).trim()], { cwd: clone });
  const inClone = (args: string[]) => execa(process.execPath, [CLI, ...args], { cwd: clone, reject: false });
  assert.equal((await inClone(['exp', 'list', '--names-only'])).stdout, '');
  assert.equal((await inClone(['remote', 'add', '-d', 'store', store])).exitCode, 0);
  const pulled = await inClone(['exp', 'pull', 'origin', 'shared-2']);
  assert.equal(pulled.exitCode, 0, pulled.stderr);
  assert.match(pulled.stderr, /Fetched 1 experiment from origin\. Outputs: [1-9]\d* objects? moved/);
  const lock = JSON.parse((await inClone(['exp', 'show', '--json'])).stdout);
  assert.ok(JSON.stringify(lock).includes('shared-2'));
  assert.equal((await inClone(['exp', 'list', '--names-only'])).stdout, 'shared-2');
  assert.equal(
    (await inClone(['exp', 'pull', 'origin', 'nope'])).stderr.trim(),
    "lockstep: no experiment named 'nope' on 'origin'. List them with `git ls-remote REMOTE refs/exps/*`.",
  );
});

test('workspaces see node_modules and the project folder siblings (../shared) as the project does', async () => {
  const p = await tempProject({
    'proj/pipeline.yaml': `stages:
  use:
    cmd: |
      node -e "require('fake-pkg')" && echo "{\\"v\\": $(cat ../shared/value.txt)}" > m.json
    params: [seed]
    metrics: [m.json]
`,
    'proj/params.yaml': 'seed: 1\n',
    'proj/.gitignore': 'node_modules/\n.cache/\n',
    'shared/value.txt': '7\n',
  });
  await p.write('proj/node_modules/fake-pkg/index.js', 'module.exports = 1;\n');
  const cwd = path.join(p.dir, 'proj');
  const r = await execa(process.execPath, [CLI, 'exp', 'run', '--seed', '2'], { cwd, reject: false, all: true });
  assert.equal(r.exitCode, 0, r.all);
  const shown = JSON.parse((await execa(process.execPath, [CLI, 'exp', 'show', '--json'], { cwd })).stdout) as Array<{
    type: string;
    metrics: Record<string, Record<string, unknown>>;
  }>;
  assert.deepEqual(
    shown.map((r) => r.type),
    ['workspace', 'baseline', 'experiment'],
  );
  assert.deepEqual(shown[2]!.metrics, { 'm.json': { v: 7 } });
});

test('gc keeps the cache objects that experiments reference, so apply still restores them', async () => {
  const { p } = await setup();
  assert.equal((await p.run(['exp', 'run', '--seed', '3', '-n', 'kept'])).exitCode, 0);
  const objects = async () =>
    (await fs.readdir(path.join(p.dir, '.cache', 'files', 'md5'), { recursive: true })).filter((f) =>
      /[0-9a-f]{30}/.test(f),
    ).length;
  const before = await objects();
  assert.ok(before > 0);
  // the user's workspace has no pipeline.lock at all: only the experiment holds the objects
  const gc = await p.run(['gc', '--workspace', '--all-experiments']);
  assert.equal(gc.exitCode, 0, gc.all);
  assert.equal(await objects(), before);
  assert.equal((await p.run(['exp', 'apply', 'kept'])).exitCode, 0);
  assert.equal(await p.read('data/base.txt'), 'hello\n');
});
