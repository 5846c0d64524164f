/** The train and evaluate knobs of params.yaml, with defaults and one-line errors naming the param. */
import type { ParamsFile } from '../common/params.js';
import { StageError } from '../common/stage.js';

export const MODEL_NAMES = ['tiny', 'seed', 'bn', 'vgg', 'fast', 'air'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
export const BACKEND_NAMES = ['auto', 'node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export const OPTIMIZER_NAMES = ['adam', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];
export const SCHEDULE_NAMES = ['plateau', 'onecycle', 'airbench'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];
export const TTA_NAMES = ['none', 'flip', 'flip-translate'] as const;
export const PAD_MODES = ['zero', 'reflect'] as const;
export type PadMode = (typeof PAD_MODES)[number];
export const FLIP_MODES = ['random', 'alternate'] as const;
export type FlipMode = (typeof FLIP_MODES)[number];
export type TtaName = (typeof TTA_NAMES)[number];

export interface TrainParams {
  seed: number;
  model: ModelName;
  backend: BackendName;
  epochs: number;
  batch_size: number;
  /** adam, or sgd with Nesterov momentum. */
  optimizer: OptimizerName;
  momentum: number;
  /**
   * plateau: ReduceLROnPlateau from `lr`; onecycle: per step, linear from 0 to `lr` over warmup_epochs, then linear
   * to 0 at `epochs`; airbench: airbench94's, linear from 0.2 x `lr` to `lr` over warmup_epochs, then to 0.07 x `lr`.
   */
  schedule: ScheduleName;
  warmup_epochs: number;
  lr: number;
  /** L2 on conv and dense kernels: weight_decay × w joins each kernel's gradient. */
  weight_decay: number;
  label_smoothing: number;
  lr_factor: number;
  lr_patience: number;
  min_lr: number;
  early_stopping_patience: number;
  augment: boolean;
  /** Pixels each way of the random translation (the crop's padding), when augment is on. */
  translate: number;
  /** What fills the pixels a translation brings in: zero (the channel mean) or the image mirrored at its edge. */
  pad_mode: PadMode;
  /**
   * random: each image mirrored with probability 1/2 in every epoch; alternate: airbench94's derandomized flip, a
   * seeded coin per image in the first epoch, then the other side in every other epoch.
   */
  flip: FlipMode;
  /**
   * airbench94's Lookahead: every 5,120 images (and at each epoch's end) the weights become a moving average of
   * themselves, with decay 0.95^5 x (step/total)^3; training ends on the averaged weights.
   */
  lookahead: boolean;
  /** airbench94's Dirac initialisation of the 3x3 convolutions' first in_channels filters (stages/lib/tf/dirac.ts). */
  dirac_init: boolean;
  /** airbench94's batch norm: the scales stay at 1 (not trained). */
  bn_frozen_scale: boolean;
  /** The batch-norm shifts' rate as a multiple of `lr` (airbench94: 64); sgd only. */
  bn_bias_lr_scale: number;
  /** 0 = all training images. */
  max_train_images: number;
  /**
   * On tfjs-node the training step runs as one TensorFlow graph (stages/lib/tf/graph/) unless this is true: then
   * op by op from JavaScript, as in earlier versions (other last bits); Keras' name for the same choice. Other
   * backends always run op by op.
   */
  run_eagerly: boolean;
}

export interface EvaluateParams {
  batch_size: number;
  samples: number;
  backend: BackendName;
  /** Test-time augmentation: flip = the mean of the probabilities of each image and its mirror image. */
  tta: TtaName;
}

const TRAIN_DEFAULTS: Omit<TrainParams, 'seed'> = {
  model: 'seed',
  backend: 'auto',
  epochs: 20,
  batch_size: 128,
  optimizer: 'adam',
  momentum: 0.9,
  schedule: 'plateau',
  warmup_epochs: 2,
  lr: 0.001,
  weight_decay: 0,
  label_smoothing: 0,
  lr_factor: 0.5,
  lr_patience: 2,
  min_lr: 1e-5,
  early_stopping_patience: 5,
  augment: true,
  translate: 4,
  pad_mode: 'zero',
  flip: 'random',
  lookahead: false,
  dirac_init: false,
  bn_frozen_scale: false,
  bn_bias_lr_scale: 1,
  run_eagerly: false,
  max_train_images: 0,
};

const EVALUATE_DEFAULTS: EvaluateParams = { batch_size: 500, samples: 64, backend: 'auto', tta: 'none' };

type Doc = Record<string, unknown>;

/** One section of params.yaml as a plain mapping ({} when absent), its errors placed at the section. */
function section(params: ParamsFile, name: string): Doc {
  const value = params.value(name);
  if (value == null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new StageError(`${params.where(name)}: ${name}: expected a mapping`);
  return value as Doc;
}

function checkKeys(params: ParamsFile, sec: Doc, allowed: readonly string[], prefix: string): void {
  for (const key of Object.keys(sec)) {
    if (!allowed.includes(key)) {
      throw new StageError(
        `${params.where(`${prefix}.${key}`)}: ${prefix}.${key}: unknown param`,
        `Known: ${allowed.join(', ')}.`,
      );
    }
  }
}

function num(
  params: ParamsFile,
  sec: Doc,
  key: string,
  fallback: number,
  prefix: string,
  check: (n: number) => boolean,
  rule: string,
): number {
  const value = sec[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new StageError(
      `${params.where(`${prefix}.${key}`)}: ${prefix}.${key}: expected ${rule}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function oneOf<T extends string>(
  params: ParamsFile,
  sec: Doc,
  key: string,
  fallback: T,
  names: readonly T[],
  prefix: string,
): T {
  const value = sec[key] ?? fallback;
  if (typeof value !== 'string' || !names.includes(value as T)) {
    throw new StageError(
      `${params.where(`${prefix}.${key}`)}: ${prefix}.${key}: unknown value ${JSON.stringify(value)}`,
      `Use one of: ${names.join(', ')}.`,
    );
  }
  return value as T;
}

function bool(params: ParamsFile, sec: Doc, key: string, fallback: boolean, prefix: string): boolean {
  const value = sec[key] ?? fallback;
  if (typeof value !== 'boolean')
    throw new StageError(
      `${params.where(`${prefix}.${key}`)}: ${prefix}.${key}: expected true or false, got ${JSON.stringify(value)}`,
    );
  return value;
}

const isInt = (n: number) => Number.isInteger(n);
const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
const nonNegativeInt = (n: number) => Number.isInteger(n) && n >= 0;

export function trainParams(params: ParamsFile): TrainParams {
  const sec = section(params, 'train');
  checkKeys(params, sec, Object.keys(TRAIN_DEFAULTS), 'train');
  const d = TRAIN_DEFAULTS;
  const augment = bool(params, sec, 'augment', d.augment, 'train');
  const lookahead = bool(params, sec, 'lookahead', d.lookahead, 'train');
  const bnFrozenScale = bool(params, sec, 'bn_frozen_scale', d.bn_frozen_scale, 'train');
  const diracInit = bool(params, sec, 'dirac_init', d.dirac_init, 'train');
  const runEagerly = bool(params, sec, 'run_eagerly', d.run_eagerly, 'train');
  const seedValue = params.value('seed') ?? 42;
  if (typeof seedValue !== 'number' || !isInt(seedValue))
    throw new StageError(`${params.where('seed')}: seed: expected an integer, got ${JSON.stringify(seedValue)}`);
  const p: TrainParams = {
    seed: seedValue,
    model: oneOf(params, sec, 'model', d.model, MODEL_NAMES, 'train'),
    backend: oneOf(params, sec, 'backend', d.backend, BACKEND_NAMES, 'train'),
    epochs: num(params, sec, 'epochs', d.epochs, 'train', positiveInt, 'a positive integer'),
    batch_size: num(params, sec, 'batch_size', d.batch_size, 'train', positiveInt, 'a positive integer'),
    optimizer: oneOf(params, sec, 'optimizer', d.optimizer, OPTIMIZER_NAMES, 'train'),
    momentum: num(params, sec, 'momentum', d.momentum, 'train', (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    schedule: oneOf(params, sec, 'schedule', d.schedule, SCHEDULE_NAMES, 'train'),
    warmup_epochs: num(
      params,
      sec,
      'warmup_epochs',
      d.warmup_epochs,
      'train',
      (n) => n >= 0,
      'a non-negative number of epochs',
    ),
    lr: num(params, sec, 'lr', d.lr, 'train', (n) => n > 0, 'a positive number'),
    weight_decay: num(params, sec, 'weight_decay', d.weight_decay, 'train', (n) => n >= 0, 'a non-negative number'),
    label_smoothing: num(
      params,
      sec,
      'label_smoothing',
      d.label_smoothing,
      'train',
      (n) => n >= 0 && n < 1,
      'a number in [0, 1)',
    ),
    lr_factor: num(params, sec, 'lr_factor', d.lr_factor, 'train', (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    lr_patience: num(params, sec, 'lr_patience', d.lr_patience, 'train', nonNegativeInt, 'a non-negative integer'),
    min_lr: num(params, sec, 'min_lr', d.min_lr, 'train', (n) => n >= 0, 'a non-negative number'),
    early_stopping_patience: num(
      params,
      sec,
      'early_stopping_patience',
      d.early_stopping_patience,
      'train',
      nonNegativeInt,
      'a non-negative integer (0 = off)',
    ),
    augment,
    translate: num(
      params,
      sec,
      'translate',
      d.translate,
      'train',
      (n) => nonNegativeInt(n) && n <= 8,
      'an integer 0-8',
    ),
    pad_mode: oneOf(params, sec, 'pad_mode', d.pad_mode, PAD_MODES, 'train'),
    flip: oneOf(params, sec, 'flip', d.flip, FLIP_MODES, 'train'),
    lookahead,
    dirac_init: diracInit,
    run_eagerly: runEagerly,
    bn_frozen_scale: bnFrozenScale,
    bn_bias_lr_scale: num(
      params,
      sec,
      'bn_bias_lr_scale',
      d.bn_bias_lr_scale,
      'train',
      (n) => n > 0,
      'a positive number',
    ),
    max_train_images: num(
      params,
      sec,
      'max_train_images',
      d.max_train_images,
      'train',
      nonNegativeInt,
      'a non-negative integer (0 = all)',
    ),
  };
  if (p.bn_bias_lr_scale !== 1 && p.optimizer !== 'sgd') {
    throw new StageError(
      `${params.where('train.bn_bias_lr_scale')}: train.bn_bias_lr_scale: a rate multiple needs train.optimizer: sgd ` +
        `(Adam divides the gradient's scale out), got train.optimizer: ${p.optimizer}`,
      'Set train.optimizer: sgd, or leave train.bn_bias_lr_scale at 1.',
    );
  }
  if (p.schedule !== 'plateau' && p.warmup_epochs >= p.epochs) {
    throw new StageError(
      `${params.where('train.warmup_epochs')}: train.warmup_epochs: ${p.warmup_epochs} leaves no epoch to anneal in ` +
        `(train.epochs is ${p.epochs})`,
      'Make it smaller than train.epochs.',
    );
  }
  return p;
}

export function evaluateParams(params: ParamsFile): EvaluateParams {
  const sec = section(params, 'evaluate');
  checkKeys(params, sec, Object.keys(EVALUATE_DEFAULTS), 'evaluate');
  const d = EVALUATE_DEFAULTS;
  return {
    batch_size: num(params, sec, 'batch_size', d.batch_size, 'evaluate', positiveInt, 'a positive integer'),
    samples: num(params, sec, 'samples', d.samples, 'evaluate', nonNegativeInt, 'a non-negative integer'),
    backend: oneOf(params, sec, 'backend', d.backend, BACKEND_NAMES, 'evaluate'),
    tta: oneOf(params, sec, 'tta', d.tta, TTA_NAMES, 'evaluate'),
  };
}
