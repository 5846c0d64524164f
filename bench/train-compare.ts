/**
 * lockstep's training and inference throughput beside TensorFlow/Keras and PyTorch on CPU, in one run:
 * the same networks (the train stage's `seed` and `fast` models), the same batch and thread count, contenders
 * in alternating order round by round, medians over rounds and the load average; beside images/s, the CPU time a
 * batch took (all threads of the process), the steadier figure on a busy machine.
 *
 *   node dist/bench/train-compare.js [--models seed,fast] [--contenders node,node-eager,wasm,keras,torch] [--batch 128]
 *        [--threads 2] [--steps 10] [--repeat 3] [--rounds 3] [--venv /work/venv-bench]
 *
 * lockstep runs the train stage's own step (stages/lib/tf/train-loop.ts trainStep, fed by fillImages with the
 * stage's crop+flip augmentation from uint8 images, seeded dropout), on tfjs-node as one TensorFlow graph a step
 * (node, the default: stages/lib/tf/graph/) or op by op (node-eager: train.run_eagerly) or on wasm; inference is
 * the evaluate stage's: predictProbabilities (its inference plan) one batch a call on wasm; on tfjs-node, as the
 * stage runs it, `steps` batches a call split among worker threads (stages/lib/tf/predict-workers.ts: with 2
 * threads, two workers of one thread each, in a process of their own, started before the clock); `steps` batches
 * timed `repeat` times. Keras and PyTorch run bench/frameworks_throughput.py (inference: predict_on_batch, one
 * batch a call, on `threads` threads) in a venv this script makes on first use (pip install tensorflow-cpu torch).
 * Each contender runs in its own process per round.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median } from './lib.js';

/** node: the training step as one TensorFlow graph (the default); node-eager: op by op (train.run_eagerly). */
type Contender = 'node' | 'node-eager' | 'wasm' | 'keras' | 'torch';
interface Figures {
  version?: string;
  train: number[];
  infer: number[];
  /** CPU ms per batch (all threads of the process), per repeat. */
  train_cpu: number[];
  infer_cpu: number[];
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE_BENCH = path.resolve(HERE, '../../bench');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const opts = {
  models: arg('models', 'seed,fast').split(','),
  contenders: arg('contenders', 'node,wasm,keras,torch').split(',') as Contender[],
  batch: Number(arg('batch', '128')),
  threads: Number(arg('threads', '2')),
  steps: Number(arg('steps', '10')),
  repeat: Number(arg('repeat', '3')),
  rounds: Number(arg('rounds', '3')),
  venv: arg('venv', '/work/venv-bench'),
};

/** `steps` calls of `f` (or one call doing `steps` batches), `repeat` times: images/s and CPU ms a batch. */
async function timed(f: () => unknown, calls: number): Promise<readonly [number[], number[]]> {
  const rates: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < opts.repeat; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await f();
    rates.push((opts.batch * opts.steps) / ((performance.now() - t0) / 1000));
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000 / opts.steps);
  }
  return [rates, cpu] as const;
}

/**
 * One lockstep measurement in this process (child mode): backend, model, then timed stage steps. `part` infer on
 * node: the evaluate stage's worker threads, whose thread setting must precede tfjs-node's load in the process.
 */
async function child(
  contender: 'node' | 'node-eager' | 'wasm',
  model: string,
  part: 'all' | 'infer',
): Promise<Figures> {
  const backend = contender === 'wasm' ? 'wasm' : 'node';
  const threads = String(opts.threads);
  process.env.LOCKSTEP_WASM_THREADS = threads;
  if (part === 'infer') {
    const { planInferenceWorkers, useWorkerThreads } = await import('../stages/lib/tf/predict-workers.js');
    useWorkerThreads(planInferenceWorkers(opts.steps, process.env, opts.threads));
  }
  process.env.TF_NUM_INTRAOP_THREADS ??= threads;
  process.env.TF_NUM_INTEROP_THREADS ??= threads;
  const tf = await import('@tensorflow/tfjs-core');
  const { initBackend, describeBackend } = await import('../stages/lib/tf/backend.js');
  const info = await initBackend(backend, part === 'all' ? 'train' : 'infer', 'bench');
  const version = `tfjs ${tf.version_core} ${describeBackend(info)}`;
  if (part === 'infer') return { version, train: [], train_cpu: [], ...(await workerInference(model)) };
  const { predictProbabilities } = await import('../stages/lib/tf/predict.js');
  const { benchTrainer } = await import('./train-step.js');
  const n = opts.batch;
  const { net, images, shape, lut, classes, oneStep } = await benchTrainer(
    model,
    n,
    backend,
    contender === 'node-eager',
  );
  const [train, trainCpu] = await timed(oneStep, opts.steps);
  // The evaluate stage's inference in its process (stages/lib/tf/predict.ts: the inference plan), a batch a call.
  const inferOnce = () => void predictProbabilities(net, images, n, shape, lut, classes, n);
  inferOnce();
  const [infer, inferCpu] = await timed(inferOnce, opts.steps);
  return { version, train, infer, train_cpu: trainCpu, infer_cpu: inferCpu };
}

/** The evaluate stage's inference on tfjs-node: `steps` batches a call, split among its worker threads. */
async function workerInference(model: string): Promise<Pick<Figures, 'infer' | 'infer_cpu' | 'version'>> {
  const { buildModel } = await import('../stages/lib/tf/models.js');
  const { saveModelDir } = await import('../stages/lib/tf/model-io.js');
  const { normalizationTable } = await import('../stages/lib/tf/augment.js');
  const { InferencePool, planInferenceWorkers } = await import('../stages/lib/tf/predict-workers.js');
  const { Mulberry32 } = await import('../stages/lib/common/prng.js');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const shape = { height: 32, width: 32, channels: 3 };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lockstep-bench-model-'));
  try {
    await saveModelDir(buildModel(model as never, { ...shape, classes: 10 }, 1), path.join(dir, 'model'));
    const lut = normalizationTable({ mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26] });
    const plan = planInferenceWorkers(opts.steps, process.env, opts.threads);
    const spec = { modelDir: path.join(dir, 'model'), shape, lut, classes: 10, param: 'bench' };
    const pool = await InferencePool.start(spec, plan.workers);
    try {
      const count = opts.batch * opts.steps;
      const rng = new Mulberry32(1);
      const images = Uint8Array.from({ length: count * 32 * 32 * 3 }, () => rng.int(256));
      const job = { images, count, batchSize: opts.batch, tta: 'none' as const };
      await pool.predict(job);
      const [infer, inferCpu] = await timed(() => pool.predict(job), 1);
      return { infer, infer_cpu: inferCpu, version: `${plan.workers} workers x ${plan.threads} thread(s)` };
    } finally {
      await pool.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function ensureVenv(): string {
  const python = path.join(opts.venv, 'bin', 'python');
  if (!existsSync(python)) {
    process.stderr.write(`making ${opts.venv} (pip install tensorflow-cpu torch)...\n`);
    execFileSync('python3', ['-m', 'venv', opts.venv], { stdio: 'inherit' });
  }
  // Only what the chosen contenders need; PyPI's torch is the CUDA build (its CUDA libraries load on CPU too).
  const wanted = opts.contenders.flatMap((c) => (c === 'keras' ? ['tensorflow'] : c === 'torch' ? ['torch'] : []));
  const missing = wanted.filter((m) => spawnSync(python, ['-c', `import ${m}`], { stdio: 'ignore' }).status !== 0);
  const pkgs = missing.map((m) => (m === 'tensorflow' ? 'tensorflow-cpu' : 'torch'));
  if (pkgs.length) execFileSync(path.join(opts.venv, 'bin', 'pip'), ['install', '-q', ...pkgs], { stdio: 'inherit' });
  return python;
}

function runContender(c: Contender, model: string, python: string): Figures {
  if (c !== 'node') return runChild(c, model, python, 'all');
  // tfjs-node infers in a process of its own: its thread setting differs from training's.
  const trained = runChild(c, model, python, 'all');
  const inferred = runChild(c, model, python, 'infer');
  return {
    ...trained,
    infer: inferred.infer,
    infer_cpu: inferred.infer_cpu,
    version: `${trained.version}; ${inferred.version}`,
  };
}

function runChild(c: Contender, model: string, python: string, part: 'all' | 'infer'): Figures {
  const common = ['--batch', String(opts.batch), '--threads', String(opts.threads), '--steps', String(opts.steps)];
  const more = ['--repeat', String(opts.repeat)];
  const self = [fileURLToPath(import.meta.url), '--child', c, '--model', model, '--part', part];
  const [cmd, args] =
    c === 'node' || c === 'node-eager' || c === 'wasm'
      ? [process.execPath, [...self, ...common, ...more]]
      : [
          python,
          [path.join(SOURCE_BENCH, 'frameworks_throughput.py'), '--framework', c, '--model', model, ...common, ...more],
        ];
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', OMP_NUM_THREADS: String(opts.threads) },
    maxBuffer: 1 << 24,
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    throw new Error(`${c} ${model} failed (${r.status}): ${r.stderr.slice(-1500)}`);
  return JSON.parse(line) as Figures;
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const childOf = arg('child', '');
  if (childOf) {
    const part = arg('part', 'all') as 'all' | 'infer';
    console.log(JSON.stringify(await child(childOf as 'node' | 'node-eager' | 'wasm', arg('model', 'seed'), part)));
    return;
  }
  const python = opts.contenders.some((c) => c === 'keras' || c === 'torch') ? ensureVenv() : '';
  const loadBefore = load();
  const started = Date.now();
  const rows = new Map<string, Figures>();
  for (let round = 0; round < opts.rounds; round++) {
    for (const model of opts.models) {
      // Alternate: each round starts with the next contender, so drift in the machine's load spreads evenly.
      const order = opts.contenders.map((_, i) => opts.contenders[(i + round) % opts.contenders.length]!);
      for (const c of order) {
        const f = runContender(c, model, python);
        const key = `${model}\t${c}`;
        const row = rows.get(key) ?? { train: [], infer: [], train_cpu: [], infer_cpu: [] };
        row.train.push(median(f.train));
        row.infer.push(median(f.infer));
        row.train_cpu.push(median(f.train_cpu));
        row.infer_cpu.push(median(f.infer_cpu));
        row.version = f.version;
        rows.set(key, row);
        process.stderr.write(
          `round ${round + 1} ${model} ${c}: train ${median(f.train).toFixed(0)} img/s ` +
            `(${median(f.train_cpu).toFixed(0)} ms CPU a batch), inference ${median(f.infer).toFixed(0)} img/s ` +
            `(${median(f.infer_cpu).toFixed(0)} ms CPU) (load ${load()})\n`,
        );
      }
    }
  }
  const lines = [
    `batch ${opts.batch}, ${opts.threads} threads, ${opts.steps} steps x ${opts.repeat} per process, ${opts.rounds} alternating rounds; ` +
      `load ${loadBefore} before, ${load()} after; ${((Date.now() - started) / 60000).toFixed(1)} min`,
    '| model | contender | train img/s (median) | runs | vs Keras | train CPU ms/batch | inference img/s (median) | ' +
      'vs Keras | inference CPU ms/batch |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const model of opts.models) {
    const keras = rows.get(`${model}\tkeras`);
    for (const c of opts.contenders) {
      const r = rows.get(`${model}\t${c}`)!;
      const t = median(r.train);
      const i = median(r.infer);
      const vs = (x: number, y?: number[]) => (y ? `${((100 * x) / median(y)).toFixed(0)}%` : '');
      const cpu = (xs: number[]) => median(xs).toFixed(0);
      lines.push(
        `| ${model} | ${c} (${r.version}) | ${t.toFixed(0)} | ${r.train.map((x) => x.toFixed(0)).join(', ')} | ` +
          `${vs(t, keras?.train)} | ${cpu(r.train_cpu)} | ${i.toFixed(0)} | ${vs(i, keras?.infer)} | ` +
          `${cpu(r.infer_cpu)} |`,
      );
    }
  }
  console.log(lines.join('\n'));
}

await main();
