/**
 * Conv2DBackpropFilter, which tfjs-backend-wasm does not ship (so a conv net cannot train on wasm).
 *
 * dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·sh+kh-pt, ow·sw+kw-pl, ci] · dy[n,oh,ow,co]
 *
 * is one GEMM over a transposed im2col matrix, run on wasm's XNNPACK fully-connected path (no
 * transposes, batch 1). That path packs its second operand on every call (a few ns per element),
 * so dy, the narrower operand, goes second and the im2col matrix is streamed as the first.
 *
 * Stride-1 'same' convolutions (all the models') take filter-grad-grid.ts, which builds the im2col
 * rows with memory copies. Everything else takes the general path here: colᵀ[(kh,kw,ci), (n,oh,ow)]
 * gathered in JS, times dy viewed in place as [(n,oh,ow), co]. Both cut the batch into chunks
 * (bounded buffers; the partial sums are added in float64).
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import {
  alloc,
  asWasm,
  f32Index,
  matMulWasm,
  release,
  releaseView,
  transposeWasm,
  viewOf,
  type KernelArgs,
  type WasmBackend,
} from './wasm-heap.js';
import { filterGradByGrid, gridApplies } from './filter-grad-grid.js';
import { tuning } from './tuning.js';

interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = asWasm(args.backend);
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as BackpropFilterAttrs;
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
      xs.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    return gridApplies(info) ? filterGradByGrid(backend, xs, dys, info) : filterGradNHWC(backend, xs, dys, info);
  } finally {
    release(backend, ...temps);
  }
}

function filterGradNHWC(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const {
    batchSize: N,
    outHeight: Ho,
    outWidth: Wo,
    outChannels: Co,
    inChannels: Ci,
    filterHeight: fh,
    filterWidth: fw,
  } = info;
  const K = fh * fw * Ci;
  const outRows = N * Ho; // (n, oh) pairs; a chunk is a run of whole output rows
  const out = alloc(backend, [fh, fw, Ci, Co]);
  if (outRows === 0 || Wo === 0) {
    const o = f32Index(backend, out);
    backend.wasm.HEAPF32.fill(0, o, o + K * Co);
    return out;
  }
  const rowsPerChunk = Math.max(
    1,
    Math.min(outRows, Math.floor(tuning.im2colDyChunk / (Wo * Co)), Math.floor(tuning.im2colColChunk / (Wo * K))),
  );
  const acc = rowsPerChunk < outRows ? new Float64Array(K * Co) : null;
  for (let r0 = 0; r0 < outRows; r0 += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, outRows - r0);
    const P = rows * Wo;
    const colT = alloc(backend, [K, P]);
    fillIm2colT(backend, x, colT, info, r0, rows);
    const dyChunk = viewOf(backend, dy, r0 * Wo * Co, [P, Co]);
    const g = matMulWasm(backend, colT, dyChunk); // [K, Co], the filter layout
    releaseView(backend, dyChunk);
    if (acc === null) {
      release(backend, colT);
      g.shape = [fh, fw, Ci, Co];
      release(backend, out);
      return g;
    }
    const heap = backend.wasm.HEAPF32;
    const gi = f32Index(backend, g);
    for (let i = 0; i < K * Co; i++) acc[i]! += heap[gi + i]!;
    release(backend, colT, g);
  }
  backend.wasm.HEAPF32.set(acc!, f32Index(backend, out));
  return out;
}

/**
 * colᵀ[(kh,kw,ci), p] for the output pixels p of output rows r0 … r0+rows-1 (row = (n, oh)).
 * Each input pixel's Ci channels are read contiguously and scattered to Ci rows of colᵀ, which
 * advance together one element per output pixel, so both sides stream through cache lines
 * (a per-row gather would touch a new x cache line for every element).
 */
function fillIm2colT(
  backend: WasmBackend,
  x: TensorInfo,
  colT: TensorInfo,
  info: backend_util.Conv2DInfo,
  r0: number,
  rows: number,
): void {
  const heap = backend.wasm.HEAPF32;
  const {
    inHeight: H,
    inWidth: W,
    inChannels: Ci,
    outHeight: Ho,
    outWidth: Wo,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const xBase = f32Index(backend, x);
  const colBase = f32Index(backend, colT);
  const P = rows * Wo;
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      // Output columns whose input column iw = ow·sw + kw - pl lies inside the image.
      const owLo = Math.min(Wo, Math.max(0, Math.ceil((pl - kw) / sw)));
      const owHi = Math.max(owLo, Math.min(Wo, Math.floor((W - 1 + pl - kw) / sw) + 1));
      const kBase = colBase + (kh * fw + kw) * Ci * P;
      for (let r = r0, p0 = 0; r < r0 + rows; r++, p0 += Wo) {
        const n = Math.floor(r / Ho);
        const ih = (r - n * Ho) * sh + kh - pt;
        if (ih < 0 || ih >= H) {
          for (let ci = 0; ci < Ci; ci++) heap.fill(0, kBase + ci * P + p0, kBase + ci * P + p0 + Wo);
          continue;
        }
        for (let ci = 0; ci < Ci; ci++) {
          const d = kBase + ci * P + p0;
          if (owLo > 0) heap.fill(0, d, d + owLo);
          if (owHi < Wo) heap.fill(0, d + owHi, d + Wo);
        }
        let src = xBase + ((n * H + ih) * W + owLo * sw + kw - pl) * Ci;
        const step = sw * Ci;
        for (let ow = owLo; ow < owHi; ow++, src += step) {
          let d = kBase + p0 + ow;
          for (let ci = 0; ci < Ci; ci++, d += P) heap[d] = heap[src + ci]!;
        }
      }
    }
  }
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as KernelConfig['kernelFunc'],
};
