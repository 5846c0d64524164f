/**
 * Sum and Mean over leading axes (a bias gradient, batch-norm moments: NHWC reduced over N,H,W).
 * wasm reduces only innermost axes, so it first transposes the whole tensor to move the channels
 * out of the way; here the tensor is taken as [rows, C] and its rows are added up. Other
 * axis sets (innermost ones are already fast on wasm) keep the original kernels.
 * The rows are summed pairwise with wasm's Add (see columnSums), which is several times faster than
 * a JS loop over the heap.
 */
import { util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import {
  alloc,
  asWasm,
  callOriginal,
  f32Index,
  release,
  releaseView,
  sizeOf,
  viewOf,
  type KernelArgs,
  type WasmBackend,
} from './wasm-heap.js';

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/** Number of leading axes reduced, or 0 when the axes are not a proper leading prefix. */
export function leadingReduction(shape: readonly number[], axis: number | number[]): number {
  const axes = [...new Set(util.parseAxisParam(axis, shape as number[]))].sort((p, q) => p - q);
  if (axes.length === 0 || axes.length >= shape.length) return 0;
  for (let i = 0; i < axes.length; i++) if (axes[i] !== i) return 0;
  return axes.length;
}

/** Below this many rows the tree stops and the rest is added in JS (kernel calls cost more than they save). */
const TREE_MIN_ROWS = 16;

/**
 * Column sums of x seen as [rows, C], by pairwise halving: the top half of the rows is added to
 * the bottom half with wasm's vectorised Add (on heap views, no copies) until few rows remain,
 * which JS adds in float64. Pairwise float32 summation also keeps the rounding error at
 * O(log rows) instead of O(rows).
 */
function columnSums(backend: WasmBackend, x: TensorInfo, rows: number, C: number): Float64Array {
  const acc = new Float64Array(C);
  let cur = x;
  let owned = false;
  while (rows > TREE_MIN_ROWS) {
    if (rows % 2 === 1) {
      addRows(backend, cur, rows - 1, 1, C, acc);
      rows -= 1;
    }
    const half = (rows / 2) * C;
    const top = viewOf(backend, cur, 0, [half]);
    const bottom = viewOf(backend, cur, half, [half]);
    const next = callOriginal('Add', backend, { a: top, b: bottom });
    releaseView(backend, top);
    releaseView(backend, bottom);
    if (owned) release(backend, cur);
    cur = next;
    owned = true;
    rows /= 2;
  }
  addRows(backend, cur, 0, rows, C, acc);
  if (owned) release(backend, cur);
  return acc;
}

function addRows(backend: WasmBackend, m: TensorInfo, r0: number, rows: number, C: number, acc: Float64Array): void {
  const heap = backend.wasm.HEAPF32;
  const src = f32Index(backend, m) + r0 * C;
  for (let r = 0; r < rows; r++) {
    const s = src + r * C;
    for (let c = 0; c < C; c++) acc[c]! += heap[s + c]!;
  }
}

function reduceLeading(
  backend: WasmBackend,
  x: TensorInfo,
  k: number,
  keepDims: boolean,
  scaleByCount: boolean,
): TensorInfo {
  const rows = sizeOf(x.shape.slice(0, k));
  const kept = x.shape.slice(k);
  const C = sizeOf(kept);
  const outShape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...kept] : kept;
  const acc = columnSums(backend, x, rows, C);
  if (scaleByCount) for (let c = 0; c < C; c++) acc[c] = rows > 0 ? acc[c]! / rows : Number.NaN;
  const out = alloc(backend, outShape);
  backend.wasm.HEAPF32.set(acc, f32Index(backend, out));
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
