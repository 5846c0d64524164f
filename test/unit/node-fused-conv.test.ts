/**
 * oneDNN's fused convolution + bias + ReLU (stages/lib/tf/node-fused-conv.ts) against tfjs' `Conv2D`, bias add and
 * `Relu` on tfjs-node: the same output and gradient bits (input, filter, bias), at odd sizes, strides and both
 * paddings; the inference plan runs it. (A layer wrapped by withNodeBiasRelu trains through it with the plain layer's
 * bits: node-kernels.test.ts.) Skipped where tfjs-node is not installed or its addon is not one this project's script
 * built (tfjs-node's own prebuilt binding passes no list attributes); with the script's, the fused op must run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { availableBackends } from '../helpers/backends.js';
import { initBackend } from '../../stages/lib/tf/backend.js';
import { hasNodeConvBiasRelu, nodeConvBiasRelu } from '../../stages/lib/tf/node-fused-conv.js';
import { inferenceForward } from '../../stages/lib/tf/inference-plan.js';
import { Mulberry32 } from '../../stages/lib/common/prng.js';

/** The mark scripts/tfjs-node-from-registries.sh leaves beside an addon whose binding passes list attributes. */
function builtWithLists(): boolean {
  const pkg = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-node/package.json'));
  return existsSync(path.join(pkg, 'lib', 'napi-v8', '.lockstep-binding-lists'));
}

const skip = !(await availableBackends()).includes('node')
  ? 'tfjs-node is not installed'
  : !builtWithLists()
    ? "tfjs-node's addon is not one scripts/tfjs-node-from-registries.sh built (its binding passes no list attributes)"
    : false;

function normal(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = new Mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale),
    shape,
  );
}

const hex = (t: tf.Tensor) => Buffer.from(t.dataSync().buffer).toString('hex');

for (const [xShape, channels, stride, pad] of [
  [[2, 9, 9, 3], 8, 1, 'same'],
  [[3, 7, 11, 5], 6, 1, 'valid'],
  [[2, 10, 10, 4], 7, 2, 'same'],
] as const) {
  test(`node: fused conv + bias + ReLU has tfjs' bits, ${xShape.join('x')} -> ${channels}, stride ${stride}, ${pad}`, {
    skip,
  }, async () => {
    await initBackend('node', 'train', 'test');
    assert.ok(hasNodeConvBiasRelu(), 'the fused convolution should run with the binding this project builds');
    const x = normal([...xShape], 1) as tf.Tensor4D;
    const filter = normal([3, 3, xShape[3], channels], 2, 0.5) as tf.Tensor4D;
    const bias = normal([channels], 3, 0.3) as tf.Tensor1D;
    const plain = (a: tf.Tensor4D, k: tf.Tensor4D, b: tf.Tensor1D) => tf.relu(tf.add(tf.conv2d(a, k, stride, pad), b));
    const fused = (a: tf.Tensor4D, k: tf.Tensor4D, b: tf.Tensor1D) => nodeConvBiasRelu(a, k, b, [stride, stride], pad);
    const y = plain(x, filter, bias);
    const dy = normal(y.shape, 4);
    // Some outputs are zero (the ReLU), so the gradient's mask matters.
    assert.ok(y.dataSync().some((v) => v === 0) && y.dataSync().some((v) => v > 0));
    const grads = (f: typeof plain) =>
      tf.grads((a: tf.Tensor, k: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor4D, k as tf.Tensor4D, b as tf.Tensor1D), dy)),
      )([x, filter, bias]);
    const want = grads(plain);
    let got: tf.Tensor[] = [];
    let out: tf.Tensor | undefined;
    const profile = await tf.profile(() => {
      out = tf.keep(fused(x, filter, bias));
      got = grads(fused).map((g) => tf.keep(g));
    });
    assert.ok(profile.kernelNames.includes('LockstepNodeConvBiasRelu'), profile.kernelNames.join(' '));
    assert.ok(!profile.kernelNames.includes('Conv2D'), profile.kernelNames.join(' '));
    assert.equal(hex(out!), hex(y));
    for (const [i, name] of ['input', 'filter', 'bias'].entries()) assert.equal(hex(got[i]!), hex(want[i]!), name);
  });
}

test('node: the inference plan runs a biased ReLU convolution as the fused op, same bits as model.apply', {
  skip,
}, async () => {
  await initBackend('node', 'infer', 'test');
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 5, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4, activation: 'softmax' }),
    ],
  });
  const x = normal([3, 8, 8, 3], 11) as tf.Tensor4D;
  const want = model.apply(x, { training: false }) as tf.Tensor;
  let got: tf.Tensor | undefined;
  const profile = await tf.profile(() => {
    got = tf.keep(inferenceForward(model)(x));
  });
  assert.ok(profile.kernelNames.includes('LockstepNodeConvBiasRelu'), profile.kernelNames.join(' '));
  assert.equal(hex(got!), hex(want));
});
