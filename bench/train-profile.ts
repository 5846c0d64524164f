/**
 * Where a training step of the train stage's model goes, kernel by kernel, on one backend: the step of
 * bench/train-compare.ts (stages/lib/tf/train-loop.ts trainStep on augmented batches, Adam, seeded dropout).
 *
 *   node dist/bench/train-profile.js [--model seed|fast|bn] [--backend node|wasm|cpu] [--batch 128]
 *        [--threads 2] [--steps 10] [--top 30] [--eager]
 *
 * Prints images/s and the main thread's CPU ms per step over `steps` steps (CPU time is the steadier figure on
 * a loaded machine), then tf.profile of two steps: kernel ms and call count by kernel and input shapes. On a
 * busy machine the per-kernel times swing; compare kernels within one run, not across runs. On tfjs-node the step
 * runs as one TensorFlow graph (stages/lib/tf/graph/), which tf.profile does not see into (it lists only the
 * step's JavaScript-side kernels: the batch and mask tensors); `--eager` profiles the op-by-op step
 * (train.run_eagerly: true) instead.
 */
import { performance } from 'node:perf_hooks';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const model = arg('model', 'seed');
const backend = arg('backend', 'node') as 'node' | 'wasm' | 'cpu';
const n = Number(arg('batch', '128'));
const threads = arg('threads', '2');
const steps = Number(arg('steps', '10'));
const top = Number(arg('top', '30'));
process.env.LOCKSTEP_WASM_THREADS = threads;
process.env.TF_NUM_INTRAOP_THREADS = threads;
process.env.TF_NUM_INTEROP_THREADS = threads;

const tf = await import('@tensorflow/tfjs-core');
const { initBackend, describeBackend } = await import('../stages/lib/tf/backend.js');
const { benchTrainer } = await import('./train-step.js');

const info = await initBackend(backend, 'train', 'bench');
const { oneStep } = await benchTrainer(model, n, backend, process.argv.includes('--eager'));

const t0 = performance.now();
const c0 = process.cpuUsage();
for (let i = 0; i < steps; i++) oneStep();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
console.log(
  `${model} on ${describeBackend(info)}, batch ${n}: ${((n * steps) / (ms / 1000)).toFixed(0)} img/s, ` +
    `${(ms / steps).toFixed(1)} ms/step wall, ${((cpu.user + cpu.system) / 1000 / steps).toFixed(1)} ms/step CPU ` +
    `(all threads of this process), load ${(await import('node:os')).loadavg()[0]!.toFixed(2)}`,
);

const profile = await tf.profile(() => {
  oneStep();
  oneStep();
});
const byKernel = new Map<string, { ms: number; count: number }>();
for (const k of profile.kernels) {
  const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
  const e = byKernel.get(key) ?? { ms: 0, count: 0 };
  e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  e.count++;
  byKernel.set(key, e);
}
// Kernels that call other kernels (tfjs-node's composite ones) count their children's time too.
console.log(
  `${profile.kernels.length} kernel calls in 2 steps; the ${top} costliest (ms, calls, kernel and input shapes):`,
);
for (const [k, v] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, top))
  console.log(`${v.ms.toFixed(1).padStart(8)} ${String(v.count).padStart(4)}  ${k}`);
