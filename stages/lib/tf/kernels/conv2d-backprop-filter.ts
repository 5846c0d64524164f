/**
 * Conv2DBackpropFilter, which tfjs-backend-wasm does not ship (so a conv net cannot train on wasm).
 *
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·sh+kh-pt, ow·sw+kw-pl, ci] · dy[n,oh,ow,co]
 *
 * is one GEMM over an im2col matrix: with col[(n,oh,ow), (kh,kw,ci)] built in the wasm heap and
 * dyᵀ[co, (n,oh,ow)], dWᵀ = dyᵀ · col, run by wasm's XNNPACK fully-connected path (no transposes,
 * batch 1). The reduction runs over batch × output pixels, tens of thousands of terms; XNNPACK's
 * GEMM does not block over K, so one huge GEMM streams both operands from memory for every output
 * tile. Cutting the batch into chunks keeps each GEMM's operands in cache and bounds the im2col
 * buffer; the chunks' partial sums are added in float64.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, asWasm, f32Index, matMulWasm, release, transposeWasm, type KernelArgs, type WasmBackend } from './wasm-heap.js';

/** Target size (floats) of one chunk's im2col matrix: ~4 MB, so a chunk's operands stay in L2/L3. */
const CHUNK_ELEMS = 1 << 20;

export function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = asWasm(args.backend);
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`Conv2DBackpropFilter on wasm supports float32 only, got ${x.dtype}/${dy.dtype}`);
  }
  // channels-first tensors are made channels-last once, so one im2col layout serves both.
  const temps: TensorInfo[] = [];
  let xs = x;
  let dys = dy;
  if (attrs.dataFormat === 'NCHW') {
    xs = transposeWasm(backend, x, [0, 2, 3, 1]);
    dys = transposeWasm(backend, dy, [0, 2, 3, 1]);
    temps.push(xs, dys);
  }
  try {
    const info = backend_util.computeConv2DInfo(
      xs.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad,
      attrs.dimRoundingMode, false, 'channelsLast');
    return filterGradNHWC(backend, xs, dys, info);
  } finally {
    release(backend, ...temps);
  }
}

function filterGradNHWC(backend: WasmBackend, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: N, outHeight: Ho, outWidth: Wo, outChannels: Co, inChannels: Ci, filterHeight: fh, filterWidth: fw } = info;
  const K = fh * fw * Ci;
  const pixels = Ho * Wo;
  const perChunk = Math.max(1, Math.min(N, Math.floor(CHUNK_ELEMS / Math.max(1, pixels * K))));
  const out = alloc(backend, [fh, fw, Ci, Co]);
  if (N === 0 || pixels === 0) {
    backend.wasm.HEAPF32.fill(0, f32Index(backend, out), f32Index(backend, out) + K * Co);
    return out;
  }
  const acc = perChunk < N ? new Float64Array(K * Co) : null;
  for (let n0 = 0; n0 < N; n0 += perChunk) {
    const nb = Math.min(perChunk, N - n0);
    const rows = nb * pixels;
    const col = alloc(backend, [rows, K]);
    const dyT = alloc(backend, [Co, rows]);
    fillIm2col(backend, x, col, info, n0, nb);
    transposeRows(backend, dy, n0 * pixels, rows, Co, dyT);
    const g = matMulWasm(backend, dyT, col); // [Co, K]
    const heap = backend.wasm.HEAPF32;
    const gi = f32Index(backend, g);
    if (acc === null) {
      const oi = f32Index(backend, out);
      for (let co = 0; co < Co; co++) {
        const src = gi + co * K;
        for (let k = 0; k < K; k++) heap[oi + k * Co + co] = heap[src + k]!;
      }
    } else {
      for (let co = 0; co < Co; co++) {
        const src = gi + co * K;
        for (let k = 0; k < K; k++) acc[k * Co + co]! += heap[src + k]!;
      }
    }
    release(backend, col, dyT, g);
  }
  if (acc !== null) backend.wasm.HEAPF32.set(acc, f32Index(backend, out));
  return out;
}

/** col[(n,oh,ow), (kh,kw,ci)] for images n0 … n0+nb-1; rows of x are copied whole where the window is inside. */
function fillIm2col(backend: WasmBackend, x: TensorInfo, col: TensorInfo, info: backend_util.Conv2DInfo, n0: number, nb: number): void {
  const heap = backend.wasm.HEAPF32;
  const { inHeight: H, inWidth: W, inChannels: Ci, outHeight: Ho, outWidth: Wo, filterHeight: fh, filterWidth: fw,
    strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const xBase = f32Index(backend, x);
  const rowLen = fw * Ci;
  let dst = f32Index(backend, col);
  for (let n = n0; n < n0 + nb; n++) {
    const xImg = xBase + n * H * W * Ci;
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        const iw0 = ow * sw - pl;
        const inside = iw0 >= 0 && iw0 + fw <= W;
        for (let kh = 0; kh < fh; kh++, dst += rowLen) {
          const ih = oh * sh + kh - pt;
          if (ih < 0 || ih >= H) {
            heap.fill(0, dst, dst + rowLen);
            continue;
          }
          const xRow = xImg + ih * W * Ci;
          if (inside) {
            copy(heap, dst, xRow + iw0 * Ci, rowLen);
          } else {
            for (let kw = 0; kw < fw; kw++) {
              const iw = iw0 + kw;
              const d = dst + kw * Ci;
              if (iw < 0 || iw >= W) heap.fill(0, d, d + Ci);
              else copy(heap, d, xRow + iw * Ci, Ci);
            }
          }
        }
      }
    }
  }
}

/** copyWithin pays a call's overhead; short runs are faster as a plain loop. */
function copy(heap: Float32Array, dst: number, src: number, len: number): void {
  if (len >= 48) {
    heap.copyWithin(dst, src, src + len);
  } else {
    for (let i = 0; i < len; i++) heap[dst + i] = heap[src + i]!;
  }
}

/** out[c, r] = m[r0 + r, c] for a row-major [*, C] tensor m. */
function transposeRows(backend: WasmBackend, m: TensorInfo, r0: number, rows: number, C: number, out: TensorInfo): void {
  const heap = backend.wasm.HEAPF32;
  const src = f32Index(backend, m) + r0 * C;
  const dst = f32Index(backend, out);
  for (let r = 0; r < rows; r++) {
    const s = src + r * C;
    for (let c = 0; c < C; c++) heap[dst + c * rows + r] = heap[s + c]!;
  }
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as KernelConfig['kernelFunc'],
};
