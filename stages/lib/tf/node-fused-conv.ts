/**
 * Convolution + bias + ReLU as one op on tfjs-node with oneDNN: oneDNN's fused convolution
 * (`_MklNativeFusedConv2D`, fused ops `BiasAdd`, `Relu`), where tfjs runs `Conv2D` and then the bias add and the
 * ReLU (or node-kernels.ts' batch norm + ReLU standing in for the pair). The bias and ReLU are applied to each
 * output block while it is in cache, one memory pass fewer, and a 3-channel first layer runs a faster kernel:
 * 2.0 against 5.1 ms for [128,32,32,3] -> 32, 6.4 against 7.7 for [128,16,16,32] -> 64 (2 threads, TF 2.18). The
 * same bits as the three ops (the convolution's sum is complete before the bias is added): the probe checks it on
 * this machine and keeps the separate ops otherwise; test/unit/node-fused-conv.test.ts compares outputs and
 * gradients byte for byte.
 *
 * `fused_ops` is a list of strings (and TensorFlow 2.18's op also wants `TArgs`, a list of types), which tfjs-node's
 * released binding cannot pass: scripts/tfjs-node-from-registries.sh patches the binding it builds. With tfjs-node's
 * own prebuilt addon, or oneDNN off, the probe fails and everything runs as before.
 *
 * The gradient is tfjs' for the three ops: `ReluGrad` on the output (skipped when nodeMaxPool already masked it),
 * then the convolution's two gradients and the bias's sum, each computed only when the tape needs it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  BACKEND,
  type NodeBackend,
  type OpAttr,
  RELU_GRAD,
  isMaskedGradient,
  markReluOutput,
  oneDnnKernel,
} from './node-kernels.js';

const CONV_BIAS_RELU = 'LockstepNodeConvBiasRelu';

type Pad = 'valid' | 'same';
interface ConvAttrs {
  strides: [number, number];
  pad: Pad;
}

/** Whether the op takes `TArgs` (TensorFlow 2.18) or not (2.10); found by the probe. */
let withTypeList = false;
let works = false;

function convAttrs(b: NodeBackend, a: ConvAttrs): OpAttr[] {
  const float = b.binding.TF_FLOAT;
  return [
    { name: 'T', type: b.binding.TF_ATTR_TYPE, value: float },
    { name: 'num_args', type: b.binding.TF_ATTR_INT, value: 1 },
    ...(withTypeList ? [{ name: 'TArgs', type: b.binding.TF_ATTR_TYPE, value: [float] }] : []),
    { name: 'strides', type: b.binding.TF_ATTR_INT, value: [1, a.strides[0], a.strides[1], 1] },
    { name: 'padding', type: b.binding.TF_ATTR_STRING, value: a.pad.toUpperCase() },
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'dilations', type: b.binding.TF_ATTR_INT, value: [1, 1, 1, 1] },
    { name: 'fused_ops', type: b.binding.TF_ATTR_STRING, value: ['BiasAdd', 'Relu'] },
    oneDnnKernel(b),
  ];
}

/** Registers the kernel and its gradient; call once tfjs-node's backend is active. `oneDnn`: TF_ENABLE_ONEDNN_OPTS. */
export function registerNodeFusedConvKernels(oneDnn: boolean): void {
  if (!tf.getKernel(CONV_BIAS_RELU, BACKEND)) {
    tf.registerKernel({
      kernelName: CONV_BIAS_RELU,
      backendName: BACKEND,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as unknown as NodeBackend;
        const { x, filter, bias } = inputs;
        return b.executeSingleOutput('_MklNativeFusedConv2D', convAttrs(b, attrs as unknown as ConvAttrs), [
          x!,
          filter!,
          bias!,
        ]);
      },
    });
    tf.registerGradient({
      kernelName: CONV_BIAS_RELU,
      inputsToSave: ['x', 'filter'],
      outputsToSave: [true],
      gradFunc: (dy, saved, attrs) => {
        const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const d = dy as tf.Tensor4D;
        const { strides, pad } = attrs as unknown as ConvAttrs;
        const conv = { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
        // A gradient nodeMaxPool (node-pool.ts) masked is zero wherever the output is: ReluGrad would change nothing.
        const dz = isMaskedGradient(d) ? d : (tf.engine().runKernel(RELU_GRAD, { dy: d, x: y }) as tf.Tensor4D);
        const run = (name: string, inputs: tf.NamedTensorMap, shape: Record<string, number[]>) =>
          tf.engine().runKernel(name, inputs, { ...conv, ...shape }) as tf.Tensor;
        return {
          x: () => run('Conv2DBackpropInput', { dy: dz, filter }, { inputShape: x.shape }),
          filter: () => run('Conv2DBackpropFilter', { x, dy: dz }, { filterShape: filter.shape }),
          bias: () => tf.sum(dz, [0, 1, 2]),
        };
      },
    });
  }
  works = oneDnn && probe();
}

/** Runs where it gives the bits of `Conv2D`, the bias add and `Relu`, on inputs with rounding and negatives. */
function probe(): boolean {
  for (const typeList of [false, true]) {
    withTypeList = typeList;
    try {
      const same = tf.tidy(() => {
        const x = tf.sin(tf.range(0, 2 * 5 * 5 * 3).mul(0.37)).reshape([2, 5, 5, 3]) as tf.Tensor4D;
        const filter = tf.cos(tf.range(0, 3 * 3 * 3 * 4).mul(0.53)).reshape([3, 3, 3, 4]) as tf.Tensor4D;
        const bias = tf.tensor1d([0.1, -0.7, 0.3, -0.05]);
        const want = tf.relu(tf.add(tf.conv2d(x, filter, 1, 'same'), bias)).dataSync();
        const got = run(x, filter, bias, [1, 1], 'same').dataSync();
        return got.length === want.length && got.every((v, i) => Object.is(v, want[i]));
      });
      if (same) return true;
    } catch {
      // the other attribute set, or not here at all
    }
  }
  return false;
}

function run(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, strides: [number, number], pad: Pad): tf.Tensor4D {
  const attrs = { strides, pad } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(CONV_BIAS_RELU, { x, filter, bias }, attrs) as tf.Tensor4D;
}

/** True when the running backend has the fused convolution + bias + ReLU and it gives the separate ops' bits. */
export function hasNodeConvBiasRelu(): boolean {
  return works && tf.getBackend() === BACKEND;
}

/**
 * relu(conv2d(x, filter) + bias), channels last, dilation 1, as one op; differentiable (the tape records the
 * kernel with its gradient). Its output counts as a ReLU output for nodeMaxPool (node-pool.ts).
 */
export function nodeConvBiasRelu(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  strides: [number, number],
  pad: Pad,
): tf.Tensor4D {
  const y = run(x, filter, bias, strides, pad);
  markReluOutput(y);
  return y;
}
