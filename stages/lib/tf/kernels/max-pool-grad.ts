/**
 * MaxPoolGrad on the heap: each dy value goes to the first maximum of its window in row-major
 * order (what the cpu backend does, which matters after relu, where windows of equal zeros are
 * common). The 2x2 stride-2 unpadded pool of the models runs the SIMD kernel (simd.ts) when the
 * channels come in fours and the pool covers the input exactly, else a dedicated JS loop; other
 * pools with dilation 1 use the general loop; anything else keeps the original kernel.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { simdKernels } from './simd.js';
import { alloc, asWasm, callOriginal, f32Index, offsetOf, type KernelArgs, type WasmBackend } from './wasm-heap.js';

interface PoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export function maxPoolGrad(args: KernelArgs): TensorInfo {
  const backend = asWasm(args.backend);
  const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  const attrs = args.attrs as unknown as PoolGradAttrs;
  if (dy.dtype !== 'float32' || input.dtype !== 'float32' || input.shape.length !== 4) {
    return callOriginal('MaxPoolGrad', backend, args.inputs, args.attrs);
  }
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.dataFormat !== 'channelsLast') {
    return callOriginal('MaxPoolGrad', backend, args.inputs, args.attrs);
  }
  const dx = alloc(backend, input.shape.slice());
  const plain2x2 =
    info.filterHeight === 2 &&
    info.filterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight * 2 <= info.inHeight &&
    info.outWidth * 2 <= info.inWidth;
  const simd = simdKernels();
  if (
    plain2x2 &&
    simd !== null &&
    info.inChannels % 4 === 0 &&
    info.inHeight === 2 * info.outHeight &&
    info.inWidth === 2 * info.outWidth
  ) {
    simd.maxPoolGrad2x2(
      offsetOf(backend, input),
      offsetOf(backend, dy),
      offsetOf(backend, dx),
      info.batchSize * info.outHeight,
      info.outWidth,
      info.inChannels,
    );
  } else if (plain2x2 && output !== undefined && output.dtype === 'float32') {
    grad2x2(backend, input, dy, output, dx, info);
  } else {
    const d0 = f32Index(backend, dx);
    backend.wasm.HEAPF32.fill(0, d0, d0 + input.shape.reduce((p, v) => p * v, 1));
    gradGeneral(backend, input, dy, dx, info);
  }
  return dx;
}

/**
 * The 2x2 stride-2 pool: dx is zeroed with one memset, then each dy value is stored at the first
 * window position equal to the pooled maximum (MaxPoolGrad receives the forward output, so the
 * maximum need not be recomputed). A NaN maximum, or one not found in its window, takes the
 * cpu backend's rule (first strictly greater than -Infinity, none if all are NaN).
 */
function grad2x2(
  backend: WasmBackend,
  input: TensorInfo,
  dy: TensorInfo,
  output: TensorInfo,
  dx: TensorInfo,
  info: backend_util.Conv2DInfo,
): void {
  const heap = backend.wasm.HEAPF32;
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = info;
  const xi = f32Index(backend, input);
  const gi = f32Index(backend, dy);
  const yi = f32Index(backend, output);
  const di = f32Index(backend, dx);
  heap.fill(0, di, di + N * H * W * C);
  const rowStride = W * C;
  let g = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < Ho; oh++) {
      const top = xi + n * H * rowStride + 2 * oh * rowStride;
      for (let ow = 0; ow < Wo; ow++) {
        const p00 = top + 2 * ow * C;
        const p10 = p00 + rowStride;
        for (let c = 0; c < C; c++, g++) {
          const m = heap[yi + g]!;
          let at: number;
          if (heap[p00 + c] === m) at = p00 + c;
          else if (heap[p00 + C + c] === m) at = p00 + C + c;
          else if (heap[p10 + c] === m) at = p10 + c;
          else if (heap[p10 + C + c] === m) at = p10 + C + c;
          else at = firstMax(heap, p00 + c, p00 + C + c, p10 + c, p10 + C + c);
          if (at >= 0) heap[di + (at - xi)] = heap[gi + g]!;
        }
      }
    }
  }
}

/** Heap index of the first value strictly above -Infinity and all before it, or -1. */
function firstMax(heap: Float32Array, ...at: number[]): number {
  let best = -1;
  let v = Number.NEGATIVE_INFINITY;
  for (const i of at) {
    const u = heap[i]!;
    if (u > v) {
      v = u;
      best = i;
    }
  }
  return best;
}

function gradGeneral(
  backend: WasmBackend,
  input: TensorInfo,
  dy: TensorInfo,
  dx: TensorInfo,
  info: backend_util.Conv2DInfo,
): void {
  const heap = backend.wasm.HEAPF32;
  const {
    batchSize: N,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: Ho,
    outWidth: Wo,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const xi = f32Index(backend, input);
  const di = f32Index(backend, dx);
  let g = f32Index(backend, dy);
  for (let n = 0; n < N; n++) {
    const img = n * H * W * C;
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        for (let c = 0; c < C; c++, g++) {
          let best = -1;
          let v = Number.NEGATIVE_INFINITY;
          for (let kh = 0; kh < fh; kh++) {
            const ih = oh * sh - pt + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < fw; kw++) {
              const iw = ow * sw - pl + kw;
              if (iw < 0 || iw >= W) continue;
              const at = img + (ih * W + iw) * C + c;
              const u = heap[xi + at]!;
              if (u > v) {
                v = u;
                best = at;
              }
            }
          }
          if (best >= 0) heap[di + best]! += heap[g]!;
        }
      }
    }
  }
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as KernelConfig['kernelFunc'],
};
