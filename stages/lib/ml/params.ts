/** The train and evaluate knobs of params.yaml, with defaults and one-line errors naming the param. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { StageError } from './stage.js';

export const MODEL_NAMES = ['tiny', 'seed', 'bn', 'vgg', 'fast'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
export const BACKEND_NAMES = ['auto', 'node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export const OPTIMIZER_NAMES = ['adam', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];
export const SCHEDULE_NAMES = ['plateau', 'onecycle'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];
export const TTA_NAMES = ['none', 'flip'] as const;
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
  /** plateau: ReduceLROnPlateau from `lr`; onecycle: per step, linear from 0 to `lr` over warmup_epochs, then linear to 0 at `epochs`. */
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
  /** 0 = all training images. */
  max_train_images: number;
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
  max_train_images: 0,
};

const EVALUATE_DEFAULTS: EvaluateParams = { batch_size: 500, samples: 64, backend: 'auto', tta: 'none' };

type Doc = Record<string, unknown>;

export function readParamsDoc(file = 'params.yaml'): Doc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new StageError(
      `${file}: cannot read the params file`,
      'Run the stage from the project root, where params.yaml is.',
    );
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new StageError(`${file}: invalid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc == null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new StageError(`${file}: expected a mapping at the top level`);
  return doc as Doc;
}

function section(doc: Doc, name: string, file: string): Doc {
  const value = doc[name];
  if (value == null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new StageError(`${file}: ${name}: expected a mapping`);
  return value as Doc;
}

function checkKeys(sec: Doc, allowed: readonly string[], prefix: string, file: string): void {
  for (const key of Object.keys(sec)) {
    if (!allowed.includes(key)) {
      throw new StageError(`${file}: ${prefix}.${key}: unknown param`, `Known: ${allowed.join(', ')}.`);
    }
  }
}

function num(
  sec: Doc,
  key: string,
  fallback: number,
  prefix: string,
  file: string,
  check: (n: number) => boolean,
  rule: string,
): number {
  const value = sec[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new StageError(`${file}: ${prefix}.${key}: expected ${rule}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function oneOf<T extends string>(
  sec: Doc,
  key: string,
  fallback: T,
  names: readonly T[],
  prefix: string,
  file: string,
): T {
  const value = sec[key] ?? fallback;
  if (typeof value !== 'string' || !names.includes(value as T)) {
    throw new StageError(
      `${file}: ${prefix}.${key}: unknown value ${JSON.stringify(value)}`,
      `Use one of: ${names.join(', ')}.`,
    );
  }
  return value as T;
}

const isInt = (n: number) => Number.isInteger(n);
const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
const nonNegativeInt = (n: number) => Number.isInteger(n) && n >= 0;

export function trainParams(doc: Doc, file = 'params.yaml'): TrainParams {
  const sec = section(doc, 'train', file);
  checkKeys(sec, Object.keys(TRAIN_DEFAULTS), 'train', file);
  const d = TRAIN_DEFAULTS;
  const augment = sec.augment ?? d.augment;
  if (typeof augment !== 'boolean')
    throw new StageError(`${file}: train.augment: expected true or false, got ${JSON.stringify(augment)}`);
  const seedValue = doc.seed ?? 42;
  if (typeof seedValue !== 'number' || !isInt(seedValue))
    throw new StageError(`${file}: seed: expected an integer, got ${JSON.stringify(seedValue)}`);
  const p: TrainParams = {
    seed: seedValue,
    model: oneOf(sec, 'model', d.model, MODEL_NAMES, 'train', file),
    backend: oneOf(sec, 'backend', d.backend, BACKEND_NAMES, 'train', file),
    epochs: num(sec, 'epochs', d.epochs, 'train', file, positiveInt, 'a positive integer'),
    batch_size: num(sec, 'batch_size', d.batch_size, 'train', file, positiveInt, 'a positive integer'),
    optimizer: oneOf(sec, 'optimizer', d.optimizer, OPTIMIZER_NAMES, 'train', file),
    momentum: num(sec, 'momentum', d.momentum, 'train', file, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    schedule: oneOf(sec, 'schedule', d.schedule, SCHEDULE_NAMES, 'train', file),
    warmup_epochs: num(
      sec,
      'warmup_epochs',
      d.warmup_epochs,
      'train',
      file,
      (n) => n >= 0,
      'a non-negative number of epochs',
    ),
    lr: num(sec, 'lr', d.lr, 'train', file, (n) => n > 0, 'a positive number'),
    weight_decay: num(sec, 'weight_decay', d.weight_decay, 'train', file, (n) => n >= 0, 'a non-negative number'),
    label_smoothing: num(
      sec,
      'label_smoothing',
      d.label_smoothing,
      'train',
      file,
      (n) => n >= 0 && n < 1,
      'a number in [0, 1)',
    ),
    lr_factor: num(sec, 'lr_factor', d.lr_factor, 'train', file, (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    lr_patience: num(sec, 'lr_patience', d.lr_patience, 'train', file, nonNegativeInt, 'a non-negative integer'),
    min_lr: num(sec, 'min_lr', d.min_lr, 'train', file, (n) => n >= 0, 'a non-negative number'),
    early_stopping_patience: num(
      sec,
      'early_stopping_patience',
      d.early_stopping_patience,
      'train',
      file,
      nonNegativeInt,
      'a non-negative integer (0 = off)',
    ),
    augment,
    max_train_images: num(
      sec,
      'max_train_images',
      d.max_train_images,
      'train',
      file,
      nonNegativeInt,
      'a non-negative integer (0 = all)',
    ),
  };
  if (p.schedule === 'onecycle' && p.warmup_epochs >= p.epochs) {
    throw new StageError(
      `${file}: train.warmup_epochs: ${p.warmup_epochs} leaves no epoch to anneal in (train.epochs is ${p.epochs})`,
      'Make it smaller than train.epochs.',
    );
  }
  return p;
}

export function evaluateParams(doc: Doc, file = 'params.yaml'): EvaluateParams {
  const sec = section(doc, 'evaluate', file);
  checkKeys(sec, Object.keys(EVALUATE_DEFAULTS), 'evaluate', file);
  const d = EVALUATE_DEFAULTS;
  return {
    batch_size: num(sec, 'batch_size', d.batch_size, 'evaluate', file, positiveInt, 'a positive integer'),
    samples: num(sec, 'samples', d.samples, 'evaluate', file, nonNegativeInt, 'a non-negative integer'),
    backend: oneOf(sec, 'backend', d.backend, BACKEND_NAMES, 'evaluate', file),
    tta: oneOf(sec, 'tta', d.tta, TTA_NAMES, 'evaluate', file),
  };
}
