/**
 * Filter gradient of a stride-1 'same' convolution without an im2col matrix.
 *
 * Lay the images out on a padded grid: each image takes (H+Ph) rows of (W+Pw) cells, Ph = fh-1,
 * Pw = fw-1, with the pixels in the top-left H×W corner and zeros elsewhere; the zero rows/columns
 * after one image row (or image) double as the padding before the next. On that grid the input
 * pixel under filter tap (kh, kw) of output cell q is always cell q + δ, δ = (kh-pt)(W+Pw) + (kw-pl).
 * So for each tap,
 *
 *   dW[kh,kw] = Xᵀ[:, δ …] · DY,   Xᵀ[ci, e] = x at cell e,  DY[e, co] = dy at cell e (0 in padding)
 *
 * where Xᵀ shifted by δ is just a view of one transposed, padded copy of x. The JS work is one
 * pass over x and one over dy (im2col writes fh·fw times x); the nine GEMMs share their packed
 * second operand (DY), and XNNPACK caches that packing per tensor. The padding cells cost some
 * extra multiply-adds (27% at 16×16, 56% at 8×8): cheaper than building im2col in JS.
 */
import type { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import { tuning } from './tuning.js';
import { alloc, f32Index, matMulWasm, release, releaseView, viewOf, type WasmBackend } from './wasm-heap.js';

/**
 * Whether the padded-grid method applies and pays: stride 1, output the size of the input, enough
 * channels to fill GEMM rows, and images large enough that the padding cells add under 40% work
 * (measured here: ahead of im2col at 16×16 and 32×32, behind it at 8×8).
 */
export function tapsApply(info: backend_util.Conv2DInfo): boolean {
  const cells = (info.inHeight + info.filterHeight - 1) * (info.inWidth + info.filterWidth - 1);
  return cells <= 1.4 * info.inHeight * info.inWidth && info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1 &&
    info.outHeight === info.inHeight && info.outWidth === info.inWidth && info.inChannels >= 8 &&
    info.padInfo.top >= 0 && info.padInfo.left >= 0 &&
    info.padInfo.top <= info.filterHeight - 1 && info.padInfo.left <= info.filterWidth - 1;
}

export function filterGradByTaps(backend: WasmBackend, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co, filterHeight: fh, filterWidth: fw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const GW = W + fw - 1; // grid row length
  const cellsPerImage = (H + fh - 1) * GW;
  const lead = pt * GW + pl; // cells before the first image, so the most negative δ stays in the row
  const deltas: number[] = [];
  for (let kh = 0; kh < fh; kh++) for (let kw = 0; kw < fw; kw++) deltas.push((kh - pt) * GW + (kw - pl));
  const slackLo = Math.max(0, -Math.min(...deltas));
  const slackHi = Math.max(0, Math.max(...deltas));
  const perChunk = Math.max(1, Math.min(N, Math.floor(tuning.gridDyChunk / (cellsPerImage * Co))));
  const taps = fh * fw;
  const out = alloc(backend, [fh, fw, Ci, Co]);
  const acc = perChunk < N ? new Float64Array(taps * Ci * Co) : null;
  for (let n0 = 0; n0 < N; n0 += perChunk) {
    const nb = Math.min(perChunk, N - n0);
    const R = lead + nb * cellsPerImage;
    const xT = alloc(backend, [slackLo + Ci * R + slackHi]);
    const dyG = alloc(backend, [R, Co]);
    fillGridT(backend, x, xT, info, n0, nb, R, lead + slackLo, slackLo, slackHi);
    fillGrid(backend, dy, dyG, info, n0, nb, R, lead);
    for (let t = 0; t < taps; t++) {
      const a = viewOf(backend, xT, slackLo + deltas[t]!, [Ci, R]);
      const g = matMulWasm(backend, a, dyG); // [Ci, Co] = dW[kh, kw]
      releaseView(backend, a);
      const heap = backend.wasm.HEAPF32;
      const gi = f32Index(backend, g);
      const block = t * Ci * Co;
      if (acc === null) {
        heap.copyWithin(f32Index(backend, out) + block, gi, gi + Ci * Co);
      } else {
        for (let i = 0; i < Ci * Co; i++) acc[block + i]! += heap[gi + i]!;
      }
      release(backend, g);
    }
    release(backend, xT, dyG);
  }
  if (acc !== null) backend.wasm.HEAPF32.set(acc, f32Index(backend, out));
  return out;
}

/**
 * xT[slack + ci·R + lead + cell] = x at that grid cell for images n0 … n0+nb-1, zeros in padding,
 * the lead and the slack. Each pixel's channels are read contiguously and scattered down the rows.
 */
function fillGridT(backend: WasmBackend, x: TensorInfo, xT: TensorInfo, info: backend_util.Conv2DInfo,
  n0: number, nb: number, R: number, first: number, slackLo: number, slackHi: number): void {
  const heap = backend.wasm.HEAPF32;
  const { inHeight: H, inWidth: W, inChannels: Ci, filterHeight: fh, filterWidth: fw } = info;
  const GW = W + fw - 1;
  const base = f32Index(backend, xT);
  heap.fill(0, base, base + slackLo + Ci * R + slackHi);
  let src = f32Index(backend, x) + n0 * H * W * Ci;
  for (let n = 0; n < nb; n++) {
    for (let i = 0; i < H; i++) {
      const cell = base + first + (n * (H + fh - 1) + i) * GW;
      for (let j = 0; j < W; j++, src += Ci) {
        let d = cell + j;
        for (let ci = 0; ci < Ci; ci++, d += R) heap[d] = heap[src + ci]!;
      }
    }
  }
}

/** dyG[lead + cell, co] = dy at that grid cell, zeros elsewhere: whole image rows are copied at once. */
function fillGrid(backend: WasmBackend, dy: TensorInfo, dyG: TensorInfo, info: backend_util.Conv2DInfo,
  n0: number, nb: number, R: number, lead: number): void {
  const heap = backend.wasm.HEAPF32;
  const { inHeight: H, inWidth: W, outChannels: Co, filterHeight: fh, filterWidth: fw } = info;
  const GW = W + fw - 1;
  const base = f32Index(backend, dyG);
  heap.fill(0, base, base + R * Co);
  let src = f32Index(backend, dy) + n0 * H * W * Co;
  const rowLen = W * Co;
  for (let n = 0; n < nb; n++) {
    for (let i = 0; i < H; i++, src += rowLen) {
      const d = base + (lead + (n * (H + fh - 1) + i) * GW) * Co;
      heap.copyWithin(d, src, src + rowLen);
    }
  }
}
