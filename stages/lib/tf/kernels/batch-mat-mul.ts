/**
 * BatchMatMul with transposeA / transposeB. wasm's kernel takes XNNPACK only when neither operand
 * is transposed and the batch is 1; otherwise a scalar triple loop runs (the dense layers' backward
 * pass: dW = xᵀ·dy, dx = dy·Wᵀ). Transposing with wasm's Transpose first and then taking the fast
 * path is far cheaper: a transpose is O(n²) memory traffic against the GEMM's O(n³) work.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasm, callOriginal, release, sizeOf, transposeWasm, type KernelArgs } from './wasm-heap.js';

export function batchMatMul(args: KernelArgs): TensorInfo {
  const backend = asWasm(args.backend);
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const fast = (transposeA || transposeB) && a.dtype === 'float32' && b.dtype === 'float32' &&
    a.shape.length >= 2 && b.shape.length >= 2 && sizeOf(a.shape.slice(0, -2)) === 1 && sizeOf(b.shape.slice(0, -2)) === 1;
  if (!fast) return callOriginal('BatchMatMul', backend, args.inputs, args.attrs);
  const temps: TensorInfo[] = [];
  const at = transposeA ? swapLast(a) : null;
  const bt = transposeB ? swapLast(b) : null;
  const a2 = at === null ? a : transposeWasm(backend, a, at);
  const b2 = bt === null ? b : transposeWasm(backend, b, bt);
  if (a2 !== a) temps.push(a2);
  if (b2 !== b) temps.push(b2);
  try {
    return callOriginal('BatchMatMul', backend, { a: a2, b: b2 }, { transposeA: false, transposeB: false });
  } finally {
    release(backend, ...temps);
  }
}

function swapLast(t: TensorInfo): number[] {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return perm;
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as KernelConfig['kernelFunc'],
};
