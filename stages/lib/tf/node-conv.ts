/**
 * Convolutions with bias and ReLU that train on tfjs-node with oneDNN run as oneDNN's fused convolution
 * (node-fused-conv.ts) where the binding can ask for it, else the bias add and the ReLU as one op after the
 * convolution (node-kernels.ts nodeBiasRelu), where tf.layers' Conv2D runs `Add` then `Relu` while a gradient is
 * taped (it fuses them only at inference): one memory pass over the convolution's output fewer, about 8 ms CPU of
 * a seed-model step (batch 128), the first layer's 16 MB output most of it. Outputs and gradients have the bits of
 * the separate ops, so results do not change; other backends, inference and the saved model are untouched (the
 * layer stays a plain Conv2D: only this instance's `call` while training on tfjs-node differs).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { convConfig, isPlain2d, poolConfig } from './layer-config.js';
import { hasNodeConvBiasRelu, nodeConvBiasRelu } from './node-fused-conv.js';
import { hasNodeBatchNormRelu, isNodeReluOutput, nodeBiasRelu } from './node-kernels.js';
import { hasNodeMaxPool, nodeMaxPool } from './node-pool.js';

/** The layer (a 2-D conv with bias and ReLU, channels last), its training call fused on tfjs-node. */
export function withNodeBiasRelu(layer: tfl.layers.Layer): tfl.layers.Layer {
  const c = convConfig(layer);
  if (layer.getClassName() !== 'Conv2D' || c === undefined || c.activation !== 'relu' || !c.useBias || !isPlain2d(c))
    throw new Error(`withNodeBiasRelu: ${layer.name} is not a channels-last Conv2D with bias and ReLU`);
  const plain = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => {
    if (kwargs.training !== true) return plain(inputs, kwargs);
    const fused = hasNodeConvBiasRelu();
    if (!fused && !hasNodeBatchNormRelu()) return plain(inputs, kwargs);
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const [kernel, bias] = layer.weights;
      const k = kernel!.read() as unknown as tf.Tensor4D;
      const b = bias!.read() as unknown as tf.Tensor1D;
      if (fused) return nodeConvBiasRelu(x, k, b, c.strides, c.padding);
      return nodeBiasRelu(tf.conv2d(x, k, c.strides, c.padding), b);
    });
  };
  return layer;
}

/**
 * A max-pooling layer that trains on tfjs-node through oneDNN's pooling with its workspace (node-pool.ts: the same
 * bits, about half the time of `MaxPool` + `MaxPoolGrad`). After a withNodeBiasRelu convolution its gradient also
 * applies the ReLU's mask at the pooled size, and the convolution skips its full-size `ReluGrad` (~8 ms CPU of a
 * seed-model step). Without oneDNN's pooling, and at inference, the plain layer (the convolution then runs its own
 * `ReluGrad`).
 */
export function withNodePool(layer: tfl.layers.Layer): tfl.layers.Layer {
  const c = poolConfig(layer);
  if (layer.getClassName() !== 'MaxPooling2D' || c === undefined)
    throw new Error(`withNodePool: ${layer.name} is not a MaxPooling2D`);
  const plain = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    if (kwargs.training !== true || !hasNodeMaxPool()) return plain(inputs, kwargs);
    return nodeMaxPool(x, c.poolSize, c.strides, c.padding, isNodeReluOutput(x));
  };
  return layer;
}
