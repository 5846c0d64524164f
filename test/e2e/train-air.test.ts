/**
 * The 91% preset's model end to end (train.model: air, evaluate.tta: flip-translate) on the fastest backend here
 * (tfjs-node when it loads, else wasm), 16x16 fixture images: the train stage sets the frozen whitening convolution
 * from the training images and the saved model carries it unchanged by training; two runs with the same params,
 * one stopped after epoch 1 and resumed from its checkpoint, give byte-identical outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { availableBackends } from '../helpers/backends.js';
import { tempProject, type TempProject } from '../helpers/project.js';
import { runStageProgram } from '../helpers/stage.js';
import { writeFixture } from '../helpers/prepared-fixture.js';
import { readMeta, readSplit } from '../../stages/lib/ml/prepared.js';
import { channelStats, normalizationTable } from '../../stages/lib/tf/augment.js';
import { WHITENING_EPS, patchCovariance, whiteningKernel } from '../../stages/lib/ml/whitening.js';

const backend = (await availableBackends())[0]!;

const params = (epochs: number) => `seed: 3
train:
  model: air
  backend: ${backend}
  epochs: ${epochs}
  batch_size: 16
  optimizer: sgd
  lr: 0.05
  label_smoothing: 0.2
  weight_decay: 0.0005
  early_stopping_patience: 0
evaluate:
  batch_size: 32
  samples: 4
  backend: ${backend}
  tta: flip-translate
`;

async function project(text: string): Promise<TempProject> {
  const p = await tempProject({ 'params.yaml': text }, { git: false });
  await writeFixture(path.join(p.dir, 'data/prepared'), { size: 16, counts: { train: 48, val: 16, test: 16 } });
  return p;
}

async function run(stage: 'train' | 'evaluate', p: TempProject): Promise<string> {
  const r = await runStageProgram(stage, p.dir);
  assert.equal(r.exitCode, 0, r.all);
  return r.stdout;
}

test(`air on ${backend}: whitening set from the images and kept frozen; same bytes straight and resumed`, async (t) => {
  if (backend === 'cpu') return t.skip('the air model is too slow for a test on the cpu backend');
  const [straight, resumed] = await Promise.all([project(params(2)), project(params(1))]);
  const [log] = await Promise.all([run('train', straight), run('train', resumed)]);
  assert.match(log, /^whitening: /m);
  await resumed.write('params.yaml', params(2));
  assert.match(await run('train', resumed), /checkpoint: resuming after epoch 1/);
  const [evalLog] = await Promise.all([run('evaluate', straight), run('evaluate', resumed)]);
  assert.match(evalLog, /shifted a pixel both ways, and their mirror images/);
  for (const f of ['metrics/train.json', 'models/model/weights.bin', 'metrics/eval.json', 'results/predictions.csv']) {
    const [x, y] = await Promise.all([straight, resumed].map((p) => fs.readFile(path.join(p.dir, f))));
    assert.ok(x!.equals(y!), `${f} differs between the straight and the resumed run`);
  }

  // The saved whitening kernel is the one computed from the training images, untouched by two epochs of SGD.
  const prepared = path.join(straight.dir, 'data/prepared');
  const meta = await readMeta(prepared);
  const train = await readSplit(prepared, meta, 'train');
  const shape = { height: meta.height, width: meta.width, channels: meta.channels };
  const lut = normalizationTable(channelStats(train.images, meta.channels));
  const expected = whiteningKernel(patchCovariance(train.images, train.count, shape, lut, 2), 12, WHITENING_EPS);
  const modelJson = JSON.parse(await straight.read('models/model/model.json'));
  const specs = modelJson.weightsManifest[0].weights as { name: string; shape: number[] }[];
  const at = specs.findIndex((s) => s.name === 'whiten/kernel');
  assert.deepEqual(specs[at]!.shape, [2, 2, 3, 24]);
  // float32 weights, one after the other in manifest order
  const offset = 4 * specs.slice(0, at).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  const bin = await fs.readFile(path.join(straight.dir, 'models/model/weights.bin'));
  const saved = new Float32Array(
    bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + expected.byteLength),
  );
  assert.deepEqual(saved, expected);
  assert.ok(JSON.parse(await straight.read('metrics/eval.json')).accuracy > 0.25, 'better than chance');
});
