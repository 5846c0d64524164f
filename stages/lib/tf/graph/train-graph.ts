/**
 * One training step of a model as one TensorFlow graph: the forward pass in training mode, the train loop's loss
 * (clipped categorical cross-entropy, plus weight_decay/2 · Σ‖w‖² over the kernels), its gradient written out
 * layer by layer, and the optimizer's update (tfjs-node's Adam as TensorFlow's ApplyAdam computes it, or tfjs' SGD
 * with Nesterov momentum). The graph is stateless: it takes every weight, the optimizer's moments, the batch, the
 * dropout masks and the step's scalars, and returns the new weights, moments and batch-norm statistics, the loss
 * and the number of correct predictions. TensorFlow's executor then runs independent ops side by side and its
 * graph optimizer fuses what it can, which eager execution, one op per call from JavaScript, cannot.
 *
 * The layers (layers.ts) are those of models.ts: Conv2D, MaxPooling2D, BatchNorm, Activation, Flatten, Dense,
 * SeededDropout, Scale; the model must end in a softmax. Anything else: `compileStep` says why, and the train stage
 * runs the step op by op.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { SeededDropout } from '../models.js';
import type { StepVariables } from '../step-variables.js';
import { F32, Graph, I32, type Ref } from './graph-def.js';
import { type Backward, buildLayer, type Context } from './layers.js';

/** The optimizer's settings and which weights it trains, decays and scales (step-variables.ts). */
export interface StepOptions extends StepVariables {
  optimizer: 'adam' | 'sgd';
  momentum: number;
  weightDecay: number;
  epsilon: number;
}

/** What the compiled graph takes and gives, in order. */
export interface StepGraph {
  savedModel: Uint8Array;
  /**
   * Placeholder names: every model weight, the moments (every trained weight's m, then every v; or every momentum),
   * x, y, one mask per dropout layer, then `neg_inv_n` (-1 / batch size) and the optimizer's scalars.
   */
  inputs: string[];
  /** Output tensors: the updated weights (`updated`, by model-weight index), the moments, the loss and hits. */
  outputs: Ref[];
  updated: number[];
  dropouts: SeededDropout[];
  /** Moments per trained weight: 2 (Adam) or 1 (momentum). */
  slots: number;
  nodes: number;
}

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

  const trainedSet = new Set(trainedIdx as number[]);
  const cx: Context = {
    g,
    w: wRefs,
    weights,
    at: (layer, k) => index.get(layer.weights[k]!.name)!,
    trained: trainedSet,
    grads: new Map(),
    updates: new Map(),
    inputs,
    dropouts: [],
  };
  const needs = (layer: tfl.layers.Layer) => layer.weights.some((w) => trainedSet.has(index.get(w.name)!));
  const backwards: Backward[] = [];
  let h = x;
  let probs: Ref | undefined;
  for (let i = 0; i < layers.length; i++) {
    // the layer's input needs a gradient when some layer before it trains
    const into = layers.slice(0, i).some(needs);
    const built = buildLayer(cx, layers[i]!, h, into, i === layers.length - 1);
    if ('reason' in built) return built;
    backwards.push(built.backward);
    h = built.out;
    if (built.probs) probs = h;
  }
  if (probs === undefined) return { reason: 'the model does not end in a softmax' };
  const { grads, updates, dropouts } = cx;

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
  // logits' gradient.
  let d: Ref | undefined = dLogits;
  for (let i = backwards.length - 1; i >= 0 && d !== undefined; i--) d = backwards[i]!(d);
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
  const perImage = g.f('Sum', [g.f('Mul', [y, g.f('Log', [clipped])]), last], { Tidx: I32 });
  let loss = g.f('Neg', [g.f('Mean', [perImage, g.ints([0])], { Tidx: I32 })], {}, 'xent');
  if (kernels.length > 0) {
    const sums = kernels.map(({ ref, rank }) =>
      g.f('Sum', [g.f('Square', [ref]), g.ints([...Array(rank).keys()])], { Tidx: I32 }),
    );
    const total = g.op('AddN', sums, { T: F32, N: { i: sums.length } });
    loss = g.f('AddV2', [loss, g.f('Mul', [total, g.scalar(weightDecay / 2)])], {}, 'loss');
  }
  // d/dclipped of -mean(Σ y log c) is -y / (n c); the clip passes it where lo <= p <= hi
  const dClipped = g.f('RealDiv', [g.f('Mul', [y, negInvN]), clipped]);
  const inside = g.op('LogicalAnd', [g.f('GreaterEqual', [probs, lo]), g.f('LessEqual', [probs, hi])]);
  const dProbs = g.f('SelectV2', [inside, dClipped, g.f('ZerosLike', [dClipped])]);
  const t = g.f('Mul', [dProbs, probs]);
  const dLogits = g.f('Sub', [t, g.f('Mul', [g.f('Sum', [t, last], { Tidx: I32, keep_dims: { b: true } }), probs])]);
  const argmax = (r: Ref) =>
    g.op('ArgMax', [r, g.constant('int32', [], [1])], {
      T: F32,
      Tidx: I32,
      output_type: I32,
    });
  const equal = g.op('Equal', [argmax(probs), argmax(y)], { T: I32 });
  const hits = g.op('Sum', [g.op('Cast', [equal], { SrcT: { type: 'bool' }, DstT: I32 }), g.ints([0])], {
    T: I32,
    Tidx: I32,
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
  if (missing !== undefined) return { reason: `no gradient reaches weight ${o.trained[trainedIdx.indexOf(missing)]}` };
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
