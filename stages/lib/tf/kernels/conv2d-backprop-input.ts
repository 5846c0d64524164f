/**
 * Conv2DBackpropInput as a forward convolution. wasm's own kernel is a naive loop (half of a
 * training step in the profile); for stride 1 the input gradient is exactly
 *
 *   dx = conv2d(dy, W'),  W'[kh,kw,co,ci] = W[fh-1-kh, fw-1-kw, ci, co]
 *
 * with padding (fh-1-top, fh-1-bottom, fw-1-left, fw-1-right), which wasm runs on XNNPACK.
 * Strided, dilated or channels-first gradients keep the original kernel.
 */
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { alloc, asWasm, callOriginal, f32Index, release, type KernelArgs, type WasmBackend } from './wasm-heap.js';

interface BackpropInputAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

export function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const backend = asWasm(args.backend);
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as BackpropInputAttrs;
  const plan = planAsConv(dy, filter, attrs);
  if (plan === null) return callOriginal('Conv2DBackpropInput', backend, args.inputs, args.attrs);
  const flipped = flipFilter(backend, filter);
  try {
    return callOriginal('Conv2D', backend, { x: dy, filter: flipped }, {
      strides: [1, 1],
      pad: plan,
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: undefined,
    } as unknown as Record<string, never>);
  } finally {
    // Disposing the filter also drops the XNNPACK operator wasm cached for it.
    release(backend, flipped);
  }
}

/** The explicit padding of the equivalent forward conv, or null when the fast path does not apply. */
function planAsConv(
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: BackpropInputAttrs,
): backend_util.ExplicitPadding | null {
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32' || attrs.dataFormat === 'NCHW') return null;
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return null;
  const { filterHeight: fh, filterWidth: fw, padInfo } = info;
  const pads: backend_util.ExplicitPadding = [
    [0, 0],
    [fh - 1 - padInfo.top, fh - 1 - padInfo.bottom],
    [fw - 1 - padInfo.left, fw - 1 - padInfo.right],
    [0, 0],
  ];
  if (pads.some(([a, b]) => a < 0 || b < 0)) return null;
  // The equivalent conv must give back exactly the input's spatial size.
  const check = backend_util.computeConv2DInfo(
    dy.shape as [number, number, number, number],
    [fh, fw, info.outChannels, info.inChannels],
    1,
    1,
    pads,
    undefined,
    false,
    'channelsLast',
  );
  const want = attrs.inputShape;
  if (check.outHeight !== want[1] || check.outWidth !== want[2] || dy.shape[0] !== want[0]) return null;
  return pads;
}

/** W'[kh,kw,co,ci] = W[fh-1-kh, fw-1-kw, ci, co], written into a fresh heap tensor. */
function flipFilter(backend: WasmBackend, filter: TensorInfo): TensorInfo {
  const [fh, fw, Ci, Co] = filter.shape as [number, number, number, number];
  const out = alloc(backend, [fh, fw, Co, Ci]);
  const heap = backend.wasm.HEAPF32;
  const src = f32Index(backend, filter);
  const dst = f32Index(backend, out);
  const block = Ci * Co;
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      const s = src + ((fh - 1 - kh) * fw + (fw - 1 - kw)) * block;
      const d = dst + (kh * fw + kw) * block;
      for (let ci = 0; ci < Ci; ci++) {
        const sRow = s + ci * Co;
        for (let co = 0; co < Co; co++) heap[d + co * Ci + ci] = heap[sRow + co]!;
      }
    }
  }
  return out;
}

export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as KernelConfig['kernelFunc'],
};
