import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { SeededDropout, buildModel, setDropoutStep } from '../../stages/lib/tf/models.js';
import { BatchNorm } from '../../stages/lib/tf/batch-norm-layer.js';
import { decodeTensors, encodeTensors, loadModelDir, saveModelDir } from '../../stages/lib/tf/model-io.js';
import { tempDir } from '../helpers/tmp.js';

await tf.setBackend('cpu');
tf.enableProdMode();
const shape = { height: 8, width: 8, channels: 3, classes: 4 };

test('models build with the documented layer stacks and the same seed gives the same weights', () => {
  const seed = buildModel('seed', { ...shape, height: 32, width: 32 }, 1);
  assert.deepEqual(
    seed.layers.map((l) => l.getClassName()),
    [
      'Conv2D',
      'MaxPooling2D',
      'Conv2D',
      'MaxPooling2D',
      'Conv2D',
      'MaxPooling2D',
      'Flatten',
      'Dense',
      'SeededDropout',
      'Dense',
    ],
  );
  assert.deepEqual(seed.outputs[0]!.shape, [null, 4]);
  const bn = buildModel('bn', { ...shape, height: 32, width: 32 }, 1);
  assert.equal(bn.layers.filter((l) => l.getClassName() === 'LockstepBatchNorm').length, 4);
  const vgg = buildModel('vgg', { ...shape, height: 32, width: 32 }, 1);
  assert.equal(vgg.layers.filter((l) => l.getClassName() === 'Conv2D').length, 6);
  const fast = buildModel('fast', { ...shape, height: 32, width: 32 }, 1);
  assert.equal(fast.layers.filter((l) => l.getClassName() === 'Conv2D').length, 7);
  assert.equal(fast.layers.filter((l) => l.getClassName() === 'LockstepBatchNorm').length, 6);
  assert.deepEqual(fast.getLayer('global_pool').outputShape, [null, 1, 1, 128]);
  assert.deepEqual(fast.outputs[0]!.shape, [null, 4]);
  const a = buildModel('tiny', shape, 5)
    .getWeights()
    .map((w) => w.dataSync());
  const b = buildModel('tiny', shape, 5)
    .getWeights()
    .map((w) => w.dataSync());
  const c = buildModel('tiny', shape, 6)
    .getWeights()
    .map((w) => w.dataSync());
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  tf.disposeVariables();
});

test('SeededDropout: a mask per step, identical for the same step, identity at inference', () => {
  const layer = new SeededDropout({ rate: 0.5, seed: 9 });
  const x = tf.ones([1, 64]);
  const run = (step: number) => {
    layer.step = step;
    return Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync());
  };
  assert.deepEqual(run(3), run(3));
  assert.notDeepEqual(run(3), run(4));
  assert.ok(run(3).every((v) => v === 0 || v === 2));
  assert.deepEqual(Array.from((layer.apply(x) as tf.Tensor).dataSync()), new Array(64).fill(1));
  const model = buildModel('seed', { ...shape, height: 8, width: 8 }, 1);
  setDropoutStep(model, 17);
  assert.equal((model.layers.find((l) => l instanceof SeededDropout) as SeededDropout).step, 17);
  tf.disposeVariables();
});

test('a model saved to a directory loads back with the same predictions', async () => {
  const dir = await tempDir('lockstep-model-');
  try {
    const model = buildModel('bn', shape, 3);
    await saveModelDir(model, path.join(dir, 'model'), { 'extra.json': '{}\n' });
    assert.deepEqual((await fs.readdir(path.join(dir, 'model'))).sort(), ['extra.json', 'model.json', 'weights.bin']);
    const loaded = await loadModelDir(path.join(dir, 'model'));
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 1);
    assert.deepEqual((loaded.predict(x) as tf.Tensor).dataSync(), (model.predict(x) as tf.Tensor).dataSync());
    // Saving twice gives the same bytes (atomic directory swap, no stale files).
    const first = await fs.readFile(path.join(dir, 'model', 'weights.bin'));
    await saveModelDir(model, path.join(dir, 'model'));
    assert.ok(first.equals(await fs.readFile(path.join(dir, 'model', 'weights.bin'))));
    assert.deepEqual((await fs.readdir(dir)).sort(), ['model']);
    await assert.rejects(loadModelDir(path.join(dir, 'nope')), /nope\/model\.json: missing/);
    // Weight paths from model.json that leave the folder are refused, not read (a secret beside it stays unread).
    await fs.writeFile(path.join(dir, 'secret.bin'), first);
    const json = JSON.parse(await fs.readFile(path.join(dir, 'model', 'model.json'), 'utf8'));
    for (const bad of ['../secret.bin', '.', 'sub/../../secret.bin', '../model/../secret.bin', 7]) {
      json.weightsManifest[0].paths = [bad];
      await fs.writeFile(path.join(dir, 'model', 'model.json'), JSON.stringify(json));
      await assert.rejects(loadModelDir(path.join(dir, 'model')), /weights path .* is not a file inside/, String(bad));
    }
    // A model.json of the wrong shape is one line too, not a TypeError with a stack.
    for (const bad of ['null', '{"weightsManifest": 3}', '{"weightsManifest": [{"weights": []}]}']) {
      await fs.writeFile(path.join(dir, 'model', 'model.json'), bad);
      await assert.rejects(loadModelDir(path.join(dir, 'model')), /not a readable tfjs model\.json/, bad);
    }
    json.weightsManifest[0].paths = ['./weights.bin'];
    await fs.writeFile(path.join(dir, 'model', 'model.json'), JSON.stringify(json));
    await loadModelDir(path.join(dir, 'model'));
  } finally {
    tf.disposeVariables();
  }
});

test('named tensors round-trip through encodeTensors/decodeTensors', async () => {
  const named = [
    { name: 'iter', tensor: tf.scalar(7, 'int32') },
    {
      name: 'w/m',
      tensor: tf.tensor2d([
        [1, 2],
        [3, 4.5],
      ]),
    },
  ];
  const { specs, data } = await encodeTensors(named);
  const back = decodeTensors(specs, data);
  assert.deepEqual(
    back.map((t) => t.name),
    ['iter', 'w/m'],
  );
  assert.deepEqual(Array.from(back[1]!.tensor.dataSync()), [1, 2, 3, 4.5]);
  assert.equal(back[0]!.tensor.dtype, 'int32');
});

test('the fast cpu Conv2DBackpropFilter is bit-identical to tfjs own kernel', async () => {
  const { registerFastCpuKernels } = await import('../../stages/lib/tf/cpu-kernels.js');
  type Shape4 = [number, number, number, number];
  const cases: { x: Shape4; f: Shape4; strides: 1 | 2; pad: 'same' | 'valid' }[] = [
    { x: [3, 9, 9, 3], f: [3, 3, 3, 8], strides: 1, pad: 'same' },
    { x: [2, 10, 7, 4], f: [3, 3, 4, 5], strides: 2, pad: 'valid' },
    { x: [2, 8, 8, 2], f: [5, 5, 2, 3], strides: 2, pad: 'same' },
  ];
  const grads = () =>
    cases.map((c, i) =>
      tf.tidy(() => {
        const x = tf.randomNormal(c.x, 0, 1, 'float32', 10 + i) as tf.Tensor4D;
        const f = tf.randomNormal(c.f, 0, 1, 'float32', 20 + i) as tf.Tensor4D;
        const g = tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x, w as tf.Tensor4D, c.strides, c.pad))))(f);
        return Array.from(g.dataSync());
      }),
    );
  const before = grads();
  registerFastCpuKernels();
  const after = grads();
  for (let i = 0; i < cases.length; i++) assert.deepEqual(after[i], before[i], `case ${i}`);
});

test('the BatchNorm layer matches tf.layers.batchNormalization: outputs, gradients, moving averages, inference', () => {
  const x = tf.randomNormal([6, 4, 4, 3], 0.5, 2, 'float32', 3);
  const make = (ours: boolean) => {
    const layer = ours
      ? new BatchNorm({ name: 'bn', momentum: 0.9, inputShape: [4, 4, 3] })
      : tfl.layers.batchNormalization({ name: 'bn', momentum: 0.9, inputShape: [4, 4, 3] });
    const m = tfl.sequential({ layers: [layer], name: ours ? 'ours' : 'theirs' });
    m.setWeights([tf.tensor1d([1.5, 0.5, 2]), tf.tensor1d([0.1, -0.2, 0.3]), tf.zeros([3]), tf.ones([3])]);
    return m;
  };
  const run = (m: tfl.LayersModel) => {
    const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
    const w = tf.randomNormal([6, 4, 4, 3], 0, 1, 'float32', 4);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(m.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar,
      vars,
    );
    const dx = tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(m.apply(xs, { training: true }) as tf.Tensor, w)))(x);
    return {
      value: value.dataSync()[0]!,
      grads: vars.map((v) => Array.from(grads[v.name]!.dataSync())),
      dx: Array.from(dx.dataSync()),
      weights: m.getWeights().map((t) => Array.from(t.dataSync())),
      infer: Array.from((m.apply(x, { training: false }) as tf.Tensor).dataSync()),
    };
  };
  const close = (a: number[], b: number[], what: string) =>
    a.forEach((v, i) => {
      assert.ok(Math.abs(v - b[i]!) <= 1e-4 * Math.max(1, Math.abs(b[i]!)), `${what}[${i}]: ${v} vs ${b[i]}`);
    });
  const ours = run(make(true));
  const theirs = run(make(false));
  assert.ok(Math.abs(ours.value - theirs.value) < 1e-3);
  ours.grads.forEach((g, i) => {
    close(g, theirs.grads[i]!, `grad ${i}`);
  });
  close(ours.dx, theirs.dx, 'dx');
  // the moving averages moved the same way (twice: the variableGrads and the grad pass)
  ours.weights.forEach((w, i) => {
    close(w, theirs.weights[i]!, `weight ${i}`);
  });
  close(ours.infer, theirs.infer, 'inference');
  assert.notDeepEqual(ours.weights[2], [0, 0, 0], 'the moving mean moved');
});
