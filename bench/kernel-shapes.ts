/**
 * Which shapes the named kernels run on during a training step, and their CPU time per step:
 * the drill-down behind train-throughput's per-kernel profile.
 *
 *   node dist/bench/kernel-shapes.js [seed|bn|vgg] Kernel [Kernel …]
 *   e.g. node dist/bench/kernel-shapes.js bn Multiply Sum Mean
 */
import * as tf from '@tensorflow/tfjs';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { useWasmBackend } from '../stages/lib/tf/kernels/node-wasm.js';
import { buildModel, MODEL_NAMES, type ModelName } from './models.js';
import { cpuMs } from './kernel-profile.js';

const [modelArg = 'seed', ...names] = process.argv.slice(2);
if (!(MODEL_NAMES as readonly string[]).includes(modelArg) || names.length === 0) {
  console.error('usage: kernel-shapes.js seed|bn|vgg Kernel [Kernel …]');
  process.exit(2);
}
await useWasmBackend({ training: true });
const seen = new Map<string, { calls: number; ms: number }>();
for (const name of names) {
  const cfg = getKernel(name, 'wasm');
  if (cfg === undefined) throw new Error(`no wasm kernel '${name}'`);
  unregisterKernel(name, 'wasm');
  registerKernel({
    ...cfg,
    kernelFunc: (args) => {
      const c0 = cpuMs();
      const out = cfg.kernelFunc(args);
      const shapes = Object.values(args.inputs)
        .map((t) => (t?.shape ?? ['-']).join('x'))
        .join(' , ');
      const key = `${name} ${shapes} ${JSON.stringify(args.attrs ?? {}).slice(0, 80)}`;
      const e = seen.get(key) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += cpuMs() - c0;
      seen.set(key, e);
      return out;
    },
  });
}
const model = buildModel(modelArg as ModelName, { inputShape: [32, 32, 3] });
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
const xs = tf.randomUniform([128, 32, 32, 3]);
const ys = tf.oneHot(tf.randomUniform([128], 0, 10, 'int32') as tf.Tensor1D, 10).toFloat();
await model.trainOnBatch(xs, ys);
seen.clear();
const steps = 2;
for (let i = 0; i < steps; i++) await model.trainOnBatch(xs, ys);
for (const [k, v] of [...seen].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`${(v.ms / steps).toFixed(2).padStart(8)} ms CPU  ${String(v.calls / steps).padStart(3)} calls  ${k}`);
}
