/**
 * Picks the TensorFlow.js backend a stage runs on: tfjs-node (native libtensorflow) when it is
 * installed, else wasm (SIMD; threads where the runtime offers them) with our training kernels, else
 * the pure-JS cpu backend. `train.backend` / `evaluate.backend` override `auto`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { StageError } from '../common/stage.js';
import type { BackendName } from '../ml/params.js';
import { registerWasmTrainingKernels } from './kernels/index.js';
import { startWasmBackend } from './kernels/wasm-threads.js';
import { prepareSimdKernels } from './kernels/simd.js';
import { asWasm } from './kernels/wasm-heap.js';
import { registerFastCpuKernels } from './cpu-kernels.js';
import { registerNodeTrainingKernels } from './node-kernels.js';
import { registerNodePoolKernels } from './node-pool.js';
import { registerNodeFusedConvKernels } from './node-fused-conv.js';

export type Purpose = 'train' | 'infer';

export interface BackendInfo {
  /** The param value that ran: node, wasm or cpu. */
  name: Exclude<BackendName, 'auto'>;
  /** tf.getBackend(): tensorflow, wasm or cpu. */
  tfBackend: string;
  simd?: boolean;
  threads?: number;
  /** tfjs-node: whether libtensorflow runs its oneDNN kernels (TF_ENABLE_ONEDNN_OPTS); they change the last bits. */
  onednn?: boolean;
  /** tfjs-node: the libtensorflow version it runs (its kernels' last bits differ between versions). */
  library?: string;
  /** Why auto did not take a faster backend (one line each). */
  notes: string[];
}

/** Kernels the training step needs on top of inference; wasm lacks them until ours are registered. */
const TRAINING_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad'];

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** tfjs-node 4.22 calls util.isNullOrUndefined on every op; Node 23 removed it, so Node 24 needs it back. */
function restoreIsNullOrUndefined(): void {
  const u = util as unknown as Record<string, unknown>;
  if (typeof u.isNullOrUndefined !== 'function') u.isNullOrUndefined = (x: unknown) => x === null || x === undefined;
}

/**
 * Loads tfjs-node; undefined when its backend is active, else why not (`installed` false when the package is absent).
 */
async function tryNode(): Promise<{ reason: string; installed: boolean } | undefined> {
  // libtensorflow logs INFO lines (CPU features) on stderr when it loads; warnings and errors still show.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  // libtensorflow 2.10 runs convolutions, their gradients and batch norm through oneDNN only where it is
  // on, and by default it is on only for CPUs with AVX-512 VNNI/BF16 or AMX. On an AVX2 CPU it cuts a
  // training step's CPU time by a third (bench/train-compare.ts); results stay deterministic per machine.
  // TF_ENABLE_ONEDNN_OPTS=0 turns it off (and is part of the checkpoint fingerprint through `onednn`).
  process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
  restoreIsNullOrUndefined();
  try {
    // A variable specifier keeps TypeScript from requiring the optional package's types.
    const specifier = '@tensorflow/tfjs-node';
    await import(specifier);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const installed = code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND';
    return { reason: (firstLine(e) ?? '').replace(/[\s.]+$/, ''), installed };
  }
  // tfjs-node registers its backend with the tfjs-core it was installed with; a second copy of
  // tfjs-core (a version mismatch) would not know it.
  try {
    if (await tf.setBackend('tensorflow')) {
      registerNodeTrainingKernels(oneDnnOn());
      registerNodePoolKernels(oneDnnOn());
      registerNodeFusedConvKernels(oneDnnOn());
      return undefined;
    }
  } catch {
    // falls through
  }
  return { reason: 'its tensorflow backend is not registered with this tfjs-core (versions differ?)', installed: true };
}

/** What libtensorflow reads: TF_ENABLE_ONEDNN_OPTS as a boolean (tryNode defaults it to on). */
const oneDnnOn = (env: NodeJS.ProcessEnv = process.env) =>
  ['1', 'true'].includes((env.TF_ENABLE_ONEDNN_OPTS ?? '').toLowerCase());

/**
 * How many threads wasm may use: LOCKSTEP_WASM_THREADS when set, else this machine's cores shared
 * among the stage commands lockstep runs at once (LOCKSTEP_JOBS, set by `repro -j` and `exp run -j`).
 * Results do not depend on it: XNNPACK never splits a dot product between threads.
 */
export function wasmThreads(env: NodeJS.ProcessEnv = process.env, cores = os.availableParallelism()): number {
  const explicit = Number(env.LOCKSTEP_WASM_THREADS);
  if (Number.isInteger(explicit) && explicit >= 1) return explicit;
  const jobs = Number(env.LOCKSTEP_JOBS);
  return Math.max(1, Math.floor(cores / (Number.isInteger(jobs) && jobs >= 1 ? jobs : 1)));
}

async function tryWasm(
  purpose: Purpose,
  notes: string[],
): Promise<{ error?: string; simd?: boolean; threads?: number }> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    return { error: `@tensorflow/tfjs-backend-wasm is not usable (${firstLine(e)})` };
  }
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  wasm.setWasmPaths(`${dist}${path.sep}`);
  const threads = wasmThreads();
  let started = false;
  let failure = 'the wasm backend did not initialise';
  if (threads > 1) {
    let why = '';
    started = await startWasmBackend(tf, wasm, threads).catch((e: unknown) => {
      why = ` (${firstLine(e)})`;
      return false;
    });
    if (!started) notes.push(`wasm's threaded binary did not start${why}; running on one thread`);
  }
  if (!started) {
    started = await startWasmBackend(tf, wasm, 1).catch((e: unknown) => {
      failure = `the wasm backend did not initialise (${firstLine(e)})`;
      return false;
    });
  }
  if (!started) return { error: failure };
  registerWasmTrainingKernels();
  await prepareSimdKernels(asWasm(tf.backend()));
  if (purpose === 'train') {
    const missing = TRAINING_KERNELS.filter((k) => tf.getKernel(k, 'wasm') === undefined);
    if (missing.length) return { error: `wasm cannot train conv nets: kernel ${missing.join(', ')} not registered` };
  }
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return { simd, threads: wasm.getThreadsCount() };
}

async function useCpu(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
  registerFastCpuKernels();
}

/**
 * Initialises the backend. `param` names the param for errors (e.g. `train.backend`); an explicit
 * choice that cannot run is an error, `auto` falls through to the next backend and records why.
 */
export async function initBackend(requested: BackendName, purpose: Purpose, param: string): Promise<BackendInfo> {
  // Production mode skips tfjs' debug checks and its console banner urging tfjs-node on cpu.
  tf.enableProdMode();
  const notes: string[] = [];
  if (requested === 'node' || requested === 'auto') {
    const failed = await tryNode();
    if (!failed) return { name: 'node', tfBackend: tf.getBackend(), onednn: oneDnnOn(), library: tfVersion(), notes };
    if (requested === 'node')
      throw new StageError(
        `${param}: node: @tensorflow/tfjs-node is not usable (${failed.reason})`,
        'Install @tensorflow/tfjs-node (or run scripts/tfjs-node-from-registries.sh) or set it to auto, wasm or cpu.',
      );
    // Not having the optional native backend is normal: say so calmly.
    notes.push(failed.installed ? `tfjs-node did not load (${failed.reason})` : 'tfjs-node is not installed');
  }
  if (requested === 'wasm' || requested === 'auto') {
    const w = await tryWasm(purpose, notes);
    if (!w.error) return { name: 'wasm', tfBackend: tf.getBackend(), simd: w.simd, threads: w.threads, notes };
    if (requested === 'wasm') throw new StageError(`${param}: wasm: ${w.error}`, 'Set it to auto or cpu.');
    notes.push(w.error);
  }
  await useCpu();
  return { name: 'cpu', tfBackend: tf.getBackend(), notes };
}

/** The one line a stage prints about its backend: what runs, and why auto did not take a faster one. */
export function backendLine(info: BackendInfo): string {
  return [`backend: ${describeBackend(info)}`, ...info.notes].join('; ');
}

/** What shapes a backend's numbers (for checkpoint fingerprints): the backend, and oneDNN on tfjs-node. */
export function backendIdentity(info: BackendInfo): string {
  const id = info.onednn ? `${info.name}+onednn` : info.name;
  return info.library ? `${id}+tf${info.library}` : id;
}

/** The libtensorflow version tfjs-node's binding reports (while its backend is active), or undefined. */
function tfVersion(): string | undefined {
  const v = (tf.backend() as unknown as { binding?: { TF_Version?: unknown } }).binding?.TF_Version;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function describeBackend(info: BackendInfo): string {
  const extras: string[] = [];
  if (info.onednn) extras.push('oneDNN');
  if (info.simd !== undefined) extras.push(info.simd ? 'simd' : 'no simd');
  if (info.threads !== undefined) extras.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`);
  return `${info.name}${extras.length ? ` (${extras.join(', ')})` : ''}`;
}
