/**
 * A faster Conv2DBackpropFilter for the pure-JS cpu backend, which training on cpu (tests, machines
 * without wasm) spends most of its time in: tfjs' own kernel reads every element through
 * TensorBuffer.get. This one walks the typed arrays directly. For each filter weight it adds the
 * same products in the same order (batch, row, column) in double precision as the original, so
 * the result is bit-identical; channels-first layouts go to the original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

const NAME = 'Conv2DBackpropFilter';

interface CpuBackend {
  data: { get(id: tf.DataId): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

function backpropFilter(x: tf.TensorInfo, dy: tf.TensorInfo, attrs: Attrs, backend: CpuBackend): tf.TensorInfo {
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    outChannels,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
  } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const xv = backend.data.get(x.dataId).values;
  const dyv = backend.data.get(dy.dataId).values;
  const acc = new Float64Array(filterHeight * filterWidth * inChannels * outChannels);
  for (let b = 0; b < batchSize; b++) {
    for (let yR = 0; yR < outHeight; yR++) {
      for (let yC = 0; yC < outWidth; yC++) {
        const dyOff = ((b * outHeight + yR) * outWidth + yC) * outChannels;
        for (let wR = 0; wR < filterHeight; wR++) {
          const xR = wR + yR * strideHeight - top;
          if (xR < 0 || xR >= inHeight) continue;
          for (let wC = 0; wC < filterWidth; wC++) {
            const xC = wC + yC * strideWidth - left;
            if (xC < 0 || xC >= inWidth) continue;
            const xOff = ((b * inHeight + xR) * inWidth + xC) * inChannels;
            const wOff = (wR * filterWidth + wC) * inChannels;
            for (let d1 = 0; d1 < inChannels; d1++) {
              const xValue = xv[xOff + d1]!;
              if (xValue === 0) continue;
              const base = (wOff + d1) * outChannels;
              for (let d2 = 0; d2 < outChannels; d2++) acc[base + d2]! += xValue * dyv[dyOff + d2]!;
            }
          }
        }
      }
    }
  }
  return backend.makeTensorInfo(info.filterShape, 'float32', Float32Array.from(acc));
}

let registered = false;

/** Replaces the cpu backend's Conv2DBackpropFilter; idempotent. */
export function registerFastCpuKernels(): void {
  if (registered) return;
  const original = tf.getKernel(NAME, 'cpu');
  if (!original) return;
  registered = true;
  tf.unregisterKernel(NAME, 'cpu');
  tf.registerKernel({
    kernelName: NAME,
    backendName: 'cpu',
    kernelFunc: (args) => {
      const attrs = args.attrs as unknown as Attrs;
      const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || dy.dtype !== 'float32')
        return original.kernelFunc(args);
      return backpropFilter(x, dy, attrs, args.backend as unknown as CpuBackend);
    },
  });
}
