/**
 * Each layer of models.ts in the training step's graph (train-graph.ts): its forward ops in training mode and its
 * backward, a closure that takes the gradient of the layer's output, records the gradients of the layer's trained
 * weights (and, for batch norm, the new moving statistics) in the context, and returns the gradient of its input
 * (undefined when no layer below it trains). A layer or setting not covered is a reason.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { BatchNorm } from '../batch-norm-layer.js';
import { convConfig, isPlain2d, poolConfig } from '../layer-config.js';
import { SeededDropout } from '../models.js';
import { Scale } from '../scale-layer.js';
import { F32, type Graph, I32, type Ref } from './graph-def.js';

export type Backward = (dy: Ref) => Ref | undefined;

/** What the layers share while the graph is built. */
export interface Context {
  g: Graph;
  /** The placeholders of the model's weights, by weight index. */
  w: Ref[];
  weights: tfl.LayerVariable[];
  /** The index of a layer's k-th weight. */
  at(layer: tfl.layers.Layer, k: number): number;
  /** Weight indices the optimizer updates. */
  trained: Set<number>;
  /** Filled by the backwards: gradients by weight index. */
  grads: Map<number, Ref>;
  /** New values of weights that are not trained but change (batch norm's moving statistics). */
  updates: Map<number, Ref>;
  /** Placeholder names, in feed order (the dropout masks join here). */
  inputs: string[];
  dropouts: SeededDropout[];
}

export interface Built {
  out: Ref;
  backward: Backward;
  /** Set when the layer's output is the softmax the loss starts from. */
  probs?: boolean;
}

/** The layer in the graph on `input`; `into`: whether its input needs a gradient; `last`: the model's last layer. */
export function buildLayer(
  cx: Context,
  layer: tfl.layers.Layer,
  input: Ref,
  into: boolean,
  last: boolean,
): Built | { reason: string } {
  const cls = layer.getClassName();
  if (cls === 'Conv2D') return conv(cx, layer, input, into);
  if (cls === 'MaxPooling2D') return maxPool(cx, layer, input, into);
  if (layer instanceof BatchNorm) return batchNorm(cx, layer, input, into);
  if (cls === 'Dense') return dense(cx, layer, input, into, last);
  const { g } = cx;
  if (cls === 'Activation') {
    const a = (layer.getConfig() as { activation?: unknown }).activation;
    if (a === 'softmax' && last) return { out: g.f('Softmax', [input], {}, 'probs'), backward: (d) => d, probs: true };
    if (a !== 'relu') return { reason: `layer ${layer.name}: activation ${String(a)} the graph does not cover` };
    const out = g.f('Relu', [input], {}, `${layer.name}/relu`);
    return { out, backward: (d) => g.f('ReluGrad', [d, out]) };
  }
  if (cls === 'Flatten') {
    const size = (layer.outputShape as number[])[1]!;
    const out = g.f('Reshape', [input, g.ints([-1, size])], { Tshape: I32 }, `${layer.name}/flat`);
    return { out, backward: (d) => g.f('Reshape', [d, shapeOf(g, input)], { Tshape: I32 }) };
  }
  if (layer instanceof SeededDropout) {
    if (layer.rate <= 0) return { out: input, backward: (d) => d };
    const mask = g.placeholder(`mask${cx.dropouts.length}`, [-1, ...(layer.outputShape as number[]).slice(1)]);
    cx.inputs.push(mask.slice(0, -2));
    cx.dropouts.push(layer);
    return { out: g.f('Mul', [input, mask], {}, `${layer.name}/drop`), backward: (d) => g.f('Mul', [d, mask]) };
  }
  if (layer instanceof Scale) {
    const factor = g.scalar(layer.factor);
    return { out: g.f('Mul', [input, factor], {}, `${layer.name}/scale`), backward: (d) => g.f('Mul', [d, factor]) };
  }
  return { reason: `layer ${layer.name}: ${cls} is not a layer the graph covers` };
}

const shapeOf = (g: Graph, r: Ref) => g.op('Shape', [r], { T: F32, out_type: I32 });

function conv(cx: Context, layer: tfl.layers.Layer, input: Ref, into: boolean): Built | { reason: string } {
  const { g } = cx;
  const c = convConfig(layer);
  if (!c || !isPlain2d(c) || (c.activation !== 'relu' && c.activation !== 'linear'))
    return { reason: `layer ${layer.name}: a convolution the graph does not cover` };
  const attrs = { strides: { ints: [1, ...c.strides, 1] }, padding: { s: c.padding.toUpperCase() } };
  const k = cx.at(layer, 0);
  const kernel = cx.w[k]!;
  let out = g.f('Conv2D', [input, kernel], attrs, `${layer.name}/conv`);
  const b = c.useBias ? cx.at(layer, 1) : undefined;
  if (b !== undefined) out = g.f('BiasAdd', [out, cx.w[b]!], {}, `${layer.name}/bias`);
  const relu = c.activation === 'relu';
  if (relu) out = g.f('Relu', [out], {}, `${layer.name}/relu`);
  const result = out;
  const backward: Backward = (d) => {
    const dz = relu ? g.f('ReluGrad', [d, result]) : d;
    if (b !== undefined && cx.trained.has(b)) cx.grads.set(b, g.f('BiasAddGrad', [dz]));
    if (cx.trained.has(k)) {
      const sizes = g.ints(cx.weights[k]!.shape as number[]);
      cx.grads.set(k, g.f('Conv2DBackpropFilter', [input, sizes, dz], attrs));
    }
    return into ? g.f('Conv2DBackpropInput', [shapeOf(g, input), kernel, dz], attrs) : undefined;
  };
  return { out, backward };
}

function maxPool(cx: Context, layer: tfl.layers.Layer, input: Ref, into: boolean): Built | { reason: string } {
  const { g } = cx;
  const c = poolConfig(layer);
  if (!c) return { reason: `layer ${layer.name}: a pooling the graph does not cover` };
  const attrs = {
    ksize: { ints: [1, ...c.poolSize, 1] },
    strides: { ints: [1, ...c.strides, 1] },
    padding: { s: c.padding.toUpperCase() },
  };
  const out = g.f('MaxPool', [input], attrs, `${layer.name}/pool`);
  return { out, backward: (d) => (into ? g.f('MaxPoolGrad', [input, out, d], attrs) : undefined) };
}

/**
 * TensorFlow's FusedBatchNormV3 in training mode and its gradient, as the op-by-op layer runs them on tfjs-node
 * (node-kernels.ts); a rank-2 input (after a dense layer) goes through as [n, 1, 1, channels].
 */
function batchNorm(cx: Context, layer: BatchNorm, input: Ref, into: boolean): Built {
  const { g } = cx;
  const [gamma, beta, mean, variance] = [0, 1, 2, 3].map((k) => cx.at(layer, k)) as [number, number, number, number];
  const flat = (layer.getInputAt(0) as unknown as { shape: unknown[] }).shape.length !== 4;
  const channels = cx.weights[gamma]!.shape[0]!;
  const to4 = (r: Ref) => (flat ? g.f('Reshape', [r, g.ints([-1, 1, 1, channels])], { Tshape: I32 }) : r);
  const to2 = (r: Ref) => (flat ? g.f('Reshape', [r, g.ints([-1, channels])], { Tshape: I32 }) : r);
  const x4 = to4(input);
  const attrs = { T: F32, U: F32, epsilon: { f: layer.epsilon }, data_format: { s: 'NHWC' }, is_training: { b: true } };
  const empty = g.constant('float32', [0], []);
  const bn = g.node('FusedBatchNormV3', [x4, cx.w[gamma]!, cx.w[beta]!, empty, empty], attrs, `${layer.name}/bn`, 6);
  // reserve spaces 1 and 2 (outputs 3 and 4): the batch mean and biased variance, what the op-by-op layer folds in
  const keep = g.scalar(layer.momentum);
  const take = g.scalar(1 - layer.momentum);
  for (const [k, stat] of [
    [mean, bn[3]!],
    [variance, bn[4]!],
  ] as const)
    cx.updates.set(k, g.f('AddV2', [g.f('Mul', [cx.w[k]!, keep]), g.f('Mul', [stat, take])]));
  const backward: Backward = (d) => {
    const grad = g.node(
      'FusedBatchNormGradV3',
      [to4(d), x4, cx.w[gamma]!, bn[3]!, bn[4]!, bn[5]!],
      attrs,
      'bn_grad',
      5,
    );
    if (cx.trained.has(gamma)) cx.grads.set(gamma, grad[1]!);
    if (cx.trained.has(beta)) cx.grads.set(beta, grad[2]!);
    return into ? to2(grad[0]!) : undefined;
  };
  return { out: to2(bn[0]!), backward };
}

/** A dense layer; with a softmax (the last layer only) its backward takes the gradient of its logits. */
function dense(
  cx: Context,
  layer: tfl.layers.Layer,
  input: Ref,
  into: boolean,
  last: boolean,
): Built | { reason: string } {
  const { g } = cx;
  const c = layer.getConfig() as { activation?: unknown; useBias?: boolean };
  const a = c.activation;
  if (!(a === 'relu' || a === 'linear' || (a === 'softmax' && last)))
    return { reason: `layer ${layer.name}: a dense layer the graph does not cover` };
  const k = cx.at(layer, 0);
  const kernel = cx.w[k]!;
  let out = g.f('MatMul', [input, kernel], {}, `${layer.name}/matmul`);
  const b = c.useBias ? cx.at(layer, 1) : undefined;
  if (b !== undefined) out = g.f('BiasAdd', [out, cx.w[b]!]);
  if (a === 'relu') out = g.f('Relu', [out]);
  if (a === 'softmax') out = g.f('Softmax', [out], {}, 'probs');
  const result = out;
  const backward: Backward = (d) => {
    const dz = a === 'relu' ? g.f('ReluGrad', [d, result]) : d;
    if (b !== undefined && cx.trained.has(b)) cx.grads.set(b, g.f('BiasAddGrad', [dz]));
    if (cx.trained.has(k)) cx.grads.set(k, g.f('MatMul', [input, dz], { transpose_a: { b: true } }));
    return into ? g.f('MatMul', [dz, kernel], { transpose_b: { b: true } }) : undefined;
  };
  return { out, backward, probs: a === 'softmax' };
}
