/**
 * Batched inference on tfjs-node in worker threads: each worker loads the model into its own TensorFlow context
 * with its own thread pool and runs a contiguous run of whole batches through predictProbabilities (predict.ts).
 * A batch is the same computation wherever it runs (inference gives the same bits on 1 or 2 intra-op threads:
 * test/unit/predict-workers.test.ts), so the probabilities are those of one in-process run, byte for byte.
 *
 * Why: one op at a time on a 2-thread pool keeps two cores ~70% busy (each op's serial parts and the JavaScript
 * between ops leave one idle); two single-threaded workers on different batches keep both busy: seed inference
 * ~6,600 -> ~8,000 images/s on 2 cores (stages/TRAIN.md). Training stays in one process: its steps depend on
 * each other.
 *
 * TensorFlow reads the pool size once per process (TF_NUM_INTRAOP_THREADS) and shares one pool among contexts
 * unless TF_OVERRIDE_GLOBAL_THREADPOOL is set: useWorkerThreads sets both before the process loads tfjs-node.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { ImageShape } from './augment.js';
import type { Tta } from './predict.js';

/** How many workers and how many TensorFlow threads each. */
export interface WorkerPlan {
  workers: number;
  threads: number;
}

/** At most this many workers: each holds tfjs-node's runtime and a copy of the model (~150 MB). */
const MAX_WORKERS = 4;
/** A worker is worth its start-up (~1 s) from this many batches on. */
const MIN_BATCHES_A_WORKER = 2;

/**
 * The plan for `batches` batches: LOCKSTEP_INFER_WORKERS when set (1: in this process), else this machine's cores
 * shared among the stage commands lockstep runs at once (LOCKSTEP_JOBS), one worker a core up to MAX_WORKERS,
 * never more workers than pairs of batches. Threads: the cores left to each worker.
 */
export function planInferenceWorkers(
  batches: number,
  env: NodeJS.ProcessEnv = process.env,
  cores = os.availableParallelism(),
): WorkerPlan {
  const jobs = Number(env.LOCKSTEP_JOBS);
  const share = Math.max(1, Math.floor(cores / (Number.isInteger(jobs) && jobs >= 1 ? jobs : 1)));
  const explicit = Number(env.LOCKSTEP_INFER_WORKERS);
  const wanted = Number.isInteger(explicit) && explicit >= 1 ? explicit : Math.min(share, MAX_WORKERS);
  const workers = Math.max(1, Math.min(wanted, Math.floor(batches / MIN_BATCHES_A_WORKER)));
  return { workers, threads: workers > 1 ? Math.max(1, Math.floor(share / workers)) : share };
}

/**
 * Sets TensorFlow's thread environment for a plan with workers; call before anything loads tfjs-node. A
 * TF_NUM_INTRAOP_THREADS the user set is kept. Returns false (and sets nothing) for a plan of one.
 */
export function useWorkerThreads(plan: WorkerPlan, env: NodeJS.ProcessEnv = process.env): boolean {
  if (plan.workers < 2) return false;
  env.TF_OVERRIDE_GLOBAL_THREADPOOL = 'true';
  env.TF_NUM_INTRAOP_THREADS ??= String(plan.threads);
  env.TF_NUM_INTEROP_THREADS ??= '1';
  return true;
}

/** What every worker needs to start: the model directory (models/model's layout) and the input's form. */
export interface PoolSpec {
  modelDir: string;
  shape: ImageShape;
  lut: Float32Array;
  classes: number;
  /** Names the backend param in a worker's failure, e.g. `evaluate.backend`. */
  param: string;
  /**
   * Tests only: every job fails in the worker (`throws`) or ends its thread (`exits`); `first-throws-once`: the
   * first worker fails its first job, the others answer it 300 ms late (after the pool has sent the next job).
   */
  fault?: 'throws' | 'exits' | 'first-throws-once';
}

/** A worker's workerData: the pool's spec and the worker's place in the pool. */
export interface WorkerSpec extends PoolSpec {
  index: number;
}

export interface PredictJob {
  images: Uint8Array;
  count: number;
  batchSize: number;
  tta: Tta;
}

/** Sent to a worker: a run of whole batches of the shared images; `id` comes back with the reply. */
export interface WorkerJob {
  id: number;
  images: SharedArrayBuffer;
  start: number;
  count: number;
  batchSize: number;
  tta: Tta;
}

/** A worker's answer: ready (id 0), the probabilities of job `id`'s run, or why it failed. */
export type WorkerReply = { id: number } & ({ ready: true } | { probs: Float32Array } | { error: string });

/** The worker's module beside this one: predict-worker.ts under tsx, predict-worker.js when built. */
function workerScript(): { source: string; eval: boolean } {
  const here = fileURLToPath(import.meta.url);
  const url = new URL(`./predict-worker${path.extname(here)}`, import.meta.url).href;
  // Node 20 does not run `--import tsx` in workers: register tsx in the worker first (resolved here: the worker
  // resolves a bare name from the working directory, a project without node_modules in tests).
  if (here.endsWith('.ts')) {
    const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
    return {
      source: `import(${tsx}).then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`,
      eval: true,
    };
  }
  return { source: fileURLToPath(url), eval: false };
}

/**
 * Resolves on the worker's reply to `id`; a worker that dies or throws rejects with the reason. A reply to an
 * earlier job (one a failed predict stopped waiting for) is passed over.
 */
function reply(worker: Worker, id: number): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const done = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: WorkerReply) => {
      if (m.id !== id) return;
      done();
      resolve(m);
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`the inference worker stopped (exit code ${code})`));
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  });
}

async function expect<K extends string>(
  worker: Worker,
  id: number,
  key: K,
): Promise<Extract<WorkerReply, Record<K, unknown>>> {
  const r = await reply(worker, id);
  if ('error' in r) throw new Error(r.error);
  if (!(key in r)) throw new Error(`the inference worker answered out of turn (${Object.keys(r).join()})`);
  return r as Extract<WorkerReply, Record<K, unknown>>;
}

/** Workers with the model loaded; predict as often as needed, then close. */
export class InferencePool {
  /** Why a worker stopped, once one has: the pool then predicts no more. */
  private stopped: string | undefined;
  private lastJob = 0;

  private constructor(
    private readonly spec: PoolSpec,
    private readonly workers: Worker[],
  ) {
    for (const w of workers)
      w.once('exit', (code) => (this.stopped ??= `an inference worker stopped (exit code ${code})`));
  }

  /** Starts `count` workers; rejects (after stopping any that started) when one cannot load the model. */
  static async start(spec: PoolSpec, count: number): Promise<InferencePool> {
    const { Worker } = await import('node:worker_threads');
    const script = workerScript();
    const workers = Array.from({ length: count }, (_, index) => {
      const workerData: WorkerSpec = { ...spec, index };
      return new Worker(script.source, { eval: script.eval, workerData, stdout: false, stderr: false });
    });
    const pool = new InferencePool(spec, workers);
    try {
      await Promise.all(workers.map((w) => expect(w, 0, 'ready')));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Probabilities of `count` images: whole batches split among the workers in order, the last batch may be short. */
  async predict(job: PredictJob): Promise<Float32Array> {
    const { height, width, channels } = this.spec.shape;
    const size = height * width * channels;
    const classes = this.spec.classes;
    if (this.stopped) throw new Error(this.stopped);
    if (!Number.isInteger(job.batchSize) || job.batchSize < 1) throw new Error(`batch size ${job.batchSize}: not >= 1`);
    if (job.images.length < job.count * size)
      throw new Error(`${job.count} images of ${size} bytes asked for, ${job.images.length} bytes given`);
    const shared = new SharedArrayBuffer(job.count * size);
    new Uint8Array(shared).set(job.images.subarray(0, job.count * size));
    const batches = Math.ceil(job.count / job.batchSize);
    const per = Math.ceil(batches / this.workers.length);
    const runs = this.workers
      .map((w, k) => {
        const start = Math.min(job.count, k * per * job.batchSize);
        return { w, start, count: Math.min(job.count, (k + 1) * per * job.batchSize) - start };
      })
      .filter((r) => r.count > 0);
    const id = ++this.lastJob;
    const parts = await Promise.all(
      runs.map(({ w, start, count }) => {
        const answer = expect(w, id, 'probs');
        const message: WorkerJob = { id, images: shared, start, count, batchSize: job.batchSize, tta: job.tta };
        w.postMessage(message);
        return answer;
      }),
    );
    const probs = new Float32Array(job.count * classes);
    for (const [i, p] of parts.entries()) probs.set(p.probs, runs[i]!.start * classes);
    return probs;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
