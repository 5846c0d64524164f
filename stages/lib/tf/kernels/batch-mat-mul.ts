/**
 * BatchMatMul with transposeA / transposeB. wasm's kernel takes XNNPACK only when neither operand
 * is transposed and the batch is 1; otherwise a scalar triple loop runs (the dense layers' backward
 * pass: dW = xᵀ·dy, dx = dy·Wᵀ). Here the operands are transposed in the heap first and the fast
 * path runs.
 *
 * XNNPACK packs the second operand on every call (a fresh tensor each step), and packing costs
 * several ns per element, so of C = op(a)·op(b) and Cᵀ = op(b)ᵀ·op(a)ᵀ the cheaper one in
 * transposed + packed elements is used (dx = dy·Wᵀ becomes (W·dyᵀ)ᵀ: W is never copied).
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasm, callOriginal, release, sizeOf, type KernelArgs, type WasmBackend } from './wasm-heap.js';
import { transpose2d } from './transpose2d.js';

/** Cost of packing one element of XNNPACK's weight operand, relative to transposing one (measured ~3x). */
const PACK_COST = 3;

export function batchMatMul(args: KernelArgs): TensorInfo {
  const backend = asWasm(args.backend);
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const fast =
    (transposeA || transposeB) &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    a.shape.length >= 2 &&
    b.shape.length >= 2 &&
    sizeOf(a.shape.slice(0, -2)) === 1 &&
    sizeOf(b.shape.slice(0, -2)) === 1;
  if (!fast) return callOriginal('BatchMatMul', backend, args.inputs, args.attrs);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const M = transposeA ? ac : ar;
  const K = transposeA ? ar : ac;
  const N = transposeB ? br : bc;
  const outShape = [...(a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2), M, N];
  // Direct: transpose the operands that are flagged, pack op(b).
  const direct = (transposeA ? M * K : 0) + (transposeB ? K * N : 0) + PACK_COST * K * N;
  // Swapped: Cᵀ = op(b)ᵀ · op(a)ᵀ; transpose the operands that are not flagged, pack op(a)ᵀ, transpose Cᵀ.
  const swapped = (transposeB ? 0 : K * N) + (transposeA ? 0 : M * K) + PACK_COST * K * M + M * N;
  const temps: TensorInfo[] = [];
  try {
    if (direct <= swapped) {
      const a2 = transposeA ? keep(temps, transpose2d(backend, a, ar, ac)) : flat(a, ar, ac);
      const b2 = transposeB ? keep(temps, transpose2d(backend, b, br, bc)) : flat(b, br, bc);
      const c = matMul(backend, a2, b2);
      c.shape = outShape;
      return c;
    }
    const bT = transposeB ? flat(b, br, bc) : keep(temps, transpose2d(backend, b, br, bc)); // [N, K]
    const aT = transposeA ? flat(a, ar, ac) : keep(temps, transpose2d(backend, a, ar, ac)); // [K, M]
    const cT = keep(temps, matMul(backend, bT, aT)); // [N, M]
    const c = transpose2d(backend, cT, N, M);
    c.shape = outShape;
    return c;
  } finally {
    release(backend, ...temps);
  }
}

function keep(temps: TensorInfo[], t: TensorInfo): TensorInfo {
  temps.push(t);
  return t;
}

/** The same data seen as a 2-D matrix (batch dims are all 1 here). */
function flat(t: TensorInfo, rows: number, cols: number): TensorInfo {
  return { dataId: t.dataId, shape: [rows, cols], dtype: t.dtype };
}

function matMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo): TensorInfo {
  return callOriginal('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false });
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as KernelConfig['kernelFunc'],
};
