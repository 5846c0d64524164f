/**
 * The CNNs the train stage offers (`train.model`), built with tf.layers. Every initializer and every
 * dropout mask is seeded from the `seed` param, so the same params give the same network and the
 * same training run on a given backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { deriveSeed } from '../common/prng.js';
import { BatchNorm } from './batch-norm-layer.js';
import { Scale } from './scale-layer.js';
import { withNodeBiasRelu, withNodePool } from './node-conv.js';
import type { ModelName } from '../ml/params.js';

export interface ModelShape {
  height: number;
  width: number;
  channels: number;
  classes: number;
}

interface SeededDropoutArgs {
  rate: number;
  seed: number;
  name?: string;
}

/**
 * Dropout whose mask is a function of (seed, step). tf.layers' own Dropout either draws from
 * Math.random (not reproducible) or, given a seed, draws the SAME mask at every step (seedrandom is
 * re-created per call), which is not dropout any more. The training loop sets `step` before each
 * batch through `setDropoutStep`.
 */
export class SeededDropout extends tfl.layers.Layer {
  static className = 'SeededDropout';
  readonly rate: number;
  readonly seed: number;
  step = 0;

  constructor(args: SeededDropoutArgs) {
    super({ name: args.name });
    this.rate = args.rate;
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (kwargs.training !== true || this.rate <= 0) return x.clone();
    return tf.dropout(x, this.rate, undefined, this.stepSeed());
  }

  /** This step's mask as a tensor of `shape` (0, or 1 / (1 - rate)): what `call` multiplies its input by. */
  mask(shape: number[]): tf.Tensor {
    return tf.tidy(() => tf.dropout(tf.ones(shape), this.rate, undefined, this.stepSeed()));
  }

  private stepSeed(): number {
    return deriveSeed(this.seed, 'step', this.step);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(SeededDropout);

/** Points every SeededDropout of the model at this training step's masks. */
export function setDropoutStep(model: tfl.LayersModel, step: number): void {
  for (const layer of model.layers) if (layer instanceof SeededDropout) layer.step = step;
}

type Initializer = ReturnType<typeof tfl.initializers.heNormal>;

/** Hands out one distinct seed per initializer, in build order. */
class Seeds {
  private n = 0;
  constructor(private readonly base: number) {}
  next(purpose: string): number {
    return deriveSeed(this.base, purpose, this.n++);
  }
  he(): Initializer {
    return tfl.initializers.heNormal({ seed: this.next('init') });
  }
  glorot(): Initializer {
    return tfl.initializers.glorotUniform({ seed: this.next('init') });
  }
  dropout(rate: number, name: string): SeededDropout {
    return new SeededDropout({ rate, seed: this.next('dropout'), name });
  }
}

type Builder = (shape: ModelShape, seeds: Seeds) => tfl.layers.Layer[];

function conv(name: string, filters: number, seeds: Seeds, withBias = true, inputShape?: number[]): tfl.layers.Layer {
  return tfl.layers.conv2d({
    name,
    filters,
    kernelSize: 3,
    padding: 'same',
    activation: withBias ? 'relu' : 'linear',
    useBias: withBias,
    kernelInitializer: seeds.he(),
    ...(inputShape ? { inputShape } : {}),
  });
}

/** conv (no bias) -> batch-norm -> relu: the bias is redundant before a batch-norm shift. */
function convBn(name: string, filters: number, seeds: Seeds, inputShape?: number[]): tfl.layers.Layer[] {
  return [
    conv(`${name}`, filters, seeds, false, inputShape),
    new BatchNorm({ name: `${name}_bn`, momentum: 0.9 }),
    tfl.layers.activation({ name: `${name}_relu`, activation: 'relu' }),
  ];
}

const pool = (name: string) => tfl.layers.maxPooling2d({ name, poolSize: 2, strides: 2 });
const inputOf = (s: ModelShape) => [s.height, s.width, s.channels];
const head = (s: ModelShape, seeds: Seeds) =>
  tfl.layers.dense({
    name: 'logits_softmax',
    units: s.classes,
    activation: 'softmax',
    kernelInitializer: seeds.glorot(),
  });

/**
 * airbench's groups (`fast` and `air`): per width, conv -> max-pool -> bn -> relu -> conv -> bn -> relu, then a
 * global max-pool over what is left of `size` (the input's side) and a flatten.
 */
function airbenchGroups(widths: number[], size: number, seeds: Seeds): tfl.layers.Layer[] {
  const layers: tfl.layers.Layer[] = [];
  widths.forEach((w, i) => {
    const g = `group${i + 1}`;
    layers.push(
      conv(`${g}a`, w, seeds, false),
      withNodePool(pool(`${g}_pool`)),
      new BatchNorm({ name: `${g}a_bn`, momentum: 0.9 }),
      tfl.layers.activation({ name: `${g}a_relu`, activation: 'relu' }),
      ...convBn(`${g}b`, w, seeds),
    );
    size = Math.floor(size / 2);
  });
  layers.push(
    tfl.layers.maxPooling2d({ name: 'global_pool', poolSize: size, strides: size }),
    tfl.layers.flatten({ name: 'flatten' }),
  );
  return layers;
}

/** The `air` model's frozen first convolution (2x2 patches) and its name, found by stages/lib/tf/whiten.ts. */
export const WHITEN_LAYER = 'whiten';
export const WHITEN_KERNEL = 2;

const BUILDERS: Record<ModelName, Builder> = {
  /** One small conv: for tests, trains in seconds on the cpu backend. */
  tiny: (s, seeds) => [
    conv('conv1', 8, seeds, true, inputOf(s)),
    pool('pool1'),
    tfl.layers.flatten({ name: 'flatten' }),
    head(s, seeds),
  ],
  seed: (s, seeds) => [
    withNodeBiasRelu(conv('conv1', 32, seeds, true, inputOf(s))),
    withNodePool(pool('pool1')),
    withNodeBiasRelu(conv('conv2', 64, seeds)),
    withNodePool(pool('pool2')),
    withNodeBiasRelu(conv('conv3', 128, seeds)),
    withNodePool(pool('pool3')),
    tfl.layers.flatten({ name: 'flatten' }),
    tfl.layers.dense({ name: 'dense1', units: 256, activation: 'relu', kernelInitializer: seeds.he() }),
    seeds.dropout(0.5, 'dropout1'),
    head(s, seeds),
  ],
  bn: (s, seeds) => [
    ...convBn('conv1', 32, seeds, inputOf(s)),
    pool('pool1'),
    ...convBn('conv2', 64, seeds),
    pool('pool2'),
    ...convBn('conv3', 128, seeds),
    pool('pool3'),
    tfl.layers.flatten({ name: 'flatten' }),
    tfl.layers.dense({ name: 'dense1', units: 256, useBias: false, kernelInitializer: seeds.he() }),
    new BatchNorm({ name: 'dense1_bn', momentum: 0.9 }),
    tfl.layers.activation({ name: 'dense1_relu', activation: 'relu' }),
    seeds.dropout(0.5, 'dropout1'),
    head(s, seeds),
  ],
  /**
   * Two 3x3 conv-bn-relu per block, widths 32/64/128 (~230 MFLOP per training image, 3.5x the seed
   * model): the VGG-style net of the >=85% preset. 64/128/256 gains little accuracy for 4x the time.
   */
  vgg: (s, seeds) => {
    const layers: tfl.layers.Layer[] = [];
    const widths = [32, 64, 128];
    const drops = [0.2, 0.3, 0.4];
    widths.forEach((w, i) => {
      const b = i + 1;
      layers.push(...convBn(`conv${b}a`, w, seeds, i === 0 ? inputOf(s) : undefined));
      layers.push(...convBn(`conv${b}b`, w, seeds));
      layers.push(pool(`pool${b}`));
      layers.push(seeds.dropout(drops[i]!, `dropout${b}`));
    });
    layers.push(
      tfl.layers.flatten({ name: 'flatten' }),
      tfl.layers.dense({ name: 'dense1', units: 256, useBias: false, kernelInitializer: seeds.he() }),
      new BatchNorm({ name: 'dense1_bn', momentum: 0.9 }),
      tfl.layers.activation({ name: 'dense1_relu', activation: 'relu' }),
      seeds.dropout(0.5, 'dropout4'),
      head(s, seeds),
    );
    return layers;
  },
  /**
   * airbench-style (Keller Jordan's fast CIFAR-10 nets, after Page's ResNet-9): a 24-channel 3x3
   * stem, then three groups of conv -> max-pool -> bn -> relu -> conv -> bn -> relu at widths
   * 32/64/128, a global max-pool and a linear softmax head. Pooling right after each group's first
   * conv runs the second conv at a quarter of the pixels: ~146 MFLOP per training image (2.2x the
   * seed model) for far more depth. Meant for SGD with a one-cycle schedule (the 85% preset).
   */
  fast: (s, seeds) => {
    return [
      withNodeBiasRelu(conv('stem', 24, seeds, true, inputOf(s))),
      ...airbenchGroups([32, 64, 128], s.height, seeds),
      head(s, seeds),
    ];
  },
  /**
   * airbench94's network (Keller Jordan, "94% on CIFAR-10 in 3.29 Seconds on a Single GPU", 2024): the `fast`
   * groups at widths 64/256/256 behind a frozen 2x2 patch-whitening convolution (24 filters, no padding: 31x31,
   * set from the training images by whitening.ts before training; zeros until then), a global max-pool over the
   * last 3x3 and a linear head without bias whose logits are scaled by 0.125 (scale-layer.ts) before the softmax.
   * ~710 MFLOP per training image, 4.9x `fast`. The 91% preset's model.
   */
  air: (s, seeds) => [
    tfl.layers.conv2d({
      name: WHITEN_LAYER,
      filters: 2 * WHITEN_KERNEL * WHITEN_KERNEL * s.channels,
      kernelSize: WHITEN_KERNEL,
      padding: 'valid',
      useBias: false,
      trainable: false,
      kernelInitializer: 'zeros',
      inputShape: inputOf(s),
    }),
    tfl.layers.activation({ name: 'whiten_relu', activation: 'relu' }),
    ...airbenchGroups([64, 256, 256], s.height - WHITEN_KERNEL + 1, seeds),
    tfl.layers.dense({ name: 'logits', units: s.classes, useBias: false, kernelInitializer: seeds.glorot() }),
    new Scale({ name: 'logits_scale', factor: 0.125 }),
    tfl.layers.activation({ name: 'softmax', activation: 'softmax' }),
  ],
};

export function buildModel(name: ModelName, shape: ModelShape, seed: number): tfl.LayersModel {
  const seeds = new Seeds(deriveSeed(seed, 'model', name));
  return tfl.sequential({ name, layers: BUILDERS[name](shape, seeds) });
}
