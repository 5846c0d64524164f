/**
 * Training kernels for the wasm backend that tfjs-backend-wasm lacks or runs slowly
 * (Conv2DBackpropFilter, Conv2DBackpropInput, transposed BatchMatMul, MaxPoolGrad, Sum, Mean, Tile,
 * copy-free Identity and same-dtype Cast, channel-vector Multiply/Add in wasm's faster operand order,
 * FusedBatchNorm as vectorised binary ops).
 * Called once after the wasm backend is ready; each kernel takes its fast path for the shapes the
 * models use and falls back to the original wasm kernel (or a general path) otherwise.
 */
import { findBackend, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch-mat-mul.js';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { meanConfig, sumConfig } from './reduce.js';
import { fusedBatchNormConfig } from './batch-norm.js';
import { addConfig, multiplyConfig } from './broadcast-binary.js';
import { castConfig, identityConfig } from './share-data.js';
import { tileConfig } from './tile.js';
import { captureOriginal } from './wasm-heap.js';

const TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  batchMatMulConfig,
  maxPoolGradConfig,
  sumConfig,
  meanConfig,
  tileConfig,
  identityConfig,
  castConfig,
  multiplyConfig,
  addConfig,
  fusedBatchNormConfig,
];

/** Names of the kernels registerWasmTrainingKernels() installs for 'wasm' (for the backend banner). */
export const WASM_TRAINING_KERNELS: readonly string[] = TRAINING_KERNELS.map((k) => k.kernelName);

/** Kernels the fast paths call directly; they must exist before ours replace anything. */
const REQUIRED_ORIGINALS = ['Transpose', 'BatchMatMul', 'Conv2D'] as const;

let registered: readonly string[] | null = null;

export interface RegisterOptions {
  /** Install only these kernels (benchmarks: e.g. only Conv2DBackpropFilter, to time wasm as shipped). */
  only?: readonly string[];
}

/**
 * Installs the training kernels for the 'wasm' backend and returns their names. Idempotent (the
 * first call decides the set). Needs tfjs-backend-wasm to be imported (its kernels registered);
 * the backend itself may be initialised before or after.
 */
export function registerWasmTrainingKernels(opts: RegisterOptions = {}): readonly string[] {
  if (registered !== null) return registered;
  const chosen =
    opts.only === undefined ? TRAINING_KERNELS : TRAINING_KERNELS.filter((k) => opts.only!.includes(k.kernelName));
  for (const name of REQUIRED_ORIGINALS) {
    if (captureOriginal(name) === undefined) {
      throw new Error(
        `lockstep wasm kernels: wasm kernel '${name}' is not registered; import @tensorflow/tfjs-backend-wasm first`,
      );
    }
  }
  for (const config of chosen) {
    // Keep the shipped kernel for fallbacks, then replace it without tfjs's "already registered" warning.
    const shipped = captureOriginal(config.kernelName);
    if (shipped !== undefined) unregisterKernel(config.kernelName, 'wasm');
    // The engine runs a kernel's setupFunc when the backend starts; the shipped one binds its wasm
    // export, which our fallbacks call, so ours runs it in its place.
    registerKernel(shipped?.setupFunc === undefined ? config : { ...config, setupFunc: shipped.setupFunc });
  }
  // A backend that is already running has had its setup pass; give the shipped kernels theirs now.
  const running = findBackend('wasm');
  if (running !== null) {
    for (const config of chosen) captureOriginal(config.kernelName)?.setupFunc?.(running);
  }
  registered = chosen.map((k) => k.kernelName);
  return registered;
}
