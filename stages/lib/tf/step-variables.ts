/**
 * Which of a model's weights a training step updates, decays and scales, from the train params: shared by the
 * op-by-op step (train-loop.ts) and the graph step (graph/graph-optimizer.ts) so both train the same variables.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { TrainParams } from '../ml/params.js';

export interface StepVariables {
  /** airbench94's batch norm: scales frozen at 1 (left out of the trained variables), shifts at a higher rate. */
  trained: string[];
  /** Weight decay applies to conv and dense kernels, not to biases or batch-norm parameters. */
  decayed: string[];
  /** Variables whose gradient is multiplied by `factor` before the optimizer applies it. */
  scaled?: { names: Set<string>; factor: number };
}

export function stepVariables(
  model: tfl.LayersModel,
  p: Pick<TrainParams, 'bn_frozen_scale' | 'bn_bias_lr_scale' | 'weight_decay'>,
): StepVariables {
  const trained = model.trainableWeights.filter((w) => !(p.bn_frozen_scale && /\/gamma$/.test(w.originalName)));
  const decayed = p.weight_decay > 0 ? model.trainableWeights.filter((w) => /kernel$/.test(w.originalName)) : [];
  const betas = trained.filter((w) => /\/beta$/.test(w.originalName)).map((w) => w.name);
  return {
    trained: trained.map((w) => w.name),
    decayed: decayed.map((w) => w.name),
    ...(p.bn_bias_lr_scale !== 1 ? { scaled: { names: new Set(betas), factor: p.bn_bias_lr_scale } } : {}),
  };
}
