/**
 * The train and evaluate stage programs run by the real `lockstep repro`, declared as the project's
 * pipeline.yaml declares them: the checkpoint is a persistent uncached output, timing is an uncached
 * metric, and an evaluate-only param change does not retrain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { REPO_ROOT, tempProject } from '../helpers/project.js';
import { writeFixture } from '../helpers/prepared-fixture.js';

const TSX = import.meta.resolve('tsx');
const stage = (name: string) => `node --import ${TSX} ${path.join(REPO_ROOT, 'stages', `${name}.ts`)}`;

const PIPELINE = `stages:
  train:
    cmd: ${stage('train')}
    deps: [data/prepared]
    params: [seed, train]
    outs:
      - models/model
      - models/checkpoint:
          persist: true
          cache: false
    metrics:
      - metrics/train.json
      - metrics/train_speed.json:
          cache: false
    plots:
      - plots/train.json
  evaluate:
    cmd: ${stage('evaluate')}
    deps: [data/prepared, models/model]
    params: [evaluate]
    metrics: [metrics/eval.json]
    outs:
      - results/predictions.csv
      - results/confusion.json
      - results/confusion.png
      - results/samples.png
      - results/samples.json
`;

const PARAMS = (samples: number) =>
  `seed: 42\ntrain:\n  model: tiny\n  backend: cpu\n  epochs: 2\n  batch_size: 16\nevaluate:\n` +
  `  samples: ${samples}\n ` +
  ` backend: cpu\n`;

test('lockstep repro runs train then evaluate; an evaluate param reruns only evaluate', async () => {
  const p = await tempProject({ 'pipeline.yaml': PIPELINE, 'params.yaml': PARAMS(4), '.gitignore': '.cache/\n' });
  await writeFixture(path.join(p.dir, 'data/prepared'), { size: 8, counts: { train: 64, val: 16, test: 16 } });
  const first = await p.run(['repro'], { timeout: 240_000 });
  assert.equal(first.exitCode, 0, first.all);
  const lock = await p.read('pipeline.lock');
  assert.match(lock, /^ {2}train:$/m);
  assert.match(lock, /^ {2}evaluate:$/m);
  // hard-examples finds the predictions by this path among the evaluate stage's outs
  assert.match(lock, /- path: results\/predictions\.csv\n +hash: md5\n +md5: [0-9a-f]{32}/);
  assert.ok(await p.exists('results/predictions.csv'));
  assert.equal(JSON.parse(await p.read('results/samples.json')).samples.length, 4);
  const trainMetrics = await p.read('metrics/train.json');

  await p.write('params.yaml', PARAMS(9));
  const second = await p.run(['repro'], { timeout: 240_000 });
  assert.equal(second.exitCode, 0, second.all);
  assert.match(second.stdout, /Stage 'train' didn't change, skipping/);
  assert.equal(JSON.parse(await p.read('results/samples.json')).samples.length, 9);
  assert.equal(await p.read('metrics/train.json'), trainMetrics);
});
