/**
 * The train stage's optimizer for `train.optimizer`: Adam, or SGD with Nesterov momentum. On tfjs-node Adam is
 * TensorFlow's fused op (node-adam.ts); elsewhere tfjs' own optimizers.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainParams } from '../ml/params.js';
import type { BackendInfo } from './backend.js';
import { NodeAdam } from './node-adam.js';

export function makeOptimizer(
  p: Pick<TrainParams, 'optimizer' | 'lr' | 'momentum'>,
  backend: Pick<BackendInfo, 'name'>,
): tf.Optimizer {
  if (p.optimizer === 'sgd') return tf.train.momentum(p.lr, p.momentum, true);
  return backend.name === 'node' ? new NodeAdam(p.lr) : tf.train.adam(p.lr);
}
