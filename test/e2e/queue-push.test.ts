/**
 * What a queue job leaves on the lockstep remote (a folder), with real `lockstep worker` processes in two
 * clones over a real Redis and a bare git remote. The remote's invariant: every object a run-cache entry
 * or an experiment's lock on it names is there too. Checked after a warm-up job of shared stages that
 * include a sub-pipeline's (sub/dvc.yaml), and after the sweep, with a worker whose own cache holds runs
 * the remote never saw (one of them the very experiment it is given). A job asks the remote about the
 * root objects of what it only restored, not about every file of them, and pushes what the remote lacks.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import YAML from 'yaml';
import { runCli } from '../helpers/project.js';
import { REDIS_BIN } from '../helpers/redis.js';
import { queueSite } from './queue-fixture.js';
import { testRig } from '../helpers/rig.js';
import { waitFor } from '../helpers/wait.js';

const FILES = 300;

const PIPELINE = (counts: string, hold: string) => `stages:
  shared:
    cmd: >-
      echo x >> ${counts}/shared && mkdir -p data/raw &&
      for i in $(seq 1 ${FILES}); do echo "$i $(cat input.txt)" > data/raw/f$i.txt; done
    deps: [input.txt]
    outs: [data/raw]
  train:
    cmd: |
      s=$(sed -n 's/^seed: *\\([^ #]*\\).*/\\1/p' params.yaml)
      echo "$s" >> ${counts}/train
      if [ "$s" = 7 ]; then ${hold}; fi
      mkdir -p metrics
      echo "{\\"acc\\": 0.$s}" > metrics/eval.json
      echo "model $s $(cat sub/out/feat.txt)" > model.txt
    deps: [data/raw, sub/out/feat.txt]
    params: [seed]
    outs: [model.txt]
    metrics: [metrics/eval.json]
`;

const SUB_PIPELINE = (counts: string) => `stages:
  prep:
    cmd: echo x >> ${counts}/prep && mkdir -p out && tr a-z A-Z < ../input.txt > out/feat.txt
    deps: [../input.txt]
    outs: [out]
`;

/** What the folder remote lacks of what its run-cache entries and the git remote's experiments name. */
async function remoteGaps(store: string, bare: string): Promise<string[]> {
  const has = (md5: string) => existsSync(path.join(store, 'files', 'md5', md5.slice(0, 2), md5.slice(2)));
  const gaps: string[] = [];
  const check = (md5: string, who: string) => {
    if (!has(md5)) return void gaps.push(`${who}: ${md5}`);
    if (!md5.endsWith('.dir')) return;
    const manifest = JSON.parse(
      readFileSync(path.join(store, 'files', 'md5', md5.slice(0, 2), md5.slice(2)), 'utf8'),
    ) as { md5: string; relpath: string }[];
    for (const e of manifest) if (!has(e.md5)) gaps.push(`${who}: ${e.relpath} of ${md5}`);
  };
  const runs = path.join(store, 'runs');
  for (const file of (await fs.readdir(runs, { recursive: true }).catch(() => [] as string[])).map(String)) {
    const abs = path.join(runs, file);
    if ((await fs.stat(abs)).isDirectory() || path.basename(file).startsWith('.')) continue;
    const entry = YAML.parse(await fs.readFile(abs, 'utf8')) as { outs?: { md5: string }[] };
    for (const o of entry.outs ?? []) check(o.md5, `run-cache entry ${file}`);
  }
  const refs = (await execa('git', ['for-each-ref', '--format=%(refname)', 'refs/exps/'], { cwd: bare })).stdout;
  for (const ref of refs.split('\n').filter(Boolean)) {
    const meta = JSON.parse((await execa('git', ['show', `${ref}:.lockstep/exp.json`], { cwd: bare })).stdout) as {
      lock: { stages: Record<string, { outs?: { md5: string }[] }> } | null;
    };
    for (const [stage, s] of Object.entries(meta.lock?.stages ?? {}))
      for (const o of s.outs ?? []) check(o.md5, `${ref.split('/').at(-1)} ${stage}`);
  }
  return gaps;
}

const runCacheEntries = async (store: string) =>
  (await fs.readdir(path.join(store, 'runs'), { recursive: true }).catch(() => [] as string[]))
    .map(String)
    .filter((f) => f.split('/').length === 3 && !path.basename(f).startsWith('.'));

test(`a queue job pushes what the remote lacks, sub-pipeline outputs included, and never a run-cache entry or \
experiment whose objects the remote lacks`, {
  skip: REDIS_BIN ? false : 'redis-server is not installed (apt-get install redis-server)',
  timeout: 240_000,
}, async () => {
  const rig = await testRig();
  const { counts, bare, store, env, p, clone, startWorker, logs } = await queueSite(
    'lockstep-queue-push-',
    (counts) => ({
      'pipeline.yaml': PIPELINE(counts, rig.command('seven')),
      'sub/dvc.yaml': SUB_PIPELINE(counts),
      'params.yaml': 'seed: 1\n',
      'input.txt': 'hello\n',
      '.gitignore': '.cache/\n/data/\n/metrics/\n/model.txt\n/sub/out/\n.lockstep/tmp/\n',
    }),
  );
  const wA = await clone('worker-a');
  const wB = await clone('worker-b');
  // worker-b's own cache holds runs the remote never saw: seed 2 (the experiment it will be given) and 99
  for (const seed of [2, 99]) {
    await fs.writeFile(path.join(wB, 'params.yaml'), `seed: ${seed}\n`);
    const r = await runCli(wB, ['repro']);
    assert.equal(r.exitCode, 0, r.all);
  }
  await execa('git', ['checkout', 'params.yaml'], { cwd: wB });

  const q = await p.run(['exp', 'run', '--queue', '--seed', '7,2', '-n', 'sweep'], { env });
  assert.equal(q.exitCode, 0, q.all);
  assert.match(q.stderr, /Queued 2 experiments and 1 warm-up job for shared stages/);

  const exited = (dir: string, name: string) => {
    const child = startWorker(dir, name);
    return new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  };

  // worker-a takes the warm-up (shared, sub/dvc.yaml:prep), then sweep-1 (seed 7), which holds in train
  const aExit = exited(wA, 'worker-a');
  await rig.started('seven', 1, 120_000);
  const logsOf = async (name: string) => (await runCli(p.dir, ['exp', 'queue', 'logs', name], { env })).stdout;
  const warm = await logsOf('sweep-1.warmup');
  assert.match(warm, /stages ran: shared, sub\/dvc\.yaml:prep|stages ran: sub\/dvc\.yaml:prep, shared/, warm);
  assert.deepEqual(await remoteGaps(store, bare), [], 'after the warm-up: its outputs, the sub-pipeline stage too');
  assert.equal((await runCacheEntries(store)).length, 2, 'the warm-up pushed the entries of its two stages only');

  // worker-b takes sweep-2 (seed 2): every stage restored, train from its own cache only
  const bExit = exited(wB, 'worker-b');
  await waitFor(
    async () => {
      const r = await runCli(p.dir, ['exp', 'queue', 'list', '--json'], { env });
      const jobs = JSON.parse(r.stdout) as { spec: { name: string }; state: string }[];
      return jobs.find((j) => j.spec.name === 'sweep-2' && (j.state === 'completed' || j.state === 'failed'));
    },
    { what: 'worker-b done with sweep-2', timeoutMs: 120_000, everyMs: 300 },
  );
  const two = await logsOf('sweep-2');
  assert.match(two, /stages ran: -; restored: /, two);
  const pushedLine = new RegExp(
    /^pushed to the lockstep remote: (.*) \(asked (\d+) questions?, (\d+) objects?, /.source +
      /(\d+) run-cache entr(?:y|ies)\); already there: (.*)$/.source,
    'm',
  ).exec(two);
  assert.ok(pushedLine, two);
  assert.equal(pushedLine[1], 'train', 'only the stage the remote lacked');
  assert.equal(pushedLine[5], 'shared, sub/dvc.yaml:prep');
  assert.ok(Number(pushedLine[2]) < 20, `asked ${pushedLine[2]} questions, not one per file of data/raw (${FILES})`);
  assert.equal(pushedLine[4], '1', "train's entry; shared's and prep's are there");

  await rig.release('seven');
  assert.equal(await aExit, 0, logs());
  assert.equal(await bExit, 0, logs());
  const one = await logsOf('sweep-1');
  assert.match(one, /^pushed to the lockstep remote: train .*; already there: shared, sub\/dvc\.yaml:prep$/m, one);

  // the remote holds everything its entries and the experiments name; seed 99's run stayed in worker-b
  assert.deepEqual(await remoteGaps(store, bare), []);
  assert.equal((await runCacheEntries(store)).length, 4, 'shared, prep, train for seeds 7 and 2');
  assert.equal((await fs.readFile(path.join(counts, 'shared'), 'utf8')).trim().split('\n').length, 2);
  assert.deepEqual((await fs.readFile(path.join(counts, 'train'), 'utf8')).trim().split('\n'), ['2', '99', '7']);

  // the author's clone applies an experiment from the remotes alone, sub-pipeline output included
  assert.equal((await p.run(['exp', 'pull', 'origin', '--all'], { env })).exitCode, 0);
  const applied = await p.run(['exp', 'apply', 'sweep-2'], { env });
  assert.equal(applied.exitCode, 0, applied.all);
  assert.equal(await p.read('model.txt'), 'model 2 HELLO\n');
  assert.equal(await p.read('sub/out/feat.txt'), 'HELLO\n');
});
