/**
 * The evaluate stage's forward pass (stages/lib/tf/inference-plan.ts) against tf.layers' `model.apply`, in one
 * process on one batch, alternating in blocks of 5 batches so that the machine's load falls on both alike: wall
 * ms per batch (minimum, quartile, median) and the process's CPU ms per batch (all threads; the steadier figure on
 * a busy machine), and whether the two give the same bits.
 *
 *   node dist/bench/inference-ab.js [--model fast|seed|bn|vgg] [--backend node|wasm|cpu] [--batch 128] [--rounds 8]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const model = arg('model', 'fast');
const backend = arg('backend', 'node') as 'node' | 'wasm' | 'cpu';
const n = Number(arg('batch', '128'));
const rounds = Number(arg('rounds', '8'));

const tf = await import('@tensorflow/tfjs-core');
const { initBackend, describeBackend } = await import('../stages/lib/tf/backend.js');
const { inferenceForward } = await import('../stages/lib/tf/inference-plan.js');
const { fillImages } = await import('../stages/lib/tf/augment.js');
const { benchTrainer } = await import('./train-step.js');

const info = await initBackend(backend, 'infer', 'bench');
const { net, images, shape, lut } = await benchTrainer(model, n, backend);
const buf = new Float32Array(n * shape.height * shape.width * shape.channels);
fillImages(buf, images, shape, lut, null, 0, n);
const forward = inferenceForward(net);
const batch = () => tf.tensor4d(buf, [n, shape.height, shape.width, shape.channels]);
const run = (f: () => unknown) => {
  const y = tf.tidy(f as () => import('@tensorflow/tfjs-core').Tensor);
  const data = y.dataSync();
  y.dispose();
  return data;
};
const variants = {
  'model.apply': () => run(() => net.apply(batch(), { training: false })),
  'inference plan': () => run(() => forward(batch())),
};
const a = variants['model.apply']();
const b = variants['inference plan']();
const equal = a.every((v, i) => v === b[i]);
const times: Record<string, number[]> = { 'model.apply': [], 'inference plan': [] };
const cpu: Record<string, number> = { 'model.apply': 0, 'inference plan': 0 };
const names = Object.keys(variants) as (keyof typeof variants)[];
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 ? [...names].reverse() : names) {
    for (let i = 0; i < 5; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      variants[name]();
      times[name]!.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[name]! += (c.user + c.system) / 1000;
    }
  }
}
console.log(
  `${model} on ${describeBackend(info)}, batch ${n}, ${rounds} rounds of 5 batches each; outputs ` +
    `${equal ? 'bit-identical' : 'differ'}; load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
);
for (const name of names) {
  const t = [...times[name]!].sort((x, y) => x - y);
  const q = (p: number) => t[Math.floor(p * (t.length - 1))]!.toFixed(1);
  console.log(
    `${name.padEnd(15)} wall ms/batch min ${q(0)}, p25 ${q(0.25)}, median ${q(0.5)}; ` +
      `CPU ${(cpu[name]! / t.length).toFixed(1)} ms/batch`,
  );
}
