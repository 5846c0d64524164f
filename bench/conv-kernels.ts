/**
 * Micro-benchmark of the conv kernels on the models' layer shapes (CPU time per call and GFLOP/s).
 *
 *   node dist/bench/conv-kernels.js [--model seed|vgg|fast] [--kernel Conv2D|Conv2DBackpropFilter|Conv2DBackpropInput] [--batch 128] [--threads 1]
 *
 * Wall time is the figure with --threads > 1 (CPU time then sums the threads).
 */
import * as tf from '@tensorflow/tfjs';
import { useWasmBackend } from '../stages/lib/tf/kernels/node-wasm.js';
import { cpuMs } from './kernel-profile.js';
import { setKernelTuning } from '../stages/lib/tf/kernels/tuning.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const model = opt('--model', 'seed');
const kernels = opt('--kernel', 'Conv2D,Conv2DBackpropFilter,Conv2DBackpropInput').split(',');
const n = Number(opt('--batch', '128'));
// [size, in channels, out channels] of each 3x3 'same' conv of the model (stages/lib/tf/models.ts)
const LAYERS: Record<string, Array<[number, number, number]>> = {
  seed: [
    [32, 3, 32],
    [16, 32, 64],
    [8, 64, 128],
  ],
  vgg: [
    [32, 3, 32],
    [32, 32, 32],
    [16, 32, 64],
    [16, 64, 64],
    [8, 64, 128],
    [8, 128, 128],
  ],
  fast: [
    [32, 3, 24],
    [32, 24, 32],
    [16, 32, 32],
    [16, 32, 64],
    [8, 64, 64],
    [8, 64, 128],
    [4, 128, 128],
  ],
};
const layers = LAYERS[model] ?? LAYERS.seed!;

const threads = await useWasmBackend({ training: true, threads: Number(opt('--threads', '1')) });
console.log(`wasm, ${threads} thread(s), batch ${n}`);
if (args.includes('--grid-chunk')) setKernelTuning({ gridDyChunk: Number(opt('--grid-chunk', '0')) });
if (args.includes('--im2col-chunk')) setKernelTuning({ im2colDyChunk: Number(opt('--im2col-chunk', '0')) });
for (const kernel of kernels) {
  for (const [hw, ci, co] of layers) {
    const x = tf.randomUniform([n, hw, hw, ci]);
    const dy = tf.randomUniform([n, hw, hw, co]);
    const f = tf.randomUniform([3, 3, ci, co]);
    const run = (): tf.Tensor => {
      if (kernel === 'Conv2D') return tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same');
      if (kernel === 'Conv2DBackpropFilter') {
        return tf
          .engine()
          .runKernel(
            kernel,
            { x, dy },
            { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, ci, co] },
          ) as tf.Tensor;
      }
      return tf
        .engine()
        .runKernel(
          kernel,
          { dy, filter: f },
          { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [n, hw, hw, ci] },
        ) as tf.Tensor;
    };
    run().dispose();
    const reps = Number(opt('--reps', '5'));
    let ms = Infinity;
    let wall = Infinity;
    for (let i = 0; i < reps; i++) {
      const c0 = cpuMs();
      const t0 = performance.now();
      run().dispose();
      wall = Math.min(wall, performance.now() - t0);
      ms = Math.min(ms, cpuMs() - c0);
    }
    const gflop = (2 * n * hw * hw * 9 * ci * co) / 1e9;
    console.log(
      `${kernel.padEnd(22)} ${n}x${hw}x${hw}x${ci} -> ${co}: ${ms.toFixed(1).padStart(7)} ms CPU ${wall.toFixed(1).padStart(7)} ms wall  ${((gflop / wall) * 1000).toFixed(1).padStart(5)} GFLOP/s (wall)`,
    );
    tf.dispose([x, dy, f]);
  }
}
