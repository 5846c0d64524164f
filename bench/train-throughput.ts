/**
 * Training and inference throughput of the CIFAR-10 CNNs per available backend, and a per-kernel
 * time profile on wasm.
 *
 *   node dist/bench/train-throughput.js [--model seed|bn|vgg] [--batch 128] [--steps 10]
 *        [--backends wasm,cpu,tensorflow] [--procs 2] [--threads 2] [--repeat 3] [--json] [--shipped]
 *
 * --shipped is the baseline: wasm's own kernels plus only the Conv2DBackpropFilter it lacks.
 * --procs N runs N wasm processes at once (as a sweep would) and reports their summed images/s.
 * --threads T runs wasm's threaded binary with T threads per process (default 1).
 * --repeat R repeats the timed block R times and reports the median. Input is random data of the
 * real shape (32x32x3, 10 classes); throughput does not depend on the values.
 * The cpu backend is measured with a small batch for one step only: it is very slow.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { useWasmBackend } from '../stages/lib/tf/kernels/node-wasm.js';
import { buildModel, MODEL_NAMES, trainFlopsPerImage, type ModelName } from './models.js';
import { cpuMs, KernelProfiler, type KernelStat } from './kernel-profile.js';

interface Options {
  model: ModelName;
  batch: number;
  steps: number;
  backends: string[];
  procs: number;
  threads: number;
  repeat: number;
  json: boolean;
  child: boolean;
  profile: boolean;
  shipped: boolean;
}

interface BackendResult {
  backend: string;
  batch: number;
  steps: number;
  trainImgPerSec: number;
  trainRuns: number[];
  /** Images per second of this process's CPU time: what an idle machine would give, minus cache effects. */
  trainImgPerCpuSec: number;
  inferImgPerSec: number;
  trainGflops: number;
  profile?: { stepMs: number; stepCpuMs: number; kernels: KernelStat[] };
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    model: 'seed',
    batch: 128,
    steps: 10,
    backends: ['wasm', 'cpu'],
    procs: 1,
    threads: 1,
    repeat: 3,
    json: false,
    child: false,
    profile: true,
    shipped: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--model') {
      const m = val();
      if (!(MODEL_NAMES as readonly string[]).includes(m))
        throw new Error(`--model must be one of ${MODEL_NAMES.join(', ')}`);
      o.model = m as ModelName;
    } else if (a === '--batch') o.batch = Number(val());
    else if (a === '--steps') o.steps = Number(val());
    else if (a === '--backends') o.backends = val().split(',');
    else if (a === '--procs') o.procs = Number(val());
    else if (a === '--threads') o.threads = Number(val());
    else if (a === '--repeat') o.repeat = Number(val());
    else if (a === '--json') o.json = true;
    else if (a === '--no-profile') o.profile = false;
    else if (a === '--child') o.child = true;
    else if (a === '--shipped') o.shipped = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function randomBatch(n: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  return tf.tidy(() => {
    const xs = tf.randomUniform([n, 32, 32, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const labels = tf.randomUniform([n], 0, 10, 'int32', 2) as tf.Tensor1D;
    return { xs, ys: tf.oneHot(labels, 10).toFloat() as tf.Tensor2D };
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const SHIPPED_PLUS = ['Conv2DBackpropFilter'];

async function setBackend(name: string, o: Options): Promise<boolean> {
  if (name === 'wasm') {
    await useWasmBackend({ training: true, threads: o.threads, ...(o.shipped ? { only: SHIPPED_PLUS } : {}) });
    return true;
  }
  if (name === 'tensorflow') {
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      return false;
    }
  }
  return tf.setBackend(name);
}

async function measure(backend: string, o: Options, profiler: KernelProfiler | null): Promise<BackendResult | null> {
  if (!(await setBackend(backend, o))) return null;
  const slow = backend === 'cpu';
  const batch = slow ? Math.min(o.batch, 8) : o.batch;
  const steps = slow ? 1 : o.steps;
  const repeat = slow ? 1 : o.repeat;
  const model = buildModel(o.model, { inputShape: [32, 32, 3], seed: 1 });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const { xs, ys } = randomBatch(batch);
  if (!slow) for (let i = 0; i < 2; i++) await model.trainOnBatch(xs, ys); // warm-up: XNNPACK operator creation, heap growth
  const runs: number[] = [];
  const cpuRuns: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    const c0 = cpuMs();
    for (let i = 0; i < steps; i++) await model.trainOnBatch(xs, ys);
    runs.push((batch * steps) / ((performance.now() - t0) / 1000));
    cpuRuns.push((batch * steps) / ((cpuMs() - c0) / 1000));
  }
  let profile: BackendResult['profile'];
  if (profiler !== null && backend === 'wasm') {
    profiler.reset();
    profiler.enabled = true;
    const pSteps = Math.max(2, Math.ceil(steps / 2));
    const t0 = performance.now();
    const c0 = cpuMs();
    for (let i = 0; i < pSteps; i++) await model.trainOnBatch(xs, ys);
    const stepMs = (performance.now() - t0) / pSteps;
    const stepCpuMs = (cpuMs() - c0) / pSteps;
    profiler.enabled = false;
    profile = {
      stepMs,
      stepCpuMs,
      kernels: profiler
        .top()
        .map((k) => ({ ...k, ms: k.ms / pSteps, cpuMs: k.cpuMs / pSteps, calls: k.calls / pSteps })),
    };
  }
  const inferSteps = slow ? 1 : Math.max(3, steps);
  tf.tidy(() => (model.predict(xs) as tf.Tensor).dataSync());
  const t1 = performance.now();
  for (let i = 0; i < inferSteps; i++) tf.tidy(() => (model.predict(xs) as tf.Tensor).dataSync());
  const inferImgPerSec = (batch * inferSteps) / ((performance.now() - t1) / 1000);
  const trainImgPerSec = median(runs);
  const result: BackendResult = {
    backend,
    batch,
    steps,
    trainImgPerSec,
    trainRuns: runs,
    trainImgPerCpuSec: median(cpuRuns),
    inferImgPerSec,
    trainGflops: (trainImgPerSec * trainFlopsPerImage(model)) / 1e9,
    profile,
  };
  tf.dispose([xs, ys]);
  model.dispose();
  return result;
}

async function runChildren(o: Options): Promise<Array<{ wall: number; cpu: number }>> {
  const self = fileURLToPath(import.meta.url);
  const args = [
    self,
    '--child',
    '--json',
    '--no-profile',
    '--model',
    o.model,
    '--batch',
    String(o.batch),
    '--steps',
    String(o.steps),
    '--repeat',
    String(o.repeat),
    '--threads',
    String(o.threads),
    '--backends',
    'wasm',
    ...(o.shipped ? ['--shipped'] : []),
  ];
  const runs = Array.from(
    { length: o.procs },
    () =>
      new Promise<{ wall: number; cpu: number }>((resolve, reject) => {
        const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.on('error', reject);
        p.on('close', (code) => {
          if (code !== 0) return reject(new Error(`bench child exited ${code}`));
          const res = JSON.parse(out) as BackendResult[];
          resolve({ wall: res[0]!.trainImgPerSec, cpu: res[0]!.trainImgPerCpuSec });
        });
      }),
  );
  return Promise.all(runs);
}

function render(o: Options, results: BackendResult[]): string {
  const lines = [
    `model ${o.model}, batch ${o.batch}, wasm threads ${o.threads}${o.shipped ? ', wasm kernels as shipped + Conv2DBackpropFilter' : ''}, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  ];
  for (const r of results) {
    lines.push(
      `${r.backend.padEnd(10)} train ${r.trainImgPerSec.toFixed(1).padStart(7)} img/s wall (${r.trainGflops.toFixed(1)} GFLOP/s; runs ${r.trainRuns.map((x) => x.toFixed(0)).join(', ')}; batch ${r.batch})` +
        `, ${r.trainImgPerCpuSec.toFixed(1)} img/s of CPU time; inference ${r.inferImgPerSec.toFixed(0)} img/s wall`,
    );
    if (r.profile !== undefined) {
      const total = r.profile.kernels.reduce((s, k) => s + k.cpuMs, 0);
      lines.push(
        `  profile (CPU time): ${r.profile.stepCpuMs.toFixed(1)} ms/step (wall ${r.profile.stepMs.toFixed(1)}), kernels ${total.toFixed(1)} ms, engine/JS/GC ${(r.profile.stepCpuMs - total).toFixed(1)} ms`,
      );
      for (const k of r.profile.kernels.slice(0, 20)) {
        lines.push(
          `    ${k.name.padEnd(22)} ${k.cpuMs.toFixed(2).padStart(8)} ms ${((100 * k.cpuMs) / r.profile.stepCpuMs).toFixed(1).padStart(5)}% (wall ${k.ms.toFixed(2).padStart(8)} ms)  ${k.calls} calls`,
        );
      }
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  tf.enableProdMode(); // no debug checks, no console banner on the cpu backend
  if (o.procs > 1) {
    const load = os.loadavg();
    const each = await runChildren(o);
    const total = each.reduce((a, b) => a + b.wall, 0);
    const totalCpu = each.reduce((a, b) => a + b.cpu, 0);
    const summary = {
      model: o.model,
      batch: o.batch,
      procs: o.procs,
      perProcess: each,
      totalImgPerSec: total,
      totalImgPerCpuSec: totalCpu,
      load,
    };
    console.log(
      o.json
        ? JSON.stringify(summary)
        : `${o.procs} wasm processes at once, model ${o.model}, load before ${load.map((l) => l.toFixed(2)).join(' ')}: ` +
            `${each.map((x) => x.wall.toFixed(1)).join(' + ')} = ${total.toFixed(1)} img/s training (wall); ` +
            `per CPU-second ${each.map((x) => x.cpu.toFixed(1)).join(' + ')} = ${totalCpu.toFixed(1)}`,
    );
    return;
  }
  const profiler = o.profile ? new KernelProfiler() : null;
  const results: BackendResult[] = [];
  for (const b of o.backends) {
    if (b === 'wasm' && profiler !== null) {
      await setBackend('wasm', o);
      profiler.install('wasm');
    }
    const r = await measure(b, o, profiler);
    if (r !== null) results.push(r);
  }
  console.log(o.json ? JSON.stringify(results) : render(o, results));
}

await main();
