/**
 * oneDNN's max-pooling with its workspace (stages/lib/tf/node-pool.ts) against tfjs' `MaxPool` and `MaxPoolGrad`
 * on tfjs-node: the same output and gradient bits, windows full of ties included, at even and odd sizes and both
 * paddings; and a pooling layer wrapped by withNodePool trains through it. Skipped where tfjs-node is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { availableBackends } from '../helpers/backends.js';
import { initBackend } from '../../stages/lib/tf/backend.js';
import { hasNodeMaxPool, nodeMaxPool } from '../../stages/lib/tf/node-pool.js';
import { withNodePool } from '../../stages/lib/tf/node-conv.js';
import { Mulberry32 } from '../../stages/lib/common/prng.js';

const skip = (await availableBackends()).includes('node') ? false : 'tfjs-node is not installed';

/** Small integers from -2 to 2: most windows hold ties, some only equal values. */
function tied(shape: number[], seed: number): tf.Tensor4D {
  const rng = new Mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Float32Array.from({ length: n }, () => Math.floor(rng.next() * 5) - 2);
  return tf.tensor4d(v, shape as [number, number, number, number]);
}

const hex = (t: tf.Tensor) => Buffer.from(t.dataSync().buffer).toString('hex');

for (const [shape, pad] of [
  [[2, 8, 8, 3], 'valid'],
  [[2, 7, 9, 4], 'valid'],
  [[2, 7, 9, 4], 'same'],
  [[3, 31, 31, 16], 'valid'],
] as const) {
  test(`node: oneDNN max-pool with workspace has tfjs' bits, ${shape.join('x')} ${pad}`, { skip }, async () => {
    await initBackend('node', 'train', 'test');
    assert.ok(hasNodeMaxPool(), 'oneDNN pooling should run on tfjs-node with oneDNN on');
    const x = tied([...shape], shape[1] * 7 + shape[3]);
    const p = tf.maxPool(x, 2, 2, pad);
    const dp = tied(p.shape, 99);
    const want = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, pad), dp)))(x);
    let y: tf.Tensor | undefined;
    let got: tf.Tensor | undefined;
    const profile = await tf.profile(() => {
      got = tf.keep(
        tf.grad((a: tf.Tensor) => {
          const out = nodeMaxPool(a as tf.Tensor4D, [2, 2], [2, 2], pad);
          y = tf.keep(out.clone());
          return tf.sum(tf.mul(out, dp));
        })(x),
      );
    });
    const names = profile.kernelNames;
    assert.ok(names.includes('LockstepNodeMaxPoolGrad'), names.join(' '));
    assert.ok(!names.includes('MaxPoolGrad') && !names.includes('MaxPool'), names.join(' '));
    assert.equal(hex(y!), hex(p));
    assert.equal(hex(got!), hex(want));
    // The gradient reached one cell per window, though most windows hold ties.
    const nonzero = got!.dataSync().filter((v) => v !== 0).length;
    assert.ok(nonzero > 0 && nonzero <= p.size, `${nonzero} gradient cells for ${p.size} windows`);
  });
}

test('node: a pooling layer wrapped by withNodePool trains through oneDNN with the plain layer bits', {
  skip,
}, async () => {
  await initBackend('node', 'train', 'test');
  const plain = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 });
  const wrapped = withNodePool(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  const x = tf.variable(tied([2, 6, 6, 5], 5));
  const dp = tied([2, 3, 3, 5], 6);
  const run = (layer: tfl.layers.Layer) => {
    let out: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      out = tf.keep(layer.apply(x, { training: true }) as tf.Tensor);
      return tf.sum(tf.mul(out, dp)) as tf.Scalar;
    }, [x]);
    return [out!, grads[x.name]!];
  };
  let got: tf.Tensor[] = [];
  const profile = await tf.profile(() => {
    got = run(wrapped);
  });
  assert.ok(profile.kernelNames.includes('LockstepNodeMaxPool'), profile.kernelNames.join(' '));
  const want = run(plain);
  assert.deepEqual(got.map(hex), want.map(hex));
  // At inference the layer runs as before.
  const inferred = await tf.profile(() => void tf.dispose(wrapped.apply(x) as tf.Tensor));
  assert.ok(inferred.kernelNames.includes('MaxPool'), inferred.kernelNames.join(' '));
});
