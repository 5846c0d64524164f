/**
 * Transpose of a row-major [rows, cols] float32 block in the heap, in 32×32 tiles so both the
 * reads and the writes stay within a few cache lines. wasm's Transpose walks the output with a
 * general index computation per element, which made it the larger half of the dense layers'
 * backward pass.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, f32Index, type WasmBackend } from './wasm-heap.js';

const TILE = 32;

export function transpose2d(backend: WasmBackend, m: TensorInfo, rows: number, cols: number): TensorInfo {
  const out = alloc(backend, [cols, rows]);
  const heap = backend.wasm.HEAPF32;
  const src = f32Index(backend, m);
  const dst = f32Index(backend, out);
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        const s = src + r * cols;
        for (let c = c0; c < c1; c++) heap[dst + c * rows + r] = heap[s + c]!;
      }
    }
  }
  return out;
}
