/**
 * tfjs-node's training kernels (stages/lib/tf/node-kernels.ts) against what they replace: ReLU's gradient
 * through TensorFlow's ReluGrad gives the bits of tfjs' `dy · step(x)`; the BatchNorm layer's fused path
 * (FusedBatchNormV3 and its gradient) gives the closed form's outputs, gradients and batch statistics; a conv
 * layer's bias add and ReLU as one op while training (node-conv.ts) give the bits of the two ops. Skipped where
 * tfjs-node is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { availableBackends } from '../helpers/backends.js';
import { initBackend } from '../../stages/lib/tf/backend.js';
import { hasNodeBatchNorm, nodeBiasRelu } from '../../stages/lib/tf/node-kernels.js';
import { hasNodeConvBiasRelu } from '../../stages/lib/tf/node-fused-conv.js';
import { BatchNorm } from '../../stages/lib/tf/batch-norm-layer.js';
import { withNodeBiasRelu, withNodePool } from '../../stages/lib/tf/node-conv.js';
import { Mulberry32 } from '../../stages/lib/common/prng.js';

const skip = (await availableBackends()).includes('node') ? false : 'tfjs-node is not installed';

/** Values in [-2, 2) with exact zeros sprinkled in (ReLU's kink). */
function values(n: number, seed: number): Float32Array {
  const rng = new Mulberry32(seed);
  return Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : rng.next() * 4 - 2));
}

function assertClose(got: tf.Tensor, want: tf.Tensor, tol: number, what: string): void {
  const g = got.dataSync();
  const w = want.dataSync();
  assert.deepEqual(got.shape, want.shape, what);
  let worst = 0;
  for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!) / Math.max(1, Math.abs(w[i]!)));
  assert.ok(worst < tol, `${what}: off by up to ${worst}`);
}

test('node: ReLU gradient through ReluGrad has the bits of dy * step(x)', { skip }, async () => {
  await initBackend('node', 'train', 'test');
  const x = tf.tensor4d(values(2 * 5 * 5 * 3, 1), [2, 5, 5, 3]);
  const dy = tf.tensor4d(values(2 * 5 * 5 * 3, 2), [2, 5, 5, 3]);
  let got: tf.Tensor | undefined;
  const profile = await tf.profile(() => {
    got = tf.keep(tf.grads((a: tf.Tensor) => tf.relu(a))([x], dy)[0]!);
  });
  assert.ok(profile.kernelNames.includes('LockstepNodeReluGrad'), profile.kernelNames.join(' '));
  assert.ok(!profile.kernelNames.includes('Step'), profile.kernelNames.join(' '));
  const want = tf.mul(dy, tf.cast(tf.step(x), 'float32'));
  assert.deepEqual(Buffer.from(got!.dataSync().buffer), Buffer.from(want.dataSync().buffer));
});

/** The closed form of batch normalisation, differentiated by tfjs' tape. */
function referenceBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon))), gamma), beta);
}

for (const shape of [
  [4, 6, 6, 5],
  [16, 7],
]) {
  test(`node: BatchNorm's fused path matches the closed form on a ${shape.length}-D input`, { skip }, async () => {
    await initBackend('node', 'train', 'test');
    assert.ok(hasNodeBatchNorm());
    const channels = shape.at(-1)!;
    const size = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(values(size, 3), shape);
    const dy = tf.tensor(values(size, 4), shape);
    const layer = new BatchNorm({ momentum: 0.9, epsilon: 1e-3 });
    layer.build(shape);
    const [gamma, beta, movingMean, movingVariance] = layer.weights;
    gamma!.write(tf.tensor1d(values(channels, 5)));
    beta!.write(tf.tensor1d(values(channels, 6)));
    const g = gamma!.read() as unknown as tf.Variable;
    const b = beta!.read() as unknown as tf.Variable;
    const xv = tf.variable(x);

    const y = layer.apply(x, { training: true }) as tf.Tensor;
    assertClose(y, referenceBatchNorm(x, g, b, 1e-3), 1e-5, 'output');
    const loss = (f: () => tf.Tensor) => () => tf.sum(tf.mul(f(), dy)) as tf.Scalar;
    const fused = tf.variableGrads(
      loss(() => layer.apply(xv, { training: true }) as tf.Tensor),
      [xv, g, b],
    ).grads;
    const ref = tf.variableGrads(
      loss(() => referenceBatchNorm(xv, g, b, 1e-3)),
      [xv, g, b],
    ).grads;
    for (const [v, what] of [
      [xv, 'dx'],
      [g, 'dgamma'],
      [b, 'dbeta'],
    ] as const)
      assertClose(fused[v.name]!, ref[v.name]!, 1e-4, what);

    // No tensor outlives a training step (the batch statistics are disposed once folded in).
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.variableGrads(
        loss(() => layer.apply(xv, { training: true }) as tf.Tensor),
        [xv, g, b],
      );
    });
    assert.equal(tf.memory().numTensors, before);

    // Three training calls: the moving averages took the batch mean and the biased variance three times.
    const { mean, variance } = tf.moments(
      x,
      shape.slice(0, -1).map((_, i) => i),
    );
    const after = (start: number, batch: tf.Tensor) =>
      [0, 1, 2].reduce((m: tf.Tensor | number, _) => tf.add(tf.mul(m, 0.9), tf.mul(batch, 0.1)), start) as tf.Tensor;
    assertClose(movingMean!.read(), after(0, mean), 1e-5, 'moving mean');
    assertClose(movingVariance!.read(), after(1, variance), 1e-5, 'moving variance');
  });
}

test('node: a conv layer with bias and ReLU trains through one fused op with the bits of Add then Relu', {
  skip,
}, async () => {
  await initBackend('node', 'train', 'test');
  const make = () =>
    tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', useBias: true });
  const plain = make();
  const fused = withNodeBiasRelu(make());
  const shape = [2, 6, 6, 3];
  plain.build(shape);
  fused.build(shape);
  const kernel = tf.tensor4d(values(3 * 3 * 3 * 4, 7), [3, 3, 3, 4]);
  // Biases that push some sums to exactly zero and below (ReLU's kink).
  const bias = tf.tensor1d([0, 0.5, -0.5, -3]);
  for (const layer of [plain, fused]) layer.setWeights([kernel, bias]);
  const x = tf.variable(tf.tensor4d(values(2 * 6 * 6 * 3, 8), shape as [number, number, number, number]));
  const dy = tf.tensor4d(values(2 * 6 * 6 * 4, 9), [2, 6, 6, 4]);
  const run = (layer: tfl.layers.Layer) => {
    const vars = [x, ...layer.trainableWeights.map((w) => w.read() as unknown as tf.Variable)];
    let out: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      out = tf.keep(layer.apply(x, { training: true }) as tf.Tensor);
      return tf.sum(tf.mul(out, dy)) as tf.Scalar;
    }, vars);
    return [out!, ...vars.map((v) => grads[v.name]!)];
  };
  const bytes = (ts: tf.Tensor[]) => ts.map((t) => Buffer.from(t.dataSync().buffer).toString('hex'));
  let got: tf.Tensor[] = [];
  const profile = await tf.profile(() => {
    got = run(fused);
  });
  // oneDNN's fused convolution where the binding passes its attributes (node-fused-conv.ts), else the convolution
  // then the batch norm + ReLU op standing in for the bias add and ReLU (tested alone below).
  const op = hasNodeConvBiasRelu() ? 'LockstepNodeConvBiasRelu' : 'LockstepNodeFusedBatchNormRelu';
  assert.ok(profile.kernelNames.includes(op), profile.kernelNames.join(' '));
  assert.ok(
    !profile.kernelNames.includes('Relu') && !profile.kernelNames.includes('Add'),
    profile.kernelNames.join(' '),
  );
  const want = run(plain);
  assert.deepEqual(bytes(got), bytes(want));
  assert.ok(got[0]!.dataSync().some((v) => v === 0) && got[0]!.dataSync().some((v) => v > 0));
  // At inference the layer runs as before.
  assert.deepEqual(bytes([fused.apply(x) as tf.Tensor]), bytes([plain.apply(x) as tf.Tensor]));
});

test('node: nodeBiasRelu (batch norm + ReLU as the bias add and ReLU) has the bits of Add then Relu', {
  skip,
}, async () => {
  await initBackend('node', 'train', 'test');
  const z = tf.variable(tf.tensor4d(values(2 * 5 * 5 * 4, 14), [2, 5, 5, 4]));
  // Biases that push some sums to exactly zero and below (ReLU's kink).
  const bias = tf.variable(tf.tensor1d([0, 0.5, -0.5, -3]));
  const dy = tf.tensor4d(values(2 * 5 * 5 * 4, 15), [2, 5, 5, 4]);
  const run = (f: (a: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor) => {
    let out: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      out = tf.keep(f(z as tf.Tensor as tf.Tensor4D, bias as tf.Tensor as tf.Tensor1D));
      return tf.sum(tf.mul(out, dy)) as tf.Scalar;
    }, [z, bias]);
    return [out!, grads[z.name]!, grads[bias.name]!].map((t) => Buffer.from(t.dataSync().buffer).toString('hex'));
  };
  let got: string[] = [];
  const profile = await tf.profile(() => {
    got = run(nodeBiasRelu);
  });
  assert.ok(profile.kernelNames.includes('LockstepNodeFusedBatchNormRelu'), profile.kernelNames.join(' '));
  assert.deepEqual(
    got,
    run((a, b) => tf.relu(tf.add(a, b))),
  );
});

test('node: a max-pool after the fused conv masks its gradient at the pooled size, same values', { skip }, async () => {
  await initBackend('node', 'train', 'test');
  const make = (fused: boolean) => {
    const conv = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', useBias: true });
    const pool = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 });
    return fused ? [withNodeBiasRelu(conv), withNodePool(pool)] : [conv, pool];
  };
  const shape: [number, number, number, number] = [2, 8, 8, 3];
  const kernel = tf.tensor4d(values(3 * 3 * 3 * 4, 11), [3, 3, 3, 4]);
  // One channel's bias pushes whole windows to zero (the pooled ReLU output is 0 there), one keeps all positive.
  const bias = tf.tensor1d([0, 0.5, -0.5, -3]);
  const x = tf.variable(tf.tensor4d(values(2 * 8 * 8 * 3, 12), shape));
  const dp = tf.tensor4d(values(2 * 4 * 4 * 4, 13), [2, 4, 4, 4]);
  const run = (fused: boolean) => {
    const [conv, pool] = make(fused);
    conv!.build(shape);
    conv!.setWeights([kernel, bias]);
    const vars = [x, ...conv!.trainableWeights.map((w) => w.read() as unknown as tf.Variable)];
    let out: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      const y = conv!.apply(x, { training: true }) as tf.Tensor;
      out = tf.keep(pool!.apply(y, { training: true }) as tf.Tensor);
      return tf.sum(tf.mul(out, dp)) as tf.Scalar;
    }, vars);
    return [out!, ...vars.map((v) => grads[v.name]!)];
  };
  let got: tf.Tensor[] = [];
  const profile = await tf.profile(() => {
    got = run(true);
  });
  // The ReLU's gradient ran once, at the pooled size, not on the convolution's output.
  const reluGrads = profile.kernels.filter((k) => k.name === 'LockstepNodeReluGrad');
  assert.deepEqual(
    reluGrads.map((k) => k.inputShapes[0]),
    [[2, 4, 4, 4]],
  );
  const want = run(false);
  const pooled = want[0]!.dataSync();
  assert.ok(pooled.some((v) => v === 0) && pooled.some((v) => v > 0));
  // The same values (here to the sign of every zero, though in principle a zero's sign could differ).
  for (const [i, t] of got.entries())
    assert.deepEqual(Array.from(t.dataSync()), Array.from(want[i]!.dataSync()), `tensor ${i}`);
});
