/**
 * Tile by block copies. wasm's Tile computes a source index per output element; the batch-norm
 * gradient tiles a [1,1,1,C] vector to the full [N,H,W,C] activation shape every step, which made
 * Tile the bn model's top kernel. Here each dimension, innermost first, is built once and then
 * replicated with copyWithin, so the cost is one memory copy of the output.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, asWasm, callOriginal, offsetOf, sizeOf, type KernelArgs } from './wasm-heap.js';

export function tile(args: KernelArgs): TensorInfo {
  const backend = asWasm(args.backend);
  const { x } = args.inputs as { x: TensorInfo };
  const { reps } = args.attrs as unknown as { reps: number[] };
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || reps.length !== x.shape.length || x.shape.length === 0) {
    return callOriginal('Tile', backend, args.inputs, args.attrs);
  }
  const outShape = x.shape.map((d, i) => d * reps[i]!);
  const out = alloc(backend, outShape, x.dtype);
  if (sizeOf(outShape) === 0) return out;
  // float32 and int32 are both 4 bytes: copy them as float32 bit patterns via HEAP32 (no NaN canonicalisation).
  const heap = backend.wasm.HEAP32;
  tileInto(heap, offsetOf(backend, x) >>> 2, x.shape, reps, offsetOf(backend, out) >>> 2, 0);
  return out;
}

/** Writes the tiling of x's sub-block at dimension `dim` to dst; returns the number of elements written. */
function tileInto(
  heap: Int32Array,
  src: number,
  shape: readonly number[],
  reps: readonly number[],
  dst: number,
  dim: number,
): number {
  const d = shape[dim]!;
  const r = reps[dim]!;
  let block: number;
  if (dim === shape.length - 1) {
    heap.copyWithin(dst, src, src + d);
    block = d;
  } else {
    const inner = sizeOf(shape.slice(dim + 1));
    block = 0;
    for (let i = 0; i < d; i++) block += tileInto(heap, src + i * inner, shape, reps, dst + block, dim + 1);
  }
  // Replicate by doubling: log2(r) copies instead of r.
  let done = 1;
  while (done < r) {
    const n = Math.min(done, r - done);
    heap.copyWithin(dst + done * block, dst, dst + n * block);
    done += n;
  }
  return block * r;
}

export const tileConfig: KernelConfig = {
  kernelName: 'Tile',
  backendName: 'wasm',
  kernelFunc: tile as unknown as KernelConfig['kernelFunc'],
};
