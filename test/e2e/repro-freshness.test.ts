import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { countRun, runCount, tempProject } from '../helpers/project.js';

// A three-stage pipeline of shell commands; each stage counts its runs in runs/<name>.
const PIPELINE = `stages:
  prepare:
    cmd: ${countRun('prepare')} && mkdir -p data && cat raw.txt > data/prepared.txt
    deps: [raw.txt]
    params: [prepare.scale]
    outs: [data/prepared.txt]
  train:
    cmd: ${countRun('train')} && cat data/prepared.txt params.yaml > model.txt
    deps: [data/prepared.txt]
    params: [train.lr]
    outs: [model.txt]
  evaluate:
    cmd: ${countRun('evaluate')} && wc -c < model.txt > score.txt
    deps: [model.txt]
    metrics:
      - score.txt:
          cache: false
`;
const PARAMS = 'prepare:\n  scale: 1\ntrain:\n  lr: 0.001\nunrelated: 5\n';

async function project() {
  return tempProject({
    'pipeline.yaml': PIPELINE,
    'params.yaml': PARAMS,
    'raw.txt': 'hello\n',
    '.gitignore': 'runs/\n.cache/\n',
  });
}

async function counts(p: Awaited<ReturnType<typeof project>>) {
  return [await runCount(p, 'prepare'), await runCount(p, 'train'), await runCount(p, 'evaluate')];
}

test('a second repro runs nothing; touching a dep without changing it runs nothing', async () => {
  const p = await project();
  const first = await p.run(['repro']);
  assert.equal(first.exitCode, 0, first.all);
  assert.deepEqual(await counts(p), [1, 1, 1]);
  assert.match(await p.read('pipeline.lock'), /^schema: '2.0'\nstages:\n {2}prepare:\n {4}cmd: /);
  // cached outputs are git-ignored beside them, as DVC does; uncached metrics are left to git
  assert.equal(await p.read('data/.gitignore'), '/prepared.txt\n');
  assert.match(await p.read('.gitignore'), /^\/model\.txt$/m);
  // .lockstep/.gitignore (tmp/ and the local config stay out of git) is new, to be committed as DVC's .dvc/.gitignore
  assert.deepEqual((await p.git('status', '--porcelain')).split('\n').sort(), [
    ' M .gitignore',
    '?? .lockstep/',
    '?? data/',
    '?? pipeline.lock',
    '?? score.txt',
  ]);

  const second = await p.run(['repro']);
  assert.equal(second.exitCode, 0, second.all);
  assert.deepEqual(await counts(p), [1, 1, 1]);
  assert.match(second.stdout, /Stage 'train' didn't change, skipping/);

  const future = new Date(Date.now() + 5000);
  await fs.utimes(path.join(p.dir, 'raw.txt'), future, future);
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.deepEqual(await counts(p), [1, 1, 1]);
});

test(`params: an unrelated change runs nothing, a related one runs that stage and downstream; revert restores from \
the run-cache`, async () => {
  const p = await project();
  assert.equal((await p.run(['repro'])).exitCode, 0);

  await p.write('params.yaml', PARAMS.replace('unrelated: 5', 'unrelated: 6'));
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.deepEqual(await counts(p), [1, 1, 1]);

  await p.write('params.yaml', PARAMS.replace('lr: 0.001', 'lr: 0.01'));
  const status = await p.run(['status']);
  assert.equal(status.stdout, 'train:\n\tparams changed: train.lr 0.001 -> 0.01');
  const json = JSON.parse((await p.run(['status', '--json'])).stdout);
  assert.deepEqual(Object.keys(json), ['train']);
  assert.equal(json.train.reasons[0].kind, 'param-changed');

  const dry = await p.run(['repro', '--dry']);
  assert.match(dry.stdout, /would run 'train': params changed: train.lr 0.001 -> 0.01/);
  assert.match(dry.stdout, /would run 'evaluate': upstream stage 'train' will run/);
  assert.deepEqual(await counts(p), [1, 1, 1], 'dry runs nothing');

  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.deepEqual(await counts(p), [1, 2, 2]);

  await p.write('params.yaml', PARAMS);
  const back = await p.run(['repro']);
  assert.equal(back.exitCode, 0, back.all);
  assert.match(back.stdout, /Stage 'train' restored from the run-cache, not run/);
  assert.match(back.stdout, /Stage 'evaluate' restored from the run-cache, not run/);
  assert.deepEqual(
    await counts(p),
    [1, 2, 2],
    'as in DVC, the run-cache restores cache: false outputs (the metrics) too',
  );
  assert.equal((await p.run(['status'])).stdout, 'Data and pipelines are up to date.');
});

test('deleting an output restores it without running; checkout restores it too', async () => {
  const p = await project();
  assert.equal((await p.run(['repro'])).exitCode, 0);
  const model = await p.read('model.txt');
  await fs.rm(path.join(p.dir, 'model.txt'));
  assert.equal(
    (await p.run(['status'])).stdout,
    'train:\n\touts missing: model.txt\nevaluate:\n\tdeps missing: model.txt',
  );
  const r = await p.run(['repro']);
  assert.equal(r.exitCode, 0, r.all);
  assert.deepEqual(await counts(p), [1, 1, 1]);
  assert.equal(await p.read('model.txt'), model);

  await fs.rm(path.join(p.dir, 'data'), { recursive: true });
  const c = await p.run(['checkout']);
  assert.equal(c.exitCode, 0, c.all);
  assert.equal(await p.read('data/prepared.txt'), 'hello\n');
  assert.deepEqual(await counts(p), [1, 1, 1]);
});

test('--force, --single-item and --downstream choose what runs', async () => {
  const p = await project();
  assert.equal((await p.run(['repro'])).exitCode, 0);
  assert.equal((await p.run(['repro', '--force', '--single-item', 'train'])).exitCode, 0);
  assert.deepEqual(await counts(p), [1, 2, 1]);
  assert.equal((await p.run(['repro', '--force', 'train'])).exitCode, 0);
  assert.deepEqual(await counts(p), [2, 3, 1]);
  await p.write('raw.txt', 'changed\n');
  assert.equal((await p.run(['repro', '--single-item', '--downstream', 'prepare'])).exitCode, 0);
  assert.deepEqual(await counts(p), [3, 4, 2]);
});

test('independent stages run in parallel with -j and output is prefixed by stage name', async () => {
  // Each stage waits (up to 10 s) for the other to have started: that only succeeds when both run at once.
  const wait = (me: string, other: string) =>
    `echo start-${me} && touch ${me}.started && for i in $(seq 100); do [ -f ${other}.started ] && break; sleep 0.1; ` +
    `done && [ -f ${other}.started ] && echo ok > ${me}.txt`;
  const p = await tempProject({
    'pipeline.yaml':
      `stages:\n  a:\n    cmd: ${wait('a', 'b')}\n    outs: [a.txt]\n  b:\n    cmd: ` +
      `${wait('b', 'a')}\n    outs: [b.txt]\n`,
  });
  const r = await p.run(['repro', '-j', '2']);
  assert.equal(r.exitCode, 0, r.all);
  assert.match(r.stdout, /\[b\] start-b/);
  assert.equal(await p.read('a.txt'), 'ok\n');
});
