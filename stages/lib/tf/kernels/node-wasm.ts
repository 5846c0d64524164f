/**
 * Starts tfjs-backend-wasm under Node for tests and benchmarks of the kernels (the train stage has
 * its own backend selection in stages/lib/tf/backend.ts). Under Node the threaded binary is never
 * chosen (no cross-origin isolation / worker blobs), so this is the single-threaded SIMD build.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './index.js';

let pathsSet = false;

/** Absolute directory (with trailing separator) holding tfjs-backend-wasm's .wasm binaries. */
export function wasmBinaryDir(): string {
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return path.dirname(main) + path.sep;
}

/** Makes 'wasm' the active backend; with `training` the lockstep training kernels are installed too. */
export async function useWasmBackend(opts: { training: boolean; only?: readonly string[] } = { training: true }): Promise<void> {
  if (!pathsSet) {
    setWasmPaths(wasmBinaryDir());
    pathsSet = true;
  }
  if (opts.training) registerWasmTrainingKernels(opts.only === undefined ? {} : { only: opts.only });
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('tfjs wasm backend failed to initialise');
  await tf.ready();
}
