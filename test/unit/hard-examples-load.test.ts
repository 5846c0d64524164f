import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../../src/errors.js';
import type { ExperimentRecord } from '../../src/exp/types.js';
import type { LockFile } from '../../src/pipeline/lockfile-types.js';
import { ImageResolver, cacheObjectPath, loadPredictionRuns } from '../../src/report/index.js';
import { runHardExamples, type HardExamplesCliOptions, type ListExperiments } from '../../src/cli/hard-examples.js';
import { tempProject, type TempProject } from '../helpers/project.js';
import { CLASSES, RUN_A, RUN_B, imagePath, predictionsCsv, solidPng, type Row } from './hard-examples-fixtures.js';
import { asMd5 } from '../../src/hash/types.js';

const md5 = (b: string | Uint8Array) => createHash('md5').update(b).digest('hex');

/** Put bytes into the project's cache the way the engine would (DVC 3 layout); returns the md5. */
async function addObject(cacheDir: string, bytes: string | Uint8Array, suffix = ''): Promise<string> {
  const hash = md5(bytes) + suffix;
  const file = cacheObjectPath(cacheDir, hash);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, bytes);
  return hash;
}

/** A dir out `data/p` holding a solid-colour PNG for each image, as a .dir manifest in the cache. */
async function addImagesDir(cacheDir: string, rows: Row[]): Promise<string> {
  const entries = [];
  for (const [i, [id, t]] of rows.entries()) {
    entries.push({ md5: await addObject(cacheDir, solidPng([i * 40, 255 - i * 40, 7])), relpath: `${t}/${id}.png` });
  }
  entries.sort((a, b) => (a.relpath < b.relpath ? -1 : 1));
  return addObject(cacheDir, JSON.stringify(entries), '.dir');
}

async function record(
  cacheDir: string,
  name: string,
  rows: Row[] | string,
  extra: Partial<ExperimentRecord> = {},
): Promise<ExperimentRecord> {
  const text = typeof rows === 'string' ? rows : predictionsCsv(CLASSES, rows);
  const lock: LockFile = {
    schema: '2.0',
    stages: {
      partition: {
        cmd: 'true',
        // a dep whose manifest is not in the cache must not stop the workspace fallback
        deps: [{ path: 'elsewhere', hash: 'md5', md5: asMd5(`${'e'.repeat(32)}.dir`), size: 0, nfiles: 1 }],
        outs: [{ path: 'data/p', hash: 'md5', md5: asMd5(await addImagesDir(cacheDir, RUN_A)), size: 0, nfiles: 4 }],
      },
      evaluate: {
        cmd: 'true',
        outs: [
          {
            path: 'results/predictions.csv',
            hash: 'md5',
            md5: asMd5(await addObject(cacheDir, text)),
            size: text.length,
          },
        ],
      },
    },
  };
  return {
    name,
    baseline: 'b'.repeat(40),
    sha: md5(name).padEnd(40, '0'),
    created: '2026-01-01T00:00:00Z',
    state: 'success',
    params: {},
    metrics: {},
    lock,
    ...extra,
  };
}

async function project(): Promise<{ p: TempProject; cacheDir: string }> {
  const p = await tempProject({ 'pipeline.yaml': 'stages: {}\n' }, { git: false });
  return { p, cacheDir: path.join(p.dir, '.cache') };
}

function expectReport(e: unknown, reason: string, pattern: RegExp): boolean {
  assert.ok(e instanceof LockstepError, String(e));
  assert.equal(e.reason, reason);
  assert.match(`${e.message} ${e.hint ?? ''}`, pattern);
  assert.ok(!e.message.includes('\n'));
  return true;
}

test('predictions are read from the cache object the lock names, not from the workspace', async () => {
  const { p, cacheDir } = await project();
  await p.write('results/predictions.csv', predictionsCsv(CLASSES, RUN_B));
  const loaded = await loadPredictionRuns(
    [await record(cacheDir, 'a', RUN_A), await record(cacheDir, 'failed-one', RUN_B, { state: 'failed' })],
    cacheDir,
  );
  assert.deepEqual(
    loaded.runs.map((r) => [r.name, r.rows.length]),
    [['a', 4]],
  );
  assert.deepEqual(loaded.skipped, ['failed-one']);
});

test(`missing predictions name every experiment and suggest lockstep pull; nothing recorded; corrupt \
object`, async () => {
  const { cacheDir } = await project();
  const a = await record(cacheDir, 'a', RUN_A);
  const b = await record(cacheDir, 'b', RUN_B);
  const c = await record(cacheDir, 'c', RUN_B.slice(0, 2));
  for (const r of [a, c]) await fs.rm(cacheObjectPath(cacheDir, r.lock?.stages.evaluate?.outs?.[0]?.md5 ?? ''));
  await assert.rejects(loadPredictionRuns([a, b, c], cacheDir), (e) =>
    expectReport(
      e,
      'report',
      /^results\/predictions.csv of experiments a, c missing from the cache .* Run lockstep pull/,
    ),
  );
  await assert.rejects(loadPredictionRuns([], cacheDir), (e) =>
    expectReport(e, 'report', /^no experiments recorded Run lockstep exp run first/),
  );
  const noEval = { ...b, name: 'noeval', lock: { schema: '2.0' as const, stages: {} } };
  await assert.rejects(loadPredictionRuns([b, noEval], cacheDir), (e) =>
    expectReport(e, 'report', /pipeline.lock of experiment noeval records no results\/predictions.csv/),
  );
  const obj = cacheObjectPath(cacheDir, b.lock?.stages.evaluate?.outs?.[0]?.md5 ?? '');
  await fs.writeFile(obj, 'id,path\n');
  await assert.rejects(loadPredictionRuns([b], cacheDir), (e) =>
    expectReport(e, 'corrupt-object', /experiment 'b' results\/predictions.csv: cache object \w+ hashes to/),
  );
});

test('same names under two baselines get the baseline in their display name', async () => {
  const { cacheDir } = await project();
  const a1 = await record(cacheDir, 'a', RUN_A);
  const a2 = await record(cacheDir, 'a', RUN_B, { baseline: 'c'.repeat(40) });
  const loaded = await loadPredictionRuns([a1, a2], cacheDir);
  assert.deepEqual(
    loaded.runs.map((r) => r.name),
    ['a@bbbbbbb', 'a@ccccccc'],
  );
});

test('images resolve through a directory out to the cache; workspace only when no lock records them', async () => {
  const { p, cacheDir } = await project();
  const a = await record(cacheDir, 'a', RUN_A);
  await p.write(imagePath('img1', 'cat'), solidPng([1, 2, 3]));
  await p.write('elsewhere/x.png', solidPng([9, 9, 9]));
  const resolver = new ImageResolver([a.lock as LockFile], cacheDir, p.dir);
  const fromCache = await resolver.lookup(imagePath('img1', 'cat'));
  assert.ok(fromCache.bytes);
  assert.equal(fromCache.from, 'cache');
  assert.deepEqual(fromCache.bytes, solidPng([0, 255, 7]), 'the cached version, not the edited workspace file');
  const ws = await resolver.lookup('elsewhere/x.png');
  assert.equal(ws.bytes ? ws.from : ws.why, 'workspace');
  assert.deepEqual(await resolver.lookup('nowhere/y.png'), {
    bytes: null,
    why: 'nowhere/y.png is in no pipeline.lock and not in the workspace',
  });
  assert.deepEqual(await resolver.lookup('../outside.png'), {
    bytes: null,
    why: '../outside.png is outside the project',
  });
  const dirMd5 = a.lock?.stages.partition?.outs?.[0]?.md5 ?? '';
  await fs.rm(cacheObjectPath(cacheDir, dirMd5));
  const fresh = new ImageResolver([a.lock as LockFile], cacheDir, p.dir);
  assert.deepEqual(await fresh.lookup(imagePath('img1', 'cat')), {
    bytes: null,
    why: 'data/p/cat/img1.png is missing from the cache',
  });
});

/** Runs the command with an injected experiment list, capturing output. */
async function cli(p: TempProject, records: ExperimentRecord[], opts: HardExamplesCliOptions = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: unknown[] = [];
  const listExperiments: ListExperiments = async (_root, o) => {
    calls.push(o);
    return o.names
      ? records.filter((r) => o.names?.includes(r.name))
      : o.revs
        ? records.filter((r) => o.revs?.includes(r.baseline))
        : records;
  };
  const code = await runHardExamples(opts, {
    cwd: p.dir,
    listExperiments,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    quiet: false,
  });
  return { code, stdout: out.join(''), stderr: err.join(''), calls };
}

test('the command writes the CSV and a self-contained HTML page and prints a summary', async () => {
  const { p, cacheDir } = await project();
  const records = [await record(cacheDir, 'a', RUN_A), await record(cacheDir, 'b', RUN_B)];
  const r = await cli(p, records, { byClass: true });
  assert.equal(r.code, 0);
  const csv = await p.read('results/hard_examples.csv');
  assert.deepEqual(
    csv
      .split('\n')
      .slice(1, -1)
      .map((l) => l.split(',')[0]),
    ['img1', 'img3'],
  );
  const html = await p.read('results/hard_examples.html');
  assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 2);
  assert.ok(!/(src|href)="(?!data:)/.test(html), 'no external resources');
  assert.match(
    r.stdout,
    new RegExp(
      /^2 hard examples of 4 images seen by 2 experiments \(missed in >= 100% of >= 2 runs; 1 images seen by /.source +
        /fewer runs\)\n/.source,
    ),
  );
  assert.match(r.stdout, /hard per true class: cat 1, frog 1\n/);
  assert.match(r.stdout, /most common confusions: cat -> dog 1, frog -> cat 1\n/);
  assert.match(r.stdout, /│ cat +│ +2 │ +1 │ +50% │/);
  assert.deepEqual(r.calls, [{ allCommits: true }]);
  const none = await cli(p, records, { minRuns: '3' });
  assert.equal(
    none.stdout,
    '0 hard examples of 4 images seen by 2 experiments (missed in >= 100% of >= 3 runs; 4 images seen by fewer ' +
      'runs)\n' +
      `wrote ${path.join('results', 'hard_examples.csv')} and ${path.join('results', 'hard_examples.html')} (top 0)\n`,
  );
  assert.equal(
    await p.read('results/hard_examples.csv'),
    'id,path,true_label,runs,misses,miss_rate,top_wrong_label,top_wrong_count,mean_p_true,std_p_true,mean_margin\n',
  );
});

test('--json prints the whole report; --exp and --rev select; -o writes elsewhere', async () => {
  const { p, cacheDir } = await project();
  const records = [
    await record(cacheDir, 'a', RUN_A),
    await record(cacheDir, 'b', RUN_B),
    await record(cacheDir, 'c', RUN_B, { baseline: 'c'.repeat(40) }),
  ];
  const j = await cli(p, records, { json: true, exp: ['a', 'b'], minRate: '0.5', outDir: 'out' });
  const report = JSON.parse(j.stdout);
  assert.deepEqual(
    report.hard.map((s: { id: string }) => s.id),
    ['img1', 'img3', 'img2'],
  );
  assert.deepEqual(
    report.runs.map((s: { name: string }) => s.name),
    ['a', 'b'],
  );
  assert.equal(report.options.minRate, 0.5);
  assert.ok(await p.exists('out/hard_examples.csv'));
  assert.ok(!(await p.exists('results')));
  const rev = await cli(p, records, { json: true, rev: 'c'.repeat(40), minRuns: '1' });
  assert.deepEqual(
    JSON.parse(rev.stdout).runs.map((s: { name: string }) => s.name),
    ['c'],
  );
});

test('bad input: nothing written, previous report untouched', async () => {
  const { p, cacheDir } = await project();
  await p.write('results/hard_examples.csv', 'old\n');
  const good = await record(cacheDir, 'a', RUN_A);
  const bad = await record(cacheDir, 'b', `${predictionsCsv(CLASSES, RUN_B)}img9,x.png,cat,dog,0.1\n`);
  const otherLabels = await record(
    cacheDir,
    'c',
    predictionsCsv(['cat', 'dog', 'bird'], [['img1', 'cat', 'dog', [0.2, 0.7, 0.1]]]),
  );
  await assert.rejects(cli(p, [good, bad]), (e) =>
    expectReport(
      e,
      'report',
      /^experiment 'b' results\/predictions.csv:5: malformed predictions row: 5 columns, the header has 9/,
    ),
  );
  await assert.rejects(cli(p, [good, otherLabels]), (e) =>
    expectReport(e, 'report', /experiment 'c' results\/predictions.csv has classes cat,dog,bird but/),
  );
  await assert.rejects(cli(p, []), (e) =>
    expectReport(e, 'report', /^no experiments recorded Run lockstep exp run first/),
  );
  await assert.rejects(cli(p, [good], { exp: ['a', 'zz'] }), (e) =>
    expectReport(e, 'report', /^no experiment named zz/),
  );
  await assert.rejects(cli(p, [good], { rev: 'abc' }), (e) =>
    expectReport(e, 'report', /^no experiments recorded for baseline abc/),
  );
  await assert.rejects(cli(p, [good], { minRate: 'x' }), (e) =>
    expectReport(e, 'usage', /^--min-rate 'x' is not a number/),
  );
  await assert.rejects(cli(p, [good], { minRuns: '1.5' }), (e) =>
    expectReport(e, 'usage', /^--min-runs '1.5' is not a whole number/),
  );
  assert.equal(await p.read('results/hard_examples.csv'), 'old\n');
  assert.ok(!(await p.exists('results/hard_examples.html')));
});
