/**
 * The train stage's CNNs (stages/lib/tf/models.ts) for the kernel tests and the throughput
 * benchmark, so both exercise exactly the layers training runs, plus their FLOP count.
 */
import type * as tf from '@tensorflow/tfjs';
import { buildModel as buildStageModel } from '../stages/lib/tf/models.js';
import { MODEL_NAMES as STAGE_MODELS, type ModelName as StageModel } from '../stages/lib/ml/params.js';

export type ModelName = Exclude<StageModel, 'tiny'>;
export const MODEL_NAMES: readonly ModelName[] = STAGE_MODELS.filter((m): m is ModelName => m !== 'tiny');

export interface ModelOptions {
  inputShape: [number, number, number];
  classes?: number;
  /** Seeds the dropout masks and initialisers, so two backends see the same network. */
  seed?: number;
}

/** Training FLOPs per image (forward + both backward GEMMs, 2 FLOP per multiply-add), for GFLOP/s figures. */
export function trainFlopsPerImage(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const cfg = layer.getConfig();
    const out = layer.outputShape as number[];
    if (layer.getClassName() === 'Conv2D') {
      const k = cfg.kernelSize as number[];
      const inC = (layer.input as tf.SymbolicTensor).shape[3]!;
      macs += out[1]! * out[2]! * out[3]! * k[0]! * k[1]! * inC;
    } else if (layer.getClassName() === 'Dense') {
      const inF = (layer.input as tf.SymbolicTensor).shape[1]!;
      macs += inF * out[1]!;
    }
  }
  return macs * 2 * 3;
}

export function buildModel(name: ModelName, opts: ModelOptions): tf.LayersModel {
  const [height, width, channels] = opts.inputShape;
  return buildStageModel(name, { height, width, channels, classes: opts.classes ?? 10 }, opts.seed ?? 1);
}
