/**
 * Starts tfjs-backend-wasm under Node for tests and benchmarks of the kernels (the train stage has
 * its own backend selection in stages/lib/tf/backend.ts): the single-threaded SIMD build, or with
 * `threads` > 1 the threaded one (wasm-threads.ts).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './index.js';
import { startWasmBackend } from './wasm-threads.js';
import { prepareSimdKernels } from './simd.js';
import { asWasm } from './wasm-heap.js';

let pathsSet = false;

/** Absolute directory (with trailing separator) holding tfjs-backend-wasm's .wasm binaries. */
export function wasmBinaryDir(): string {
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return path.dirname(main) + path.sep;
}

/** Makes 'wasm' the active backend; with `training` the lockstep training kernels are installed too. */
export async function useWasmBackend(
  opts: { training: boolean; only?: readonly string[]; threads?: number; simd?: boolean } = { training: true },
): Promise<number> {
  if (!pathsSet) {
    wasm.setWasmPaths(wasmBinaryDir());
    pathsSet = true;
  }
  if (opts.training) registerWasmTrainingKernels(opts.only === undefined ? {} : { only: opts.only });
  if (!(await startWasmBackend(tf, wasm, opts.threads ?? 1))) throw new Error('tfjs wasm backend failed to initialise');
  await tf.ready();
  if (opts.training && opts.simd !== false) await prepareSimdKernels(asWasm(tf.backend()));
  return wasm.getThreadsCount();
}
