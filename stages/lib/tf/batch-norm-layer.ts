/**
 * Batch normalisation over the last axis with a hand-written gradient. tf.layers' own layer is
 * differentiated by the tape through tf.moments and FusedBatchNorm, some twenty full-size ops a
 * step per layer (a quarter of the bn model's step on wasm); the closed form below needs six
 * forward and six backward:
 *
 *   x̂ = (x - μ) / σ,  y = γ x̂ + β,  σ = sqrt(var + ε)      (μ, var over every axis but the last)
 *   dβ = Σ dy,  dγ = Σ dy x̂,  dx = γ / (n σ) · (n dy - dβ - x̂ dγ)
 *
 * Same semantics as tf.layers.batchNormalization (Keras): batch statistics while training (the
 * biased variance), moving averages `moving = momentum·moving + (1-momentum)·batch` for inference.
 * On tfjs-node the same thing runs as TensorFlow's FusedBatchNormV3 and its gradient (node-kernels.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { hasNodeBatchNorm, nodeBatchNormTrain } from './node-kernels.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

interface Args extends LayerArgs {
  momentum?: number;
  epsilon?: number;
}

type Weight = ReturnType<tfl.layers.Layer['addWeight']>;

export class BatchNorm extends tfl.layers.Layer {
  static className = 'LockstepBatchNorm';
  readonly momentum: number;
  readonly epsilon: number;
  private gamma!: Weight;
  private beta!: Weight;
  private movingMean!: Weight;
  private movingVariance!: Weight;

  constructor(args: Args = {}) {
    const { momentum: _m, epsilon: _e, ...layerArgs } = args;
    super(layerArgs);
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    this.supportsMasking = true;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[];
    const channels = shape[shape.length - 1]!;
    this.gamma = this.addWeight('gamma', [channels], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [channels], 'float32', tfl.initializers.zeros());
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', tfl.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight(
      'moving_variance',
      [channels],
      'float32',
      tfl.initializers.ones(),
      undefined,
      false,
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const gamma = this.gamma.read();
    const beta = this.beta.read();
    if (kwargs.training !== true) {
      return tf.batchNorm(x, this.movingMean.read(), this.movingVariance.read(), beta, gamma, this.epsilon);
    }
    if (hasNodeBatchNorm()) {
      const channels = x.shape[x.shape.length - 1]!;
      const x4 = x.rank === 4 ? (x as tf.Tensor4D) : tf.reshape(x, [-1, 1, 1, channels]);
      const out = nodeBatchNormTrain(x4 as tf.Tensor4D, gamma as tf.Tensor1D, beta as tf.Tensor1D, this.epsilon);
      this.updateMovingAverages(out.mean, out.variance);
      return x.rank === 4 ? out.y : tf.reshape(out.y, x.shape);
    }
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const n = x.size / x.shape[x.shape.length - 1]!;
    // the batch statistics, kept out of the forward pass for the moving averages
    const stats: { mean?: tf.Tensor; variance?: tf.Tensor } = {};
    const normalize = tf.customGrad(((xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      const mean = tf.mean(xs, axes);
      const centred = tf.sub(xs, mean);
      const variance = tf.mean(tf.square(centred), axes);
      const invStd = tf.rsqrt(tf.add(variance, this.epsilon));
      const xHat = tf.mul(centred, invStd);
      stats.mean = tf.keep(mean);
      stats.variance = tf.keep(variance);
      save([xHat, invStd, g]);
      return {
        value: tf.add(tf.mul(xHat, g), b),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const d = Array.isArray(dy) ? dy[0]! : dy;
          const [xh, inv, gm] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          const dBeta = tf.sum(d, axes);
          const dGamma = tf.sum(tf.mul(d, xh), axes);
          const scale = tf.div(tf.mul(gm, inv), n);
          const dx = tf.mul(scale, tf.sub(tf.sub(tf.mul(d, n), dBeta), tf.mul(xh, dGamma)));
          return [dx, dGamma, dBeta];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    const y = normalize(x, gamma, beta);
    const { mean, variance } = stats;
    if (mean !== undefined && variance !== undefined) this.updateMovingAverages(mean, variance);
    return y;
  }

  /** Folds a batch's statistics into the moving averages, then disposes them. */
  private updateMovingAverages(mean: tf.Tensor, variance: tf.Tensor): void {
    tf.tidy(() => {
      this.movingMean.write(tf.add(tf.mul(this.movingMean.read(), this.momentum), tf.mul(mean, 1 - this.momentum)));
      this.movingVariance.write(
        tf.add(tf.mul(this.movingVariance.read(), this.momentum), tf.mul(variance, 1 - this.momentum)),
      );
    });
    tf.dispose([mean, variance]);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(BatchNorm);
