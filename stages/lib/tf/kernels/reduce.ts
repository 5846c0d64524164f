/**
 * Sum and Mean over leading axes (a bias gradient, batch-norm moments: NHWC reduced over N,H,W).
 * wasm reduces only innermost axes, so it first transposes the whole tensor to move the channels
 * out of the way; here the tensor is read once as [rows, C] and added into C float64 sums. Other
 * axis sets (innermost ones are already fast on wasm) keep the original kernels.
 */
import { util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, asWasm, callOriginal, f32Index, sizeOf, type KernelArgs, type WasmBackend } from './wasm-heap.js';

interface ReduceAttrs { axis: number | number[]; keepDims: boolean }

/** Number of leading axes reduced, or 0 when the axes are not a proper leading prefix. */
export function leadingReduction(shape: readonly number[], axis: number | number[]): number {
  const axes = [...new Set(util.parseAxisParam(axis, shape as number[]))].sort((p, q) => p - q);
  if (axes.length === 0 || axes.length >= shape.length) return 0;
  for (let i = 0; i < axes.length; i++) if (axes[i] !== i) return 0;
  return axes.length;
}

function reduceLeading(backend: WasmBackend, x: TensorInfo, k: number, keepDims: boolean, scaleByCount: boolean): TensorInfo {
  const rows = sizeOf(x.shape.slice(0, k));
  const kept = x.shape.slice(k);
  const C = sizeOf(kept);
  const outShape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...kept] : kept;
  const out = alloc(backend, outShape);
  const heap = backend.wasm.HEAPF32;
  const src = f32Index(backend, x);
  const acc = new Float64Array(C);
  // Four rows per pass: a quarter of the accumulator loads and stores.
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const s = src + r * C;
    for (let c = 0; c < C; c++) acc[c]! += heap[s + c]! + heap[s + C + c]! + heap[s + 2 * C + c]! + heap[s + 3 * C + c]!;
  }
  for (; r < rows; r++) {
    const s = src + r * C;
    for (let c = 0; c < C; c++) acc[c]! += heap[s + c]!;
  }
  if (scaleByCount && rows > 0) for (let c = 0; c < C; c++) acc[c] = acc[c]! / rows;
  if (scaleByCount && rows === 0) acc.fill(Number.NaN);
  heap.set(acc, f32Index(backend, out));
  return out;
}

function reducer(kernelName: 'Sum' | 'Mean') {
  return (args: KernelArgs): TensorInfo => {
    const backend = asWasm(args.backend);
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as ReduceAttrs;
    const k = x.dtype === 'float32' ? leadingReduction(x.shape, axis) : 0;
    if (k === 0) return callOriginal(kernelName, backend, args.inputs, args.attrs);
    return reduceLeading(backend, x, k, keepDims, kernelName === 'Mean');
  };
}

export const sumConfig: KernelConfig = {
  kernelName: 'Sum',
  backendName: 'wasm',
  kernelFunc: reducer('Sum') as unknown as KernelConfig['kernelFunc'],
};

export const meanConfig: KernelConfig = {
  kernelName: 'Mean',
  backendName: 'wasm',
  kernelFunc: reducer('Mean') as unknown as KernelConfig['kernelFunc'],
};
