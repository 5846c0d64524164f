/**
 * A child program for test/unit/inference-plan.test.ts: on the backend given, builds every model the train
 * stage offers with seeded weights and batch-norm statistics far from their initial values, and compares the
 * inference plan (stages/lib/tf/inference-plan.ts, what predictProbabilities runs) with `model.apply`. Prints one
 * JSON line: whether the fused batch-norm + ReLU kernel ran, and per model the largest difference, whether
 * every value was equal, whether two runs gave the same bits, and whether the plan followed a weight change.
 *   node dist/test/helpers/inference-plan-check.js <node|wasm|cpu>
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../stages/lib/tf/backend.js';
import { BatchNorm } from '../../stages/lib/tf/batch-norm-layer.js';
import { compile, inferenceForward } from '../../stages/lib/tf/inference-plan.js';
import { buildModel } from '../../stages/lib/tf/models.js';
import { hasNodeBatchNormRelu } from '../../stages/lib/tf/node-kernels.js';
import type { ModelName } from '../../stages/lib/ml/params.js';

await initBackend(process.argv[2] as 'node' | 'wasm' | 'cpu', 'infer', 'test');
let seed = 7;
const next = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
};
const values = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next());

/** Batch-norm weights away from gamma 1, beta 0, mean 0, variance 1, so that every one of them counts. */
function perturbBatchNorms(model: tfl.LayersModel): void {
  for (const layer of model.layers) {
    if (!(layer instanceof BatchNorm)) continue;
    const c = layer.getWeights()[0]!.shape[0]!;
    layer.setWeights([
      tf.tensor1d(values(c, 0.5, 1.5)),
      tf.tensor1d(values(c, -0.3, 0.3)),
      tf.tensor1d(values(c, -0.5, 0.5)),
      tf.tensor1d(values(c, 0.5, 2)),
    ]);
  }
}

function compare(model: tfl.LayersModel, x: tf.Tensor4D) {
  const forward = inferenceForward(model);
  const run = (f: () => tf.Tensor) => {
    const y = tf.tidy(f);
    const data = y.dataSync() as Float32Array;
    y.dispose();
    return data;
  };
  const reference = run(() => model.apply(x, { training: false }) as tf.Tensor);
  const plan = run(() => forward(x));
  const again = run(() => forward(x));
  let maxDiff = 0;
  let equal = reference.length === plan.length;
  for (let i = 0; i < plan.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(plan[i]! - reference[i]!));
    if (plan[i] !== reference[i]) equal = false;
  }
  const deterministic = Buffer.from(plan.buffer).equals(Buffer.from(again.buffer));
  return { maxDiff, equal, deterministic, plan, run, forward };
}

const models: Record<string, unknown> = {};
const x = tf.tensor4d(values(2 * 32 * 32 * 3, -2, 2), [2, 32, 32, 3]);
for (const name of ['tiny', 'seed', 'bn', 'vgg', 'fast', 'air'] as ModelName[]) {
  const model = buildModel(name, { height: 32, width: 32, channels: 3, classes: 10 }, 3);
  perturbBatchNorms(model);
  // air's frozen whitening convolution starts at zeros (the train stage sets it from the images)
  for (const layer of model.layers)
    if (layer.name === 'whiten') layer.setWeights([tf.tensor4d(values(2 * 2 * 3 * 24, -1, 1), [2, 2, 3, 24])]);
  const { maxDiff, equal, deterministic, plan, run, forward } = compare(model, x);
  // Training writes the variables in place: the compiled plan must see every layer's new values, not a snapshot.
  for (const layer of model.layers)
    if (layer.weights.length) layer.setWeights(layer.getWeights().map((w) => tf.mul(w, 1.25)));
  const reference = run(() => model.apply(x, { training: false }) as tf.Tensor);
  const after = run(() => forward(x));
  const followsWeights =
    !Buffer.from(after.buffer).equals(Buffer.from(plan.buffer)) &&
    after.every((v, i) => Math.abs(v - reference[i]!) <= Math.max(1e-6, maxDiff * 4));
  models[name] = { compiled: compile(model.layers) !== undefined, maxDiff, equal, deterministic, followsWeights };
}

// A layer the plan does not know (tf.layers' own batch norm) sends the whole model through model.apply.
const other = tfl.sequential({
  layers: [
    tfl.layers.conv2d({ inputShape: [32, 32, 3], filters: 4, kernelSize: 3, activation: 'relu' }),
    tfl.layers.batchNormalization(),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 10, activation: 'softmax' }),
  ],
});
const fallback = compare(other, x);
models.unknownLayer = {
  compiled: compile(other.layers) !== undefined,
  maxDiff: fallback.maxDiff,
  equal: fallback.equal,
  deterministic: fallback.deterministic,
};

console.log(JSON.stringify({ backend: tf.getBackend(), fused: hasNodeBatchNormRelu(), models }));
