/**
 * The parts of the 91% preset (scripts/preset-91.sh): the patch-whitening first convolution (stages/lib/ml/
 * whitening.ts, stages/lib/tf/whiten.ts), the `air` model (stages/lib/tf/models.ts) and the `flip-translate`
 * test-time augmentation (stages/lib/tf/predict.ts). Tiny shapes on the cpu backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Mulberry32 } from '../../stages/lib/common/prng.js';
import { patchCovariance, whiteningKernel } from '../../stages/lib/ml/whitening.js';
import { fillView, normalizationTable } from '../../stages/lib/tf/augment.js';
import { buildModel } from '../../stages/lib/tf/models.js';
import { predictProbabilities } from '../../stages/lib/tf/predict.js';
import { initWhitening } from '../../stages/lib/tf/whiten.js';

await tf.setBackend('cpu');
tf.enableProdMode();

const identityLut = Float32Array.from({ length: 3 * 256 }, (_, i) => i % 256);

/** Images whose channels and neighbouring pixels are strongly correlated, so whitening has work to do. */
function correlatedImages(n: number, h: number, w: number): Uint8Array {
  const rng = new Mulberry32(7);
  const out = new Uint8Array(n * h * w * 3);
  for (let i = 0; i < n; i++) {
    let prev = rng.int(200);
    for (let p = 0; p < h * w; p++) {
      const base = Math.min(200, Math.max(0, prev + rng.int(21) - 10));
      prev = base;
      const o = (i * h * w + p) * 3;
      out[o] = base + rng.int(8);
      out[o + 1] = base + rng.int(30);
      out[o + 2] = 255 - base - rng.int(50);
    }
  }
  return out;
}

test('patchCovariance: the mean of p pᵀ over every k×k patch, in (dy, dx, c) order', () => {
  // one 2x3 image, one channel: patches [1 2 4 5] and [2 3 5 6]
  const images = Uint8Array.from([1, 2, 3, 4, 5, 6]);
  const lut = Float32Array.from({ length: 256 }, (_, v) => v);
  const cov = patchCovariance(images, 1, { height: 2, width: 3, channels: 1 }, lut, 2);
  const p = [
    [1, 2, 4, 5],
    [2, 3, 5, 6],
  ];
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 4; j++) assert.equal(cov[i * 4 + j], (p[0]![i]! * p[0]![j]! + p[1]![i]! * p[1]![j]!) / 2);
  // channels interleave inside a pixel: a 1x2 image of 2 channels, k = 1 gives one 2-vector per pixel
  const two = patchCovariance(Uint8Array.from([1, 2, 3, 4]), 1, { height: 1, width: 2, channels: 2 }, identityLut, 1);
  assert.deepEqual(Array.from(two), [(1 + 9) / 2, (2 + 12) / 2, (2 + 12) / 2, (4 + 16) / 2]);
});

test('whiteningKernel: the first half decorrelates the patches to unit variance, the second its negation', () => {
  const shape = { height: 8, width: 8, channels: 3 };
  const images = correlatedImages(40, 8, 8);
  const lut = normalizationTable({ mean: [0.4, 0.45, 0.5], std: [0.25, 0.25, 0.25] });
  const cov = patchCovariance(images, 40, shape, lut, 2);
  const d = 12;
  const kernel = whiteningKernel(cov, d, 0);
  assert.equal(kernel.length, d * 2 * d);
  // W Σ Wᵀ = I for the first d filters (eps 0), column o of the [12, 24] kernel being filter o
  for (let a = 0; a < d; a++)
    for (let b = 0; b < d; b++) {
      let s = 0;
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) s += kernel[i * 2 * d + a]! * cov[i * d + j]! * kernel[j * 2 * d + b]!;
      assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-3, `filters ${a}, ${b}: ${s}`);
    }
  for (let i = 0; i < d; i++)
    for (let o = 0; o < d; o++) assert.equal(kernel[i * 2 * d + d + o], -kernel[i * 2 * d + o]!);
  // the largest-variance direction first: its filter has the smallest norm
  const norm = (o: number) => Math.hypot(...Array.from({ length: d }, (_, i) => kernel[i * 2 * d + o]!));
  assert.ok(norm(0) < norm(d - 1));
  // the same images give the same bits
  assert.deepEqual(whiteningKernel(patchCovariance(images, 40, shape, lut, 2), d, 0), kernel);
});

test('air: a frozen whitening convolution, the fast groups at 64/256/256, a scaled head; initWhitening sets it', () => {
  const model = buildModel('air', { height: 32, width: 32, channels: 3, classes: 10 }, 1);
  const whiten = model.getLayer('whiten');
  assert.deepEqual(whiten.outputShape, [null, 31, 31, 24]);
  assert.deepEqual(model.getLayer('global_pool').outputShape, [null, 1, 1, 256]);
  assert.deepEqual(model.outputs[0]!.shape, [null, 10]);
  assert.equal(model.layers.filter((l) => l.getClassName() === 'Conv2D').length, 7);
  // a linear head without bias, its logits scaled by 0.125 before the softmax
  assert.deepEqual(
    model.layers.slice(-3).map((l) => [l.getClassName(), l.getConfig().factor ?? l.getConfig().activation]),
    [
      ['Dense', 'linear'],
      ['LockstepScale', 0.125],
      ['Activation', 'softmax'],
    ],
  );
  assert.equal(model.getLayer('logits').getWeights().length, 1);
  // frozen: not among the weights the optimizer and the weight decay get, but saved with the model
  assert.ok(!model.trainableWeights.some((w) => w.originalName.startsWith('whiten')));
  assert.ok(model.weights.some((w) => w.originalName === 'whiten/kernel'));
  assert.ok(
    whiten
      .getWeights()[0]!
      .dataSync()
      .every((v) => v === 0),
  );

  const images = correlatedImages(6, 32, 32);
  const lut = normalizationTable({ mean: [0.4, 0.45, 0.5], std: [0.25, 0.25, 0.25] });
  const shape = { height: 32, width: 32, channels: 3 };
  assert.equal(initWhitening(model, images, shape, lut), true);
  const expected = whiteningKernel(patchCovariance(images, 6, shape, lut, 2), 12, 5e-4);
  assert.deepEqual(whiten.getWeights()[0]!.dataSync(), expected);
  assert.equal(initWhitening(buildModel('fast', { ...shape, classes: 10 }, 1), images, shape, lut), false);
  tf.disposeVariables();
});

test('fillView moves the image by (dy, dx), mirrored first when flip, and fills the edge with 0', () => {
  const shape = { height: 3, width: 3, channels: 1 };
  const img = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const out = new Float32Array(9);
  fillView(out, img, shape, identityLut, 0, 1, { dy: 1, dx: 1, flip: false });
  assert.deepEqual(Array.from(out), [5, 6, 0, 8, 9, 0, 0, 0, 0]);
  fillView(out, img, shape, identityLut, 0, 1, { dy: -1, dx: -1, flip: true });
  assert.deepEqual(Array.from(out), [0, 0, 0, 2, 1, 0, 5, 4, 0]);
});

test('flip-translate averages 6 views: half on the image and its mirror, half on the 4 shifted views', () => {
  const shape = { height: 8, width: 8, channels: 3 };
  const model = buildModel('tiny', { ...shape, classes: 4 }, 2);
  const images = correlatedImages(5, 8, 8);
  const lut = normalizationTable({ mean: [0.4, 0.45, 0.5], std: [0.25, 0.25, 0.25] });
  const probs = predictProbabilities(model, images, 5, shape, lut, 4, 2, 'flip-translate');
  const flip = predictProbabilities(model, images, 5, shape, lut, 4, 2, 'flip');
  const view = (dy: number, dx: number, f: boolean) => {
    const buf = new Float32Array(5 * 8 * 8 * 3);
    fillView(buf, images, shape, lut, 0, 5, { dy, dx, flip: f });
    return tf.tidy(() => model.predict(tf.tensor4d(buf, [5, 8, 8, 3])) as tf.Tensor).dataSync();
  };
  const shifted = [view(-1, -1, false), view(-1, -1, true), view(1, 1, false), view(1, 1, true)];
  for (let i = 0; i < probs.length; i++) {
    const want = flip[i]! / 2 + shifted.reduce((s, v) => s + v[i]!, 0) / 8;
    assert.ok(Math.abs(probs[i]! - want) < 1e-6, `${i}: ${probs[i]} vs ${want}`);
  }
  assert.notDeepEqual(probs, flip);
  tf.disposeVariables();
});

test('diracInit: the first in_channels filters of each 3x3 convolution become the identity, others stay', async () => {
  const { diracInit } = await import('../../stages/lib/tf/dirac.js');
  const shape = { height: 8, width: 8, channels: 3, classes: 10 };
  const plain = buildModel('fast', shape, 3);
  const model = buildModel('fast', shape, 3);
  assert.equal(diracInit(model), 7, 'the stem and the six convolutions of the three groups');
  const kernelOf = (m: typeof model, name: string) => {
    const k = m.getLayer(name).getWeights()[0]!;
    return { shape: k.shape as number[], data: k.dataSync() };
  };
  for (const name of ['stem', 'group1b', 'group2a']) {
    const {
      shape: [kh, kw, cin, cout],
      data,
    } = kernelOf(model, name) as { shape: number[]; data: Float32Array };
    const before = kernelOf(plain, name).data;
    for (let y = 0; y < kh!; y++)
      for (let x = 0; x < kw!; x++)
        for (let i = 0; i < cin!; i++)
          for (let o = 0; o < cout!; o++) {
            const at = ((y * kw! + x) * cin! + i) * cout! + o;
            const want = o < cin! ? (y === 1 && x === 1 && i === o ? 1 : 0) : before[at];
            assert.equal(data[at], want, `${name}[${y},${x},${i},${o}]`);
          }
  }
  // an image through the stem's identity filters comes out as itself (then ReLU: the inputs are positive)
  const image = tf.randomUniform([1, 8, 8, 3], 0.1, 1, 'float32', 5);
  const stemOut = model.getLayer('stem').apply(image) as tf.Tensor;
  const passed = tf.slice(stemOut, [0, 0, 0, 0], [1, 8, 8, 3]);
  assert.ok(tf.max(tf.abs(tf.sub(passed, image))).dataSync()[0]! < 1e-6);
});

test('Lookahead: weights move towards the slow copy by the decay; one training leaves alone stays exact', async () => {
  const { Lookahead } = await import('../../stages/lib/tf/lookahead.js');
  const model = buildModel('fast', { height: 8, width: 8, channels: 3, classes: 10 }, 3);
  const before = model.weights.map((w) => w.read().dataSync().slice());
  const lookahead = new Lookahead(model);
  // 40 updates with no training step between them: the slow copy equals the weights, so nothing may move by an ulp
  for (let t = 1; t <= 40; t++) lookahead.update(0.77 * (t / 40) ** 3 + 0.013 * t);
  for (const [i, w] of model.weights.entries()) assert.deepEqual(w.read().dataSync(), before[i], w.name);
  // a training step moves one kernel to w; the update takes it to slow + (w - slow)(1 - decay)
  const kernel = model.weights[0]!;
  const moved = kernel
    .read()
    .dataSync()
    .map((x, j) => x + 0.5 + (j % 3));
  (kernel.read() as unknown as tf.Variable).assign(tf.tensor(moved, kernel.shape as number[]));
  lookahead.update(0.25);
  const got = kernel.read().dataSync();
  for (const [j, x] of got.entries()) {
    assert.ok(Math.abs(x - (before[0]![j]! + 0.75 * (0.5 + (j % 3)))) < 1e-5, `[${j}]`);
  }
  lookahead.dispose();
  tf.disposeVariables();
});
