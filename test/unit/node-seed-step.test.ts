/**
 * The seed model's training step on tfjs-node with its fused paths (node-conv.ts: bias + ReLU as one op, the
 * max-pool gradient masked at the pooled size; node-adam.ts) against the same model with plain tf.layers calls
 * and the same optimizer: the same weights after three steps of the train stage's trainStep (seeded dropout,
 * cross-entropy), and the same bytes from two fresh runs. Skipped where tfjs-node is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { availableBackends } from '../helpers/backends.js';
import { initBackend } from '../../stages/lib/tf/backend.js';
import { hasNodeConvBiasRelu } from '../../stages/lib/tf/node-fused-conv.js';
import { buildModel, setDropoutStep } from '../../stages/lib/tf/models.js';
import { makeOptimizer } from '../../stages/lib/tf/optimizer.js';
import { trainStep } from '../../stages/lib/tf/train-loop.js';
import { Mulberry32 } from '../../stages/lib/common/prng.js';

const skip = (await availableBackends()).includes('node') ? false : 'tfjs-node is not installed';

const SHAPE = { height: 16, width: 16, channels: 3 };
/** Op by op (the graph step has its own test, train-graph.test.ts). */
const EAGER_ADAM = {
  optimizer: 'adam',
  momentum: 0.9,
  run_eagerly: true,
  weight_decay: 0,
  bn_frozen_scale: false,
  bn_bias_lr_scale: 1,
} as const;
const N = 8;

/** Three training steps of a fresh seed model; `plain` undoes the fused calls (the layers' own `call`). */
async function train(plain: boolean): Promise<{ weights: string[]; kernels: string[] }> {
  const model: tfl.LayersModel = buildModel('seed', { ...SHAPE, classes: 10 }, 3);
  if (plain) for (const layer of model.layers) delete (layer as { call?: unknown }).call;
  const { optimizer } = await makeOptimizer({ ...EAGER_ADAM, lr: 0.01 }, { name: 'node' }, model);
  const variables = model.trainableWeights.map((w) => w.read() as unknown as tf.Variable);
  const rng = new Mulberry32(9);
  const size = SHAPE.height * SHAPE.width * SHAPE.channels;
  let kernels: string[] = [];
  for (let step = 0; step < 3; step++) {
    const x = Float32Array.from({ length: N * size }, () => rng.next() * 2 - 1);
    const y = new Float32Array(N * 10);
    for (let i = 0; i < N; i++) y[i * 10 + rng.int(10)] = 1;
    setDropoutStep(model, step);
    const profile = await tf.profile(() => void trainStep(model, optimizer, variables, [], 0, x, y, N, SHAPE, 10));
    if (step === 0) kernels = profile.kernels.map((k) => k.name);
  }
  const weights = model.weights.map((w) =>
    Buffer.from((w.read() as unknown as tf.Tensor).dataSync().buffer).toString('hex'),
  );
  optimizer.dispose();
  return { weights, kernels };
}

test('node: the seed model trains to the same weights with its fused paths as with plain layers', {
  skip,
}, async () => {
  await initBackend('node', 'train', 'test');
  const fused = await train(false);
  // oneDNN's fused convolution where the binding passes its attributes, else conv + batch norm + ReLU.
  const op = hasNodeConvBiasRelu() ? 'LockstepNodeConvBiasRelu' : 'LockstepNodeFusedBatchNormRelu';
  assert.ok(fused.kernels.includes(op), fused.kernels.join(' '));
  const relus = (k: string[]) => k.filter((name) => name === 'Relu').length;
  // The dense layer's ReLU stays; the three convolutions' are fused.
  assert.equal(relus(fused.kernels), 1);
  assert.deepEqual((await train(false)).weights, fused.weights);
  const plain = await train(true);
  assert.equal(relus(plain.kernels), 4);
  assert.deepEqual(plain.weights, fused.weights);
});
