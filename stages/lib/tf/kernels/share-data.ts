/**
 * Identity, and Cast to the same dtype, without copying. wasm copies the whole tensor for both;
 * a training step of the seed model calls them ~60 times on activation-sized tensors (tape
 * bookkeeping, relu's gradient casting a float32 step() to float32). Tensors are immutable, so the
 * output can share the input's heap block with a reference count, as wasm's Reshape and the cpu
 * backend's Identity already do.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { asWasm, callOriginal, type KernelArgs } from './wasm-heap.js';

function share(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

export function identity(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return callOriginal('Identity', asWasm(args.backend), args.inputs, args.attrs);
  return share(args);
}

export function cast(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as { dtype: string };
  if (dtype !== x.dtype || x.dtype === 'string')
    return callOriginal('Cast', asWasm(args.backend), args.inputs, args.attrs);
  return share(args);
}

export const identityConfig: KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: identity as unknown as KernelConfig['kernelFunc'],
};

export const castConfig: KernelConfig = {
  kernelName: 'Cast',
  backendName: 'wasm',
  kernelFunc: cast as unknown as KernelConfig['kernelFunc'],
};
