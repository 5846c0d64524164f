/**
 * Whole training steps on wasm with the lockstep kernels: the same loss and gradients as the cpu
 * backend for every CNN the train stage offers, and no tensor or wasm-heap growth across steps.
 * Inputs are 12x12 so the cpu reference stays fast; the layers and kernels are the real models'.
 * Gradients are compared at 1e-4 relative to each tensor's scale: every weight gradient is a sum
 * over the batch and all pixels, accumulated in float32 by XNNPACK and in float64 by the cpu backend.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { useWasmBackend } from '../../stages/lib/tf/kernels/node-wasm.js';
import { buildModel, type ModelName } from '../../bench/models.js';

const INPUT: [number, number, number] = [12, 12, 3];
const BATCH = 4;

function batch(seed: number): { x: Float32Array; y: Float32Array } {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const x = Float32Array.from({ length: BATCH * INPUT[0] * INPUT[1] * INPUT[2] }, () => next() * 2 - 1);
  const y = new Float32Array(BATCH * 10);
  for (let i = 0; i < BATCH; i++) y[i * 10 + Math.floor(next() * 10)] = 1;
  return { x, y };
}

interface StepResult {
  loss: number;
  grads: Map<string, Float32Array>;
}

async function trainingStep(backend: 'cpu' | 'wasm', name: ModelName): Promise<StepResult> {
  await tf.setBackend(backend);
  const model = buildModel(name, { inputShape: INPUT, seed: 3 });
  const { x, y } = batch(7);
  const xs = tf.tensor4d(x, [BATCH, ...INPUT]);
  const ys = tf.tensor2d(y, [BATCH, 10]);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const p = model.apply(xs, { training: true }) as tf.Tensor;
    return tf.mean(tf.metrics.categoricalCrossentropy(ys, p)) as tf.Scalar;
  }, vars);
  const out: StepResult = { loss: value.dataSync()[0]!, grads: new Map() };
  model.trainableWeights.forEach((w, i) => {
    out.grads.set(`${i}:${w.shape.join('x')}`, grads[vars[i]!.name]!.dataSync() as Float32Array);
  });
  tf.dispose([xs, ys, value, ...Object.values(grads)]);
  model.dispose();
  return out;
}

function relErr(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return Number.isNaN(diff) ? Infinity : scale === 0 ? diff : diff / scale;
}

before(async () => {
  // Production mode only silences tfjs' console banner about tfjs-node; kernels run the same.
  tf.enableProdMode();
  await useWasmBackend({ training: true });
});

for (const name of ['seed', 'bn', 'vgg', 'fast'] as const) {
  test(`${name} model: a training step on wasm matches the cpu backend`, async () => {
    const want = await trainingStep('cpu', name);
    const got = await trainingStep('wasm', name);
    assert.ok(Math.abs(got.loss - want.loss) / Math.abs(want.loss) <= 1e-5, `loss ${got.loss} vs ${want.loss}`);
    assert.deepEqual([...got.grads.keys()], [...want.grads.keys()]);
    for (const [key, g] of want.grads) {
      const err = relErr(got.grads.get(key)!, g);
      assert.ok(err <= 1e-4, `${name} gradient ${key}: relative error ${err}`);
    }
  });
}

test('model.fit trains on wasm without leaking tensors or growing the heap', async () => {
  await tf.setBackend('wasm');
  const backend = tf.backend() as tf.KernelBackend & { wasm: { HEAPU8: Uint8Array }; numDataIds(): number };
  const model = buildModel('seed', { inputShape: INPUT, seed: 5 });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const { x, y } = batch(11);
  const xs = tf.tensor4d(x, [BATCH, ...INPUT]);
  const ys = tf.tensor2d(y, [BATCH, 10]);
  const losses: number[] = [];
  const snapshot = () => ({
    tensors: tf.memory().numTensors,
    dataIds: backend.numDataIds(),
    heap: backend.wasm.HEAPU8.length,
  });
  let warm = snapshot();
  for (let step = 0; step < 8; step++) {
    const loss = await model.trainOnBatch(xs, ys);
    losses.push(loss as number);
    if (step === 2) warm = snapshot();
  }
  const end = snapshot();
  assert.deepEqual(end, warm, 'tensors, wasm data ids and heap size are flat after warm-up');
  // Eight Adam steps on one batch must fit it better than the first step did.
  assert.ok(losses.at(-1)! < losses[0]!, `loss went from ${losses[0]} to ${losses.at(-1)}`);
  tf.dispose([xs, ys]);
  model.dispose();
});
