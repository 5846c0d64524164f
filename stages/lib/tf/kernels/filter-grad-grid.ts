/**
 * Filter gradient of a stride-1 'same' convolution, without an im2col matrix.
 *
 * Lay the images out on a padded grid: each image takes GH = H + max(pt,pb) rows of
 * GW = W + max(pl,pr) cells, pixels in the top-left H×W corner, zeros elsewhere; the zero cells
 * after one image row (or image) serve as the right padding of that row and the left padding of
 * the next. On that grid the input under tap (kh, kw) of output cell e is always cell
 * e + δ, δ = (kh-pt)·GW + (kw-pl). So with the channel planes of x on the grid,
 *
 *   X[ci, e]  = x at cell e (0 in padding)                 one scatter pass over x
 *   DY[e, co] = dy at cell e (0 in padding)                 one pass over dy, whole rows
 *   dW[kh,kw] = X[:, δ(kh,kw) + e] · DY                     per tap, one XNNPACK GEMM [Ci, Co]
 *
 * The A operand of a tap's GEMM is the planes themselves seen from δ on (a zero-copy view: row ci
 * is plane ci shifted, exactly the tap's im2col rows), and wasm caches the XNNPACK operator, with
 * DY packed in it, by DY's tensor: DY is packed once per chunk for all fh·fw taps and no im2col
 * matrix is ever built. The padding cells cost 6% more multiply-adds at 32×32, 13% at 16×16, 27%
 * at 8×8, 56% at 4×4 (still faster than the im2col method, which gathers in JS).
 */
import type { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import { tuning } from './tuning.js';
import { simdKernels, type SimdKernels } from './simd.js';
import { alloc, f32Index, offsetOf, matMulWasm, release, releaseView, viewOf, type WasmBackend } from './wasm-heap.js';

interface Grid {
  GW: number;
  GH: number;
  cellsPerImage: number;
  lead: number;
  deltas: number[];
  slackLo: number;
  slackHi: number;
}

function gridOf(info: backend_util.Conv2DInfo): Grid {
  const { inHeight: H, inWidth: W, filterHeight: fh, filterWidth: fw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const GW = W + Math.max(pl, fw - 1 - pl);
  const GH = H + Math.max(pt, fh - 1 - pt);
  const deltas: number[] = [];
  for (let kh = 0; kh < fh; kh++) for (let kw = 0; kw < fw; kw++) deltas.push((kh - pt) * GW + (kw - pl));
  return {
    GW,
    GH,
    cellsPerImage: GH * GW,
    lead: pt * GW + pl, // cells before the first image: its top and left padding
    deltas,
    slackLo: Math.max(0, -Math.min(...deltas)),
    slackHi: Math.max(0, Math.max(...deltas)),
  };
}

/**
 * Whether the grid method applies and pays: stride 1, output the size of the input, padding within
 * the filter, and padding cells adding under 60% work.
 */
export function gridApplies(info: backend_util.Conv2DInfo): boolean {
  const { padInfo, filterHeight: fh, filterWidth: fw } = info;
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1)
    return false;
  if (info.outHeight !== info.inHeight || info.outWidth !== info.inWidth) return false;
  if (padInfo.top < 0 || padInfo.left < 0 || padInfo.top > fh - 1 || padInfo.left > fw - 1) return false;
  return gridOf(info).cellsPerImage <= 1.6 * info.inHeight * info.inWidth;
}

export function filterGradByGrid(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize: N, inChannels: Ci, outChannels: Co, filterHeight: fh, filterWidth: fw } = info;
  const grid = gridOf(info);
  const block = Ci * Co;
  const perChunk = Math.max(1, Math.min(N, Math.floor(tuning.gridDyChunk / (grid.cellsPerImage * Co))));
  const out = alloc(backend, [fh, fw, Ci, Co]);
  const acc = perChunk < N ? new Float64Array(fh * fw * block) : null;
  for (let n0 = 0; n0 < N; n0 += perChunk) {
    const nb = Math.min(perChunk, N - n0);
    const R = grid.lead + nb * grid.cellsPerImage;
    const planes = alloc(backend, [grid.slackLo + Ci * R + grid.slackHi]);
    fillPlanes(backend, x, planes, info, grid, n0, nb, R);
    const dyG = alloc(backend, [R, Co]);
    fillGrid(backend, dy, dyG, info, grid, n0, nb, R);
    const simd = simdKernels();
    if (simd !== null && Ci < tuning.gridSimdBelow && Co % 8 === 0) {
      tapsBySimd(backend, simd, planes, dyG, out, acc, grid, Ci, Co, R);
      release(backend, planes, dyG);
      continue;
    }
    grid.deltas.forEach((delta, tap) => {
      // row ci of this tap's im2col block is plane ci from δ on: a view, no copy
      const rows = viewOf(backend, planes, grid.slackLo + delta, [Ci, R]);
      const g = matMulWasm(backend, rows, dyG); // [Ci, Co] = dW[kh, kw]
      releaseView(backend, rows);
      const heap = backend.wasm.HEAPF32;
      const gi = f32Index(backend, g);
      if (acc === null) heap.copyWithin(f32Index(backend, out) + tap * block, gi, gi + block);
      else for (let i = 0, a = tap * block; i < block; i++, a++) acc[a]! += heap[gi + i]!;
      release(backend, g);
    });
    // disposing DY also frees the XNNPACK operator (and its packed copy of DY) wasm cached for it
    release(backend, planes, dyG);
  }
  if (acc !== null) backend.wasm.HEAPF32.set(acc, f32Index(backend, out));
  return out;
}

/**
 * Few input channels (the RGB layer): the fh·fw·Ci rows of all taps against DY in the SIMD kernel,
 * four rows at a time straight from the planes, DY in slices that stay in L2. XNNPACK would pack
 * DY (~5 ns per element) for only fh·fw·Ci = 27 multiply-adds per element.
 */
function tapsBySimd(
  backend: WasmBackend,
  simd: SimdKernels,
  planes: TensorInfo,
  dyG: TensorInfo,
  out: TensorInfo,
  acc: Float64Array | null,
  grid: Grid,
  Ci: number,
  Co: number,
  R: number,
): void {
  const rows = grid.deltas.length * Ci;
  const blocks = Math.ceil(rows / 4);
  const c = alloc(backend, [blocks * 4, Co]);
  const heap = backend.wasm.HEAPF32;
  const ci0 = f32Index(backend, c);
  heap.fill(0, ci0, ci0 + blocks * 4 * Co);
  const p0 = offsetOf(backend, planes) + 4 * grid.slackLo;
  // row (tap, ci): plane ci from δ(tap) on; rows past the last repeat row 0 into C's padding rows
  const rowAt = (r: number) =>
    r < rows ? p0 + 4 * ((r % Ci) * R + grid.deltas[Math.floor(r / Ci)]!) : p0 + 4 * grid.deltas[0]!;
  const b0 = offsetOf(backend, dyG);
  const c0 = offsetOf(backend, c);
  const slice = Math.max(1, Math.floor(tuning.gridSimdSlice / Co));
  for (let k0 = 0; k0 < R; k0 += slice) {
    const k = Math.min(slice, R - k0);
    for (let m = 0; m < blocks; m++) {
      simd.gemm4Acc(
        rowAt(4 * m) + 4 * k0,
        rowAt(4 * m + 1) + 4 * k0,
        rowAt(4 * m + 2) + 4 * k0,
        rowAt(4 * m + 3) + 4 * k0,
        b0 + 4 * k0 * Co,
        Co,
        c0 + 16 * m * Co,
        k,
      );
    }
  }
  const o = f32Index(backend, out);
  if (acc === null) heap.copyWithin(o, ci0, ci0 + rows * Co);
  else for (let i = 0; i < rows * Co; i++) acc[i]! += heap[ci0 + i]!;
  release(backend, c);
}

/**
 * planes[slackLo + ci·R + lead + cell] = x at that grid cell for images n0 … n0+nb-1, zero in
 * padding, lead and slack. Each pixel's channels are read contiguously and scattered down the rows.
 */
function fillPlanes(
  backend: WasmBackend,
  x: TensorInfo,
  planes: TensorInfo,
  info: backend_util.Conv2DInfo,
  grid: Grid,
  n0: number,
  nb: number,
  R: number,
): void {
  const heap = backend.wasm.HEAPF32;
  const { inHeight: H, inWidth: W, inChannels: Ci } = info;
  const base = f32Index(backend, planes);
  heap.fill(0, base, base + grid.slackLo + Ci * R + grid.slackHi);
  const first = base + grid.slackLo + grid.lead;
  let src = f32Index(backend, x) + n0 * H * W * Ci;
  for (let n = 0; n < nb; n++) {
    for (let i = 0; i < H; i++) {
      const cell = first + (n * grid.GH + i) * grid.GW;
      if (Ci === 1) {
        heap.copyWithin(cell, src, src + W);
        src += W;
        continue;
      }
      for (let j = 0; j < W; j++, src += Ci) {
        let d = cell + j;
        for (let ci = 0; ci < Ci; ci++, d += R) heap[d] = heap[src + ci]!;
      }
    }
  }
}

/** dyG[lead + cell, co] = dy at that grid cell, zeros elsewhere: whole image rows are copied at once. */
function fillGrid(
  backend: WasmBackend,
  dy: TensorInfo,
  dyG: TensorInfo,
  info: backend_util.Conv2DInfo,
  grid: Grid,
  n0: number,
  nb: number,
  R: number,
): void {
  const heap = backend.wasm.HEAPF32;
  const { inHeight: H, inWidth: W, outChannels: Co } = info;
  const base = f32Index(backend, dyG);
  heap.fill(0, base, base + R * Co);
  let src = f32Index(backend, dy) + n0 * H * W * Co;
  const rowLen = W * Co;
  for (let n = 0; n < nb; n++) {
    for (let i = 0; i < H; i++, src += rowLen) {
      const d = base + (grid.lead + (n * grid.GH + i) * grid.GW) * Co;
      heap.copyWithin(d, src, src + rowLen);
    }
  }
}
