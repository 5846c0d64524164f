/**
 * The custom training loop: the optimizer (Adam or Nesterov SGD) through optimizer.minimize, the
 * rate from ReduceLROnPlateau on val loss or from a per-step one-cycle or airbench schedule, optional label
 * smoothing, L2 weight decay and Lookahead, early stopping on val accuracy (keeping the best weights), a
 * checkpoint after every epoch. A custom loop rather than model.fit so shuffling, augmentation and
 * dropout draw from our seeded streams and every tensor's lifetime is explicit.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Mulberry32, deriveSeed, permutation } from '../common/prng.js';
import type { TrainParams } from '../ml/params.js';
import { afterEpoch, airbenchLr, oneCycleLr } from '../ml/schedule.js';
import { fillImages, fillOneHot, flipBits, type ImageShape } from './augment.js';
import { Lookahead, lookaheadDecay, lookaheadDue, lookaheadEvery } from './lookahead.js';
import { modelWeights, saveCheckpoint, type LoopState } from './checkpoint.js';
import { setDropoutStep } from './models.js';
import { isGraphOptimizer } from './graph/graph-optimizer.js';
import { stepVariables } from './step-variables.js';
import type { NamedTensor } from './model-io.js';
import { lossAndAccuracy, predictProbabilities } from './predict.js';

export interface TrainLoopInput {
  params: TrainParams;
  model: tfl.LayersModel;
  optimizer: tf.Optimizer;
  state: LoopState;
  /** Weights of the best epoch so far (kept tensors; replaced as it improves). */
  best: NamedTensor[];
  /** `indices` restricts training to a subset of the split's images. */
  train: { images: Uint8Array; labels: Uint8Array; indices?: Uint32Array };
  val: { images: Uint8Array; labels: Uint8Array; count: number };
  shape: ImageShape;
  classes: number;
  lut: Float32Array;
  checkpointDir: string;
  fingerprint: string;
  log: (line: string) => void;
  /** Called after each epoch's checkpoint with the history so far (the live curves of `lockstep ui`). */
  onEpoch?: (history: LoopState['history']) => Promise<void>;
}

export interface TrainLoopResult {
  state: LoopState;
  best: NamedTensor[];
  imagesPerSec: number;
  trainSeconds: number;
  epochsThisRun: number;
}

/** Long epochs report progress in between so a run never looks stuck (LOCKSTEP_TRAIN_PROGRESS_MS: tests). */
const PROGRESS_EVERY_MS = msFromEnv('LOCKSTEP_TRAIN_PROGRESS_MS', 20_000);
/**
 * The batches run synchronously; this often the loop lets the event loop turn, so Ctrl-C or the engine's SIGTERM
 * is handled within a batch or two (the temp folders go, the last checkpoint stays) instead of at the epoch's end.
 */
const YIELD_EVERY_MS = Math.min(250, PROGRESS_EVERY_MS);

function msFromEnv(name: string, fallback: number): number {
  const ms = Number(process.env[name] ?? Number.NaN);
  return Number.isFinite(ms) && ms >= 0 ? ms : fallback;
}

const turnOfTheLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function trainLoop(input: TrainLoopInput): Promise<TrainLoopResult> {
  const { params: p, model, optimizer, shape, classes, lut, log } = input;
  const state: LoopState = structuredClone(input.state);
  let best = input.best;
  const rng = new Mulberry32(state.rngState);
  const nTrain = input.train.indices?.length ?? input.train.labels.length;
  const size = shape.height * shape.width * shape.channels;
  const stepsPerEpoch = Math.ceil(nTrain / p.batch_size);
  const chosen = stepVariables(model, p);
  const registered = tf.engine().registeredVariables;
  const variables = chosen.trained.map((name) => registered[name]!);
  const decayed = chosen.decayed.map((name) => registered[name]!);
  const scaled = chosen.scaled;
  const totalSteps = p.epochs * stepsPerEpoch;
  const warmupSteps = Math.round(p.warmup_epochs * stepsPerEpoch);
  // Reused for every batch: the tensors made from them are disposed before the next refill.
  const xBuf = new Float32Array(p.batch_size * size);
  const yBuf = new Float32Array(p.batch_size * classes);
  let trainMs = 0;
  let imagesSeen = 0;
  let epochsThisRun = 0;
  if (state.stopped || state.epoch >= p.epochs) log(`checkpoint: training already finished after epoch ${state.epoch}`);
  // The alternating flip's first side per image (of the whole split: `order` holds split indices).
  const bits =
    p.flip === 'alternate' ? flipBits(input.train.labels.length, new Mulberry32(deriveSeed(p.seed, 'flip'))) : null;
  // A checkpoint is written right after an update, so a resumed run starts from the slow weights too.
  const lookahead = p.lookahead ? new Lookahead(model) : null;
  const lookaheadPeriod = lookaheadEvery(p.batch_size);

  while (!state.stopped && state.epoch < p.epochs) {
    const epoch = state.epoch;
    if (p.schedule === 'plateau') setLearningRate(optimizer, state.lr);
    const perm = permutation(nTrain, rng);
    const order = input.train.indices ? perm.map((i) => input.train.indices![i]!) : perm;
    const aug = p.augment
      ? {
          rng,
          pad: p.translate,
          flip: bits === null,
          reflect: p.pad_mode === 'reflect',
          ...(bits ? { alternate: { flipBits: bits, epoch } } : {}),
        }
      : undefined;
    let lossSum = 0;
    let correct = 0;
    const t0 = performance.now();
    let lastLog = t0;
    let lastYield = t0;
    for (let step = 0; step < stepsPerEpoch; step++) {
      const start = step * p.batch_size;
      const n = Math.min(p.batch_size, nTrain - start);
      fillImages(xBuf, input.train.images, shape, lut, order, start, n, aug);
      fillOneHot(yBuf, input.train.labels, classes, order, start, n, p.label_smoothing);
      const globalStep = epoch * stepsPerEpoch + step;
      if (p.schedule !== 'plateau') {
        const rate = p.schedule === 'onecycle' ? oneCycleLr : airbenchLr;
        state.lr = rate(p.lr, globalStep, totalSteps, warmupSteps);
        setLearningRate(optimizer, state.lr);
      }
      setDropoutStep(model, globalStep);
      const [loss, hits] = trainStep(
        model,
        optimizer,
        variables,
        decayed,
        p.weight_decay,
        xBuf.subarray(0, n * size),
        yBuf.subarray(0, n * classes),
        n,
        shape,
        classes,
        scaled,
      );
      if (lookahead && lookaheadDue(globalStep + 1, lookaheadPeriod, step === stepsPerEpoch - 1))
        lookahead.update(lookaheadDecay(globalStep + 1, totalSteps));
      lossSum += loss * n;
      correct += hits;
      const now = performance.now();
      if (now - lastYield >= YIELD_EVERY_MS) {
        lastYield = now;
        await turnOfTheLoop();
      }
      if (now - lastLog > PROGRESS_EVERY_MS) {
        lastLog = now;
        const done = start + n;
        const rate = done / ((now - t0) / 1000);
        const epochLeft = (nTrain - done) / rate;
        log(
          `  epoch ${epoch + 1} of ${p.epochs}: ${done}/${nTrain} images, loss ${fmt(lossSum / done)}, ` +
            `${rate.toFixed(1)} images/s, ` +
            `epoch done in ${duration(epochLeft)}, run in ` +
            `${duration(epochLeft + ((p.epochs - epoch - 1) * nTrain) / rate)}`,
        );
      }
    }
    const epochMs = performance.now() - t0;
    trainMs += epochMs;
    imagesSeen += nTrain;
    epochsThisRun++;

    const probs = predictProbabilities(model, input.val.images, input.val.count, shape, lut, classes, p.batch_size);
    const v = lossAndAccuracy(probs, input.val.labels, classes);
    const record = {
      epoch: epoch + 1,
      loss: lossSum / nTrain,
      accuracy: correct / nTrain,
      val_loss: v.loss,
      val_acc: v.accuracy,
      lr: state.lr,
    };
    state.history.push(record);
    state.epoch = epoch + 1;
    const decision = afterEpoch(state, epoch + 1, v.loss, v.accuracy, p);
    Object.assign(state, decision.state);
    if (decision.isBest) {
      tf.dispose(best.map((w) => w.tensor));
      best = modelWeights(model).map((w) => ({ name: w.name, tensor: tf.keep(w.tensor.clone()) }));
    }
    state.rngState = rng.state;

    await saveCheckpoint(input.checkpointDir, input.fingerprint, state, model, best, optimizer);
    await input.onEpoch?.(state.history);
    log(
      `epoch ${record.epoch}/${p.epochs}: loss ${fmt(record.loss)} acc ${fmt(record.accuracy)} ` +
        `val_loss ${fmt(record.val_loss)} val_acc ${fmt(record.val_acc)} lr ${record.lr} | ` +
        `${(nTrain / (epochMs / 1000)).toFixed(1)} images/s | run done in ` +
        `${duration(((p.epochs - state.epoch) * trainMs) / epochsThisRun / 1000)} | tensors ` +
        `${tf.memory().numTensors}` +
        (state.stopped ? ` | early stop (best epoch ${state.bestEpoch})` : ''),
    );
  }
  lookahead?.dispose();
  return {
    state,
    best,
    imagesPerSec: trainMs > 0 ? imagesSeen / (trainMs / 1000) : 0,
    trainSeconds: trainMs / 1000,
    epochsThisRun,
  };
}

/** Variables (by name) whose gradient is multiplied by `factor` before the optimizer applies it. */
export interface GradientScale {
  names: Set<string>;
  factor: number;
}

/**
 * One optimizer step on a filled batch; returns its loss and correct count (the only sync point of a step). A
 * GraphOptimizer runs it as one TensorFlow graph, compiled for the same variables, decay and scales.
 */
export function trainStep(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  decayed: tf.Variable[],
  weightDecay: number,
  xData: Float32Array,
  yData: Float32Array,
  n: number,
  shape: ImageShape,
  classes: number,
  scaled?: GradientScale,
): [loss: number, correct: number] {
  // The whole step as one TensorFlow graph (tfjs-node): it knows the variables, decay and scales from its compile.
  if (isGraphOptimizer(optimizer))
    return optimizer.runStep(xData, yData, n, [shape.height, shape.width, shape.channels], classes);
  let hits: tf.Tensor | undefined;
  const cost = tf.tidy(() => {
    const x = tf.tensor4d(xData, [n, shape.height, shape.width, shape.channels]);
    const y = tf.tensor2d(yData, [n, classes]);
    const loss = () => {
      const probs = model.apply(x, { training: true }) as tf.Tensor2D;
      hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probs, 1), tf.argMax(y, 1)), 'int32')));
      const clipped = tf.clipByValue(probs, 1e-7, 1 - 1e-7);
      const xent = tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(clipped)), -1))) as tf.Scalar;
      if (decayed.length === 0) return xent;
      // weight_decay/2 · Σ‖w‖² adds weight_decay · w to each kernel's gradient
      return tf.add(xent, tf.mul(weightDecay / 2, tf.addN(decayed.map((w) => tf.sum(tf.square(w)))))) as tf.Scalar;
    };
    if (scaled === undefined) return optimizer.minimize(loss, true, variables) as tf.Scalar;
    // A gradient times k is the rate times k for SGD with momentum (linear in the gradient): per-variable rates.
    const { value, grads } = optimizer.computeGradients(loss, variables);
    for (const name of Object.keys(grads))
      if (scaled.names.has(name)) grads[name] = tf.mul(grads[name]!, scaled.factor);
    optimizer.applyGradients(grads);
    return value;
  });
  const loss = cost.dataSync()[0]!;
  const correct = hits!.dataSync()[0]!;
  cost.dispose();
  hits!.dispose();
  return [loss, correct];
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // SGD and momentum keep the rate as a scalar tensor behind setLearningRate; Adam reads
  // `learningRate` on every applyGradients and has no setter.
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

const fmt = (x: number) => x.toFixed(4);

/** 75 -> '1m15s', 4000 -> '1h06m': the time left, to the second under an hour. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
