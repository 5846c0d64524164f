/**
 * The forward pass the evaluate stage (and the train stage's validation) runs: the model's layers as a list of
 * tensor ops, without tf.layers' per-call machinery, where a ReLU joins the batch norm or bias before it. On
 * tfjs-node with oneDNN that pair is one op, oneDNN's fused batch norm with activation `Relu` (node-kernels.ts):
 * a `fast`-model batch then runs 33 kernels instead of 47, and each full-size `FusedBatchNorm` + `Relu` pair and
 * the stem's `Add` + `Relu` lose a memory pass (inference CPU time per batch -8% for `fast`, -13% for `seed`).
 * A convolution with bias and ReLU is oneDNN's fused convolution where the binding can ask for it
 * (node-fused-conv.ts, the same bits). Folding each batch norm into the convolution before it is not done: it
 * would change the bits (oneDNN's fused batch norm computes in another order), and in the `fast` model half the
 * batch norms follow a max-pool, not a convolution.
 * Elsewhere the plan runs the ops tf.layers runs (`fused.conv2d` with bias and ReLU, batch norm then ReLU).
 *
 * The plan reads the layers' variables at every call, so it follows training, and computes the same bits as
 * `model.apply(x, {training: false})` on every backend (test/unit/inference-plan.test.ts). A model with a layer
 * the plan does not know runs through `model.apply`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BatchNorm } from './batch-norm-layer.js';
import { convConfig, isPlain2d, poolConfig } from './layer-config.js';
import { SeededDropout } from './models.js';
import { Scale, scaleBy } from './scale-layer.js';
import { hasNodeConvBiasRelu, nodeConvBiasRelu } from './node-fused-conv.js';
import { hasNodeBatchNormRelu, nodeBatchNormRelu, nodeBiasReluForward } from './node-kernels.js';

type Step = (x: tf.Tensor) => tf.Tensor;
type Activation = 'linear' | 'relu' | 'softmax';
type Layer = tfl.layers.Layer;

const ACTIVATIONS = new Set<string>(['linear', 'relu', 'softmax']);

/** A forward pass over a batch (NHWC); the caller disposes the result (and runs it in a tidy). */
export type Forward = (x: tf.Tensor4D) => tf.Tensor;

const plans = new WeakMap<tfl.LayersModel, Forward>();

/** The model's inference forward pass, compiled once per model. */
export function inferenceForward(model: tfl.LayersModel): Forward {
  let plan = plans.get(model);
  if (!plan) {
    const steps = compile(model.layers);
    plan = steps
      ? (x) => steps.reduce<tf.Tensor>((h, step) => step(h), x)
      : (x) => model.apply(x, { training: false }) as tf.Tensor;
    plans.set(model, plan);
  }
  return plan;
}

/** The steps of a plain stack of known layers, or undefined (run the model as it is). */
export function compile(layers: Layer[]): Step[] | undefined {
  const steps: Step[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    const next = layers[i + 1];
    // A ReLU right after a batch-norm or a biased linear convolution joins it.
    const reluNext = next !== undefined && activationOf(next) === 'relu';
    const cls = layer.getClassName();
    if (layer instanceof BatchNorm) {
      steps.push(batchNormStep(layer, reluNext));
      if (reluNext) i++;
    } else if (cls === 'Conv2D') {
      const pool = next?.getClassName() === 'MaxPooling2D' ? maxPoolStep(next) : undefined;
      const step = convStep(layer, reluNext, pool);
      if (!step) return undefined;
      steps.push(step.run);
      if (step.tookRelu || step.tookPool) i++;
    } else if (cls === 'MaxPooling2D') {
      const step = maxPoolStep(layer);
      if (!step) return undefined;
      steps.push(step);
    } else if (cls === 'Flatten') {
      steps.push((x) => tf.reshape(x, [x.shape[0]!, -1]));
    } else if (cls === 'Dense') {
      const step = denseStep(layer);
      if (!step) return undefined;
      steps.push(step);
    } else if (cls === 'Activation') {
      const a = activationOf(layer);
      if (a === undefined) return undefined;
      steps.push((x) => activate(x, a));
    } else if (layer instanceof Scale) {
      steps.push((x) => scaleBy(x, layer.factor));
    } else if (layer instanceof SeededDropout) {
      // identity at inference
    } else {
      return undefined;
    }
  }
  return steps;
}

function activationOf(layer: Layer): Activation | undefined {
  const a = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof a === 'string' && ACTIVATIONS.has(a) ? (a as Activation) : undefined;
}

function activate(x: tf.Tensor, a: Activation): tf.Tensor {
  return a === 'relu' ? tf.relu(x) : a === 'softmax' ? tf.softmax(x) : x;
}

/** The layer's weights as variables, read when the step runs (training updates them in place). */
function weights(layer: Layer): { read(): tf.Tensor }[] {
  return layer.weights as unknown as { read(): tf.Tensor }[];
}

function batchNormStep(layer: BatchNorm, relu: boolean): Step {
  const [gamma, beta, mean, variance] = weights(layer);
  const eps = layer.epsilon;
  return (x) => {
    const g = gamma!.read() as tf.Tensor1D;
    const b = beta!.read() as tf.Tensor1D;
    const m = mean!.read() as tf.Tensor1D;
    const v = variance!.read() as tf.Tensor1D;
    if (relu && hasNodeBatchNormRelu()) {
      const x4 = x.rank === 4 ? (x as tf.Tensor4D) : tf.reshape(x, [-1, 1, 1, x.shape[x.rank - 1]!]);
      const y = nodeBatchNormRelu(x4 as tf.Tensor4D, g, b, m, v, eps);
      return x.rank === 4 ? y : tf.reshape(y, x.shape);
    }
    const y = tf.batchNorm(x, m, v, b, g, eps);
    return relu ? tf.relu(y) : y;
  };
}

function maxPoolStep(layer: Layer): Step | undefined {
  const c = poolConfig(layer);
  return c && ((x) => tf.maxPool(x as tf.Tensor4D, c.poolSize, c.strides, c.padding));
}

/**
 * A convolution, with the max-pool after it when `pool` is given. Where the bias and ReLU are one op (tfjs-node with
 * oneDNN) they run after the pool, on a quarter of the elements for a 2x2 pool: the same bits, since adding a
 * per-channel bias and taking the ReLU are monotone and so commute with a window's maximum exactly (fl(m + b) is the
 * largest of the fl(x + b)).
 */
function convStep(
  layer: Layer,
  reluNext: boolean,
  pool: Step | undefined,
): { run: Step; tookRelu: boolean; tookPool: boolean } | undefined {
  const c = convConfig(layer);
  if (c === undefined) return undefined;
  const own = activationOf(layer);
  if (!isPlain2d(c) || own === undefined || own === 'softmax') return undefined;
  const pad = c.padding;
  const [kernel, bias] = weights(layer);
  // A linear convolution followed by a ReLU layer takes the ReLU in (the next layer is then skipped).
  const tookRelu = own === 'linear' && reluNext && c.useBias;
  const relu = own === 'relu' || tookRelu;
  const tookPool = !tookRelu && pool !== undefined;
  const run: Step = (x) => {
    const k = kernel!.read() as tf.Tensor4D;
    const b = c.useBias ? (bias!.read() as tf.Tensor1D) : undefined;
    if (b && relu && hasNodeConvBiasRelu()) {
      const y = nodeConvBiasRelu(x as tf.Tensor4D, k, b, c.strides, pad);
      return tookPool ? pool!(y) : y;
    }
    if (b && relu && hasNodeBatchNormRelu()) {
      const y = tf.conv2d(x as tf.Tensor4D, k, c.strides, pad);
      return nodeBiasReluForward((tookPool ? pool!(y) : y) as tf.Tensor4D, b);
    }
    // What tf.layers' Conv2D runs for these activations (conv2dWithBiasActivation).
    const y = tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: k,
      strides: c.strides,
      pad,
      bias: b,
      activation: relu ? 'relu' : 'linear',
    });
    return tookPool ? pool!(y) : y;
  };
  return { run, tookRelu, tookPool };
}

function denseStep(layer: Layer): Step | undefined {
  const c = layer.getConfig() as { activation: string; useBias: boolean };
  const a = activationOf(layer);
  if (a === undefined) return undefined;
  const [kernel, bias] = weights(layer);
  // As tf.layers' Dense: bias and ReLU fused into the product; softmax after a separate bias add.
  return (x) => {
    const b = c.useBias ? bias!.read() : undefined;
    if (a === 'softmax') {
      const y = tf.fused.matMul({ a: x as tf.Tensor2D, b: kernel!.read() as tf.Tensor2D });
      return tf.softmax(b ? tf.add(y, b) : y);
    }
    return tf.fused.matMul({
      a: x as tf.Tensor2D,
      b: kernel!.read() as tf.Tensor2D,
      bias: b,
      activation: a as 'linear' | 'relu',
    });
  };
}
