/**
 * One training step of a model as one TensorFlow graph: the forward pass in training mode, the train loop's loss
 * (clipped categorical cross-entropy, plus weight_decay/2 · Σ‖w‖² over the kernels), its gradient written out
 * layer by layer, and the optimizer's update (tfjs-node's Adam as TensorFlow's ApplyAdam computes it, or tfjs' SGD
 * with Nesterov momentum). The graph is stateless: it takes every weight, the optimizer's moments, the batch, the
 * dropout masks and the step's scalars, and returns the new weights, moments and batch-norm statistics, the loss
 * and the number of correct predictions. TensorFlow's executor then runs independent ops side by side and its
 * graph optimizer fuses what it can, which eager execution, one op per call from JavaScript, cannot.
 *
 * The layers covered are those of models.ts (Conv2D, MaxPooling2D, BatchNorm, Activation, Flatten, Dense,
 * SeededDropout, Scale); the last must end in a softmax. Anything else: `compileStep` says why, and the train stage
 * runs the step op by op.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { BatchNorm } from '../batch-norm-layer.js';
import { convConfig, isPlain2d, poolConfig } from '../layer-config.js';
import { SeededDropout } from '../models.js';
import { Scale } from '../scale-layer.js';
import { Graph, type Ref } from './graph-def.js';

export interface StepOptions {
  optimizer: 'adam' | 'sgd';
  momentum: number;
  weightDecay: number;
  /** Names of the variables the optimizer updates (the model's trainable weights, frozen scales left out). */
  trained: string[];
  /** Names of the kernels weight decay applies to. */
  decayed: string[];
  /** Names whose gradient is multiplied by `factor` (the batch-norm shifts' rate multiple). */
  scaled?: { names: string[]; factor: number };
  epsilon: number;
}

/** What the compiled graph takes and gives, in order. */
export interface StepGraph {
  savedModel: Uint8Array;
  /** Placeholder names: every model weight, the moments (per trained weight: m then v, or the momentum), x, y, */
  /** one mask per dropout layer, then `neg_inv_n` and the optimizer's scalars. */
  inputs: string[];
  /** Output tensors: the updated weights (`updated`, by model-weight index), the moments, the loss and hits. */
  outputs: Ref[];
  updated: number[];
  dropouts: SeededDropout[];
  /** Moments per trained weight: 2 (Adam) or 1 (momentum). */
  slots: number;
  nodes: number;
}

type Backward = (g: Ref) => Ref | undefined;

const F: { type: 'float32' } = { type: 'float32' };

/** The model's step graph, or the reason it cannot be one. */
export function compileStep(model: tfl.LayersModel, o: StepOptions): StepGraph | { reason: string } {
  const g = new Graph();
  const weights = model.weights;
  const index = new Map(weights.map((w, i) => [w.name, i]));
  const wRefs = weights.map((w, i) => g.placeholder(`w${i}`, w.shape as number[]));
  const trainedIdx = o.trained.map((n) => index.get(n));
  if (trainedIdx.some((i) => i === undefined)) return { reason: 'a trained variable is not a weight of the model' };
  const slots = o.optimizer === 'adam' ? 2 : 1;
  const slotRefs = Array.from({ length: slots }, (_, s) =>
    trainedIdx.map((i) => g.placeholder(`s${s}_${i}`, weights[i!]!.shape as number[])),
  );
  const layers = model.layers;
  const first = layers[0]!;
  const inShape = (first.batchInputShape ?? []).slice(1) as number[];
  const outShape = (model.outputs[0]!.shape as (number | null)[]).slice(1) as number[];
  const x = g.placeholder('x', [-1, ...inShape]);
  const y = g.placeholder('y', [-1, ...outShape]);
  const inputs = [...wRefs, ...slotRefs.flat(), x, y].map((r) => r.slice(0, -2));

  const grads = new Map<number, Ref>();
  const updates = new Map<number, Ref>();
  const trainedSet = new Set(trainedIdx as number[]);
  const needs = (layer: tfl.layers.Layer) => layer.weights.some((w) => trainedSet.has(index.get(w.name)!));
  // Whether a gradient must flow into layer i's input: some layer before it trains.
  const below = layers.map((_, i) => layers.slice(0, i).some(needs));
  const dropouts: SeededDropout[] = [];
  const backwards: Backward[] = [];
  let h = x;
  let probs: Ref | undefined;
  const w = (layer: tfl.layers.Layer, k: number) => index.get(layer.weights[k]!.name)!;

  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    const into = below[i]!;
    const last = i === layers.length - 1;
    const cls = layer.getClassName();
    const input = h;
    if (cls === 'Conv2D') {
      const c = convConfig(layer);
      if (!c || !isPlain2d(c) || (c.activation !== 'relu' && c.activation !== 'linear'))
        return { reason: `layer ${layer.name}: a convolution the graph does not cover` };
      const conv = { strides: { ints: [1, ...c.strides, 1] }, padding: { s: c.padding.toUpperCase() } };
      const kIdx = w(layer, 0);
      const kernel = wRefs[kIdx]!;
      let out = g.f('Conv2D', [input, kernel], conv, `${layer.name}/conv`);
      const bIdx = c.useBias ? w(layer, 1) : undefined;
      if (bIdx !== undefined) out = g.f('BiasAdd', [out, wRefs[bIdx]!], {}, `${layer.name}/bias`);
      const relu = c.activation === 'relu';
      if (relu) out = g.f('Relu', [out], {}, `${layer.name}/relu`);
      const result = out;
      backwards.push((d) => {
        const dz = relu ? g.f('ReluGrad', [d, result]) : d;
        if (bIdx !== undefined && trainedSet.has(bIdx)) grads.set(bIdx, g.f('BiasAddGrad', [dz]));
        if (trainedSet.has(kIdx)) {
          const sizes = g.ints(weights[kIdx]!.shape as number[]);
          grads.set(kIdx, g.f('Conv2DBackpropFilter', [input, sizes, dz], conv));
        }
        if (!into) return undefined;
        return g.f(
          'Conv2DBackpropInput',
          [g.op('Shape', [input], { T: F, out_type: { type: 'int32' } }), kernel, dz],
          conv,
        );
      });
      h = out;
    } else if (cls === 'MaxPooling2D') {
      const c = poolConfig(layer);
      if (!c) return { reason: `layer ${layer.name}: a pooling the graph does not cover` };
      const attrs = {
        ksize: { ints: [1, ...c.poolSize, 1] },
        strides: { ints: [1, ...c.strides, 1] },
        padding: { s: c.padding.toUpperCase() },
      };
      const out = g.f('MaxPool', [input], attrs, `${layer.name}/pool`);
      backwards.push((d) => (into ? g.f('MaxPoolGrad', [input, out, d], attrs) : undefined));
      h = out;
    } else if (layer instanceof BatchNorm) {
      const [gi, bi, mi, vi] = [0, 1, 2, 3].map((k) => w(layer, k)) as [number, number, number, number];
      const rank = (layer.getInputAt(0) as unknown as { shape: unknown[] }).shape.length;
      const channels = weights[gi]!.shape[0]!;
      const x4 =
        rank === 4 ? input : g.f('Reshape', [input, g.ints([-1, 1, 1, channels])], { Tshape: { type: 'int32' } });
      const attrs = { U: F, epsilon: { f: layer.epsilon }, data_format: { s: 'NHWC' }, is_training: { b: true } };
      const empty = g.constant('float32', [0], []);
      const bn = g.node(
        'FusedBatchNormV3',
        [x4, wRefs[gi]!, wRefs[bi]!, empty, empty],
        { T: F, ...attrs },
        `${layer.name}/bn`,
        6,
      );
      // reserve spaces 1 and 2 (outputs 3 and 4): the batch mean and biased variance, as the eager layer uses
      const momentum = g.scalar(layer.momentum);
      const rest = g.scalar(1 - layer.momentum);
      for (const [k, stat] of [
        [mi, bn[3]!],
        [vi, bn[4]!],
      ] as const)
        updates.set(k, g.f('AddV2', [g.f('Mul', [wRefs[k]!, momentum]), g.f('Mul', [stat, rest])]));
      const out = rank === 4 ? bn[0]! : g.f('Reshape', [bn[0]!, g.ints([-1, channels])], { Tshape: { type: 'int32' } });
      backwards.push((d) => {
        const d4 = rank === 4 ? d : g.f('Reshape', [d, g.ints([-1, 1, 1, channels])], { Tshape: { type: 'int32' } });
        const bg = g.node(
          'FusedBatchNormGradV3',
          [d4, x4, wRefs[gi]!, bn[3]!, bn[4]!, bn[5]!],
          { T: F, ...attrs },
          'bn_grad',
          5,
        );
        if (trainedSet.has(gi)) grads.set(gi, bg[1]!);
        if (trainedSet.has(bi)) grads.set(bi, bg[2]!);
        if (!into) return undefined;
        return rank === 4 ? bg[0]! : g.f('Reshape', [bg[0]!, g.ints([-1, channels])], { Tshape: { type: 'int32' } });
      });
      h = out;
    } else if (cls === 'Activation') {
      const a = (layer.getConfig() as { activation?: unknown }).activation;
      if (a === 'softmax' && last) {
        probs = g.f('Softmax', [input], {}, 'probs');
        backwards.push((d) => d);
        h = probs;
      } else if (a === 'relu') {
        const out = g.f('Relu', [input], {}, `${layer.name}/relu`);
        backwards.push((d) => g.f('ReluGrad', [d, out]));
        h = out;
      } else return { reason: `layer ${layer.name}: activation ${String(a)} the graph does not cover` };
    } else if (cls === 'Flatten') {
      const size = (layer.outputShape as number[])[1]!;
      const out = g.f('Reshape', [input, g.ints([-1, size])], { Tshape: { type: 'int32' } }, `${layer.name}/flat`);
      backwards.push((d) =>
        g.f('Reshape', [d, g.op('Shape', [input], { T: F, out_type: { type: 'int32' } })], {
          Tshape: { type: 'int32' },
        }),
      );
      h = out;
    } else if (cls === 'Dense') {
      const c = layer.getConfig() as { activation?: unknown; useBias?: boolean };
      const a = c.activation;
      if (!(a === 'relu' || a === 'linear' || (a === 'softmax' && last)))
        return { reason: `layer ${layer.name}: a dense layer the graph does not cover` };
      const kIdx = w(layer, 0);
      const kernel = wRefs[kIdx]!;
      let out = g.f('MatMul', [input, kernel], {}, `${layer.name}/matmul`);
      const bIdx = c.useBias ? w(layer, 1) : undefined;
      if (bIdx !== undefined) out = g.f('BiasAdd', [out, wRefs[bIdx]!]);
      if (a === 'relu') out = g.f('Relu', [out]);
      if (a === 'softmax') probs = out = g.f('Softmax', [out], {}, 'probs');
      const result = out;
      backwards.push((d) => {
        const dz = a === 'relu' ? g.f('ReluGrad', [d, result]) : d;
        if (bIdx !== undefined && trainedSet.has(bIdx)) grads.set(bIdx, g.f('BiasAddGrad', [dz]));
        if (trainedSet.has(kIdx)) grads.set(kIdx, g.f('MatMul', [input, dz], { transpose_a: { b: true } }));
        return into ? g.f('MatMul', [dz, kernel], { transpose_b: { b: true } }) : undefined;
      });
      h = out;
    } else if (layer instanceof SeededDropout) {
      if (layer.rate > 0) {
        const shape = (layer.outputShape as number[]).slice(1);
        const mask = g.placeholder(`mask${dropouts.length}`, [-1, ...shape]);
        inputs.push(mask.slice(0, -2));
        dropouts.push(layer);
        h = g.f('Mul', [input, mask], {}, `${layer.name}/drop`);
        backwards.push((d) => g.f('Mul', [d, mask]));
      } else backwards.push((d) => d);
    } else if (layer instanceof Scale) {
      const factor = g.scalar(layer.factor);
      h = g.f('Mul', [input, factor], {}, `${layer.name}/scale`);
      backwards.push((d) => g.f('Mul', [d, factor]));
    } else return { reason: `layer ${layer.name}: ${cls} is not a layer the graph covers` };
  }
  if (probs === undefined || h !== probs) return { reason: 'the model does not end in a softmax' };

  const negInvN = g.placeholder('neg_inv_n', []);
  inputs.push('neg_inv_n');
  const decayed = o.decayed.map((n) => index.get(n)!);
  const { loss, hits, dLogits } = lossHead(
    g,
    probs,
    y,
    negInvN,
    o.weightDecay,
    decayed.map((k) => ({ ref: wRefs[k]!, rank: weights[k]!.shape.length })),
  );
  // The softmax's gradient is in dLogits: a softmax Activation passes it on, a softmax Dense takes it as its
  // linear output's (its backward runs no ReluGrad for a softmax).
  let d: Ref | undefined = dLogits;
  const top = layers.length - 1;
  for (let i = layers[top]!.getClassName() === 'Activation' ? top - 1 : top; i >= 0 && d !== undefined; i--)
    d = backwards[i]!(d);
  for (const k of decayed) {
    grads.set(k, g.f('AddV2', [grads.get(k)!, g.f('Mul', [wRefs[k]!, g.scalar(o.weightDecay)])]));
  }
  for (const name of o.scaled?.names ?? []) {
    const k = index.get(name)!;
    grads.set(k, g.f('Mul', [grads.get(k)!, g.scalar(o.scaled!.factor)]));
  }
  const newSlots = applyOptimizer(g, o, trainedIdx as number[], wRefs, slotRefs, grads, updates, inputs);
  if ('reason' in newSlots) return newSlots;
  const updated = [...updates.keys()];
  return {
    savedModel: g.savedModel(),
    inputs,
    outputs: [...updated.map((k) => updates.get(k)!), ...newSlots.flat(), loss, hits],
    updated,
    dropouts,
    slots,
    nodes: g.size,
  };
}

function lossHead(
  g: Graph,
  probs: Ref,
  y: Ref,
  negInvN: Ref,
  weightDecay: number,
  kernels: { ref: Ref; rank: number }[],
): { loss: Ref; hits: Ref; dLogits: Ref } {
  const lo = g.scalar(1e-7);
  const hi = g.scalar(1 - 1e-7);
  const clipped = g.f('ClipByValue', [probs, lo, hi]);
  const last = g.ints([-1]);
  const perImage = g.f('Sum', [g.f('Mul', [y, g.f('Log', [clipped])]), last], { Tidx: { type: 'int32' } });
  let loss = g.f('Neg', [g.f('Mean', [perImage, g.ints([0])], { Tidx: { type: 'int32' } })], {}, 'xent');
  if (kernels.length > 0) {
    const sums = kernels.map(({ ref, rank }) =>
      g.f('Sum', [g.f('Square', [ref]), g.ints([...Array(rank).keys()])], { Tidx: { type: 'int32' } }),
    );
    const total = g.op('AddN', sums, { T: F, N: { i: sums.length } });
    loss = g.f('AddV2', [loss, g.f('Mul', [total, g.scalar(weightDecay / 2)])], {}, 'loss');
  }
  // d/dclipped of -mean(Σ y log c) is -y / (n c); the clip passes it where lo <= p <= hi
  const dClipped = g.f('RealDiv', [g.f('Mul', [y, negInvN]), clipped]);
  const inside = g.op('LogicalAnd', [g.f('GreaterEqual', [probs, lo]), g.f('LessEqual', [probs, hi])]);
  const dProbs = g.f('SelectV2', [inside, dClipped, g.f('ZerosLike', [dClipped])]);
  const t = g.f('Mul', [dProbs, probs]);
  const dLogits = g.f('Sub', [
    t,
    g.f('Mul', [g.f('Sum', [t, last], { Tidx: { type: 'int32' }, keep_dims: { b: true } }), probs]),
  ]);
  const argmax = (r: Ref) =>
    g.op('ArgMax', [r, g.constant('int32', [], [1])], {
      T: F,
      Tidx: { type: 'int32' },
      output_type: { type: 'int32' },
    });
  const equal = g.op('Equal', [argmax(probs), argmax(y)], { T: { type: 'int32' } });
  const hits = g.op('Sum', [g.op('Cast', [equal], { SrcT: { type: 'bool' }, DstT: { type: 'int32' } }), g.ints([0])], {
    T: { type: 'int32' },
    Tidx: { type: 'int32' },
  });
  return { loss, hits, dLogits };
}

function applyOptimizer(
  g: Graph,
  o: StepOptions,
  trainedIdx: number[],
  wRefs: Ref[],
  slotRefs: Ref[][],
  grads: Map<number, Ref>,
  updates: Map<number, Ref>,
  inputs: string[],
): Ref[][] | { reason: string } {
  const missing = trainedIdx.find((k) => !grads.has(k));
  if (missing !== undefined) return { reason: `no gradient reaches weight ${missing}` };
  if (o.optimizer === 'adam') {
    // TensorFlow's ApplyAdam: m += (g - m)(1 - β1); v += (g² - v)(1 - β2); w -= α m / (√v + ε')
    const alpha = g.placeholder('alpha', []);
    const eps = g.placeholder('epsilon', []);
    inputs.push('alpha', 'epsilon');
    const b1 = g.scalar(1 - 0.9);
    const b2 = g.scalar(1 - 0.999);
    const ms: Ref[] = [];
    const vs: Ref[] = [];
    trainedIdx.forEach((k, j) => {
      const grad = grads.get(k)!;
      const m = g.f('AddV2', [slotRefs[0]![j]!, g.f('Mul', [g.f('Sub', [grad, slotRefs[0]![j]!]), b1])]);
      const v = g.f('AddV2', [
        slotRefs[1]![j]!,
        g.f('Mul', [g.f('Sub', [g.f('Square', [grad]), slotRefs[1]![j]!]), b2]),
      ]);
      const step = g.f('RealDiv', [g.f('Mul', [m, alpha]), g.f('AddV2', [g.f('Sqrt', [v]), eps])]);
      updates.set(k, g.f('Sub', [wRefs[k]!, step]));
      ms.push(m);
      vs.push(v);
    });
    return [ms, vs];
  }
  // tfjs' Nesterov momentum: a = μ a + g; w += -lr (g + μ a)
  const negLr = g.placeholder('neg_lr', []);
  inputs.push('neg_lr');
  const mu = g.scalar(o.momentum);
  const accs: Ref[] = [];
  trainedIdx.forEach((k, j) => {
    const grad = grads.get(k)!;
    const acc = g.f('AddV2', [g.f('Mul', [mu, slotRefs[0]![j]!]), grad]);
    updates.set(k, g.f('AddV2', [g.f('Mul', [negLr, g.f('AddV2', [grad, g.f('Mul', [acc, mu])])]), wRefs[k]!]));
    accs.push(acc);
  });
  return [accs];
}
