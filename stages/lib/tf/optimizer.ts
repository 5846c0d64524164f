/**
 * The train stage's optimizer for `train.optimizer`: Adam, or SGD with Nesterov momentum. On tfjs-node the whole
 * step runs as one TensorFlow graph (graph/graph-optimizer.ts) unless `train.run_eagerly` is set or the graph does
 * not cover the model; then op by op, Adam as TensorFlow's fused op (node-adam.ts). Elsewhere tfjs' own optimizers.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { TrainParams } from '../ml/params.js';
import type { BackendInfo } from './backend.js';
import { NodeAdam } from './node-adam.js';
import { stepVariables } from './step-variables.js';

type OptimizerParams = Pick<
  TrainParams,
  'optimizer' | 'lr' | 'momentum' | 'run_eagerly' | 'weight_decay' | 'bn_frozen_scale' | 'bn_bias_lr_scale'
>;

export interface Optimizer {
  optimizer: tf.Optimizer;
  /** How the step runs, for the stage's log: `one TensorFlow graph (N ops)` or `op by op` with the reason. */
  step: string;
}

export async function makeOptimizer(
  p: OptimizerParams,
  backend: Pick<BackendInfo, 'name'>,
  model: tfl.LayersModel,
): Promise<Optimizer> {
  const eager = (why: string) => ({ optimizer: eagerOptimizer(p, backend), step: `op by op (${why})` });
  if (backend.name !== 'node') return eager(`the ${backend.name} backend runs no TensorFlow graph`);
  if (p.run_eagerly) return eager('train.run_eagerly: true');
  const { GraphOptimizer } = await import('./graph/graph-optimizer.js');
  const made = GraphOptimizer.create(
    model,
    {
      optimizer: p.optimizer,
      momentum: p.momentum,
      weightDecay: p.weight_decay,
      epsilon: tf.backend().epsilon(),
      ...stepVariables(model, p),
    },
    p.lr,
  );
  if ('reason' in made) return eager(made.reason);
  return { optimizer: made, step: `one TensorFlow graph (${made.nodes} ops)` };
}

function eagerOptimizer(p: OptimizerParams, backend: Pick<BackendInfo, 'name'>): tf.Optimizer {
  if (p.optimizer === 'sgd') return tf.train.momentum(p.lr, p.momentum, true);
  return backend.name === 'node' ? new NodeAdam(p.lr) : tf.train.adam(p.lr);
}
