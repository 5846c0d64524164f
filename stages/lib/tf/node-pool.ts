/**
 * Max-pooling for training on tfjs-node with oneDNN: oneDNN's pooling, whose forward pass also writes a workspace
 * (where each window's maximum was), so the gradient is a scatter through it. tfjs runs TensorFlow's `MaxPool` and
 * `MaxPoolGrad`, and TensorFlow's CPU `MaxPoolGrad` works the forward pass out again to find the maxima: the
 * costliest single kernel of a seed-model step (the first pool's, ~14 ms of a ~90 ms step at batch 128 on 2
 * threads). The pair costs about half as much this way. Both route each window's gradient to its first maximum in
 * row-major order, so the bits are the same (test/unit/node-pool.test.ts, ties included).
 *
 * oneDNN's kernels are registered under the label TensorFlow's graph pass gives them, which an eager op sets as
 * the `_kernel` attribute (as node-kernels.ts does for the fused batch norm + ReLU). Without oneDNN, or where the
 * probe fails, everything runs as tfjs runs it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND, type NodeBackend, type OpAttr, RELU_GRAD, markMaskedGradient, oneDnnKernel } from './node-kernels.js';

const POOL = 'LockstepNodeMaxPool';
const POOL_GRAD = 'LockstepNodeMaxPoolGrad';

type Pad = 'valid' | 'same';
interface PoolAttrs {
  filterSize: [number, number];
  strides: [number, number];
  pad: Pad;
}

function poolAttrs(b: NodeBackend, a: PoolAttrs): OpAttr[] {
  return [
    { name: 'T', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT },
    { name: 'ksize', type: b.binding.TF_ATTR_INT, value: [1, a.filterSize[0], a.filterSize[1], 1] },
    { name: 'strides', type: b.binding.TF_ATTR_INT, value: [1, a.strides[0], a.strides[1], 1] },
    { name: 'padding', type: b.binding.TF_ATTR_STRING, value: a.pad.toUpperCase() },
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'workspace_enabled', type: b.binding.TF_ATTR_BOOL, value: true },
    oneDnnKernel(b),
  ];
}

let works = false;

/** Registers the two kernels; call once tfjs-node's backend is active. `oneDnn`: TF_ENABLE_ONEDNN_OPTS is on. */
export function registerNodePoolKernels(oneDnn: boolean): void {
  if (!tf.getKernel(POOL, BACKEND)) {
    tf.registerKernel({
      kernelName: POOL,
      backendName: BACKEND,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as unknown as NodeBackend;
        return b.executeMultipleOutputs(
          '_MklNativeMaxPool',
          poolAttrs(b, attrs as unknown as PoolAttrs),
          [inputs.x!],
          2,
        );
      },
    });
    tf.registerKernel({
      kernelName: POOL_GRAD,
      backendName: BACKEND,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as unknown as NodeBackend;
        const { x, y, dy, workspace } = inputs;
        const a = poolAttrs(b, attrs as unknown as PoolAttrs);
        return b.executeSingleOutput('_MklNativeMaxPoolGrad', a, [x!, y!, dy!, workspace!]);
      },
    });
  }
  works = oneDnn && probe();
}

/** Whether oneDNN's pooling runs here and agrees with TensorFlow's on a small case with ties. */
function probe(): boolean {
  try {
    return tf.tidy(() => {
      // Two 2x2 windows, each with its maximum twice: the first in row-major order takes the gradient.
      const x = tf.tensor4d([1, 3, 3, 0, 3, 2, 2, 3], [1, 2, 4, 1]);
      const dy = tf.tensor4d([5, 7], [1, 1, 2, 1]);
      const a = { filterSize: [2, 2], strides: [2, 2], pad: 'valid' } as unknown as tf.NamedAttrMap;
      const [y, workspace] = tf.engine().runKernel(POOL, { x }, a) as tf.Tensor[];
      const g = tf.engine().runKernel(POOL_GRAD, { x, y: y!, dy, workspace: workspace! }, a) as tf.Tensor;
      return Array.from(g.dataSync()).join() === '0,5,7,0,0,0,0,0' && Array.from(y!.dataSync()).join() === '3,3';
    });
  } catch {
    return false;
  }
}

/** True when training on tfjs-node can pool through oneDNN (nodeMaxPool; else tf.maxPool). */
export function hasNodeMaxPool(): boolean {
  return works && tf.getBackend() === BACKEND;
}

/**
 * tf.maxPool, differentiable, through oneDNN's pooling and its workspace (hasNodeMaxPool() must hold). With
 * `reluInput` (x is a ReLU output, never negative: nodeBiasRelu) the gradient applies the ReLU's mask at the pooled
 * size, `MaxPoolGrad(ReluGrad(dp, p))` instead of `ReluGrad(MaxPoolGrad(dp))` at the full size, and marks its result
 * so nodeBiasRelu skips its own ReluGrad. The two agree: the pooling gradient reaches only each window's first
 * maximum, which is positive exactly where the pooled value is (zero windows get nothing either way); only the
 * sign of a zero could differ.
 */
export function nodeMaxPool(
  x: tf.Tensor4D,
  filterSize: [number, number],
  strides: [number, number],
  pad: Pad,
  reluInput = false,
): tf.Tensor4D {
  const attrs = { filterSize, strides, pad } as unknown as tf.NamedAttrMap;
  const f = tf.customGrad(((xs: tf.Tensor4D, save: tf.GradSaveFunc) => {
    const [y, workspace] = tf.engine().runKernel(POOL, { x: xs }, attrs) as tf.Tensor[];
    save([xs, y!, workspace!]);
    return {
      value: y!,
      gradFunc: (dp: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [input, output, ws] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor];
        const d = Array.isArray(dp) ? dp[0]! : dp;
        const masked = reluInput ? (tf.engine().runKernel(RELU_GRAD, { dy: d, x: output }) as tf.Tensor) : d;
        const g = tf.engine().runKernel(POOL_GRAD, { x: input, y: output, dy: masked, workspace: ws }, attrs);
        if (masked !== d) masked.dispose();
        if (reluInput) markMaskedGradient(g as tf.Tensor);
        return [g as tf.Tensor4D];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor4D;
}
