/**
 * airbench94's Lookahead (Keller Jordan, cifar10-airbench legacy/airbench94.py, after Zhang et al. 2019): a slow
 * copy of every weight of the model (batch-norm moving statistics included); at each update the slow weights move
 * towards the model's by 1 - decay and the model takes them over. The decay grows as 0.95^5 x (t/T)^3 over the
 * T steps of the run, so early training is untouched and the last epochs average over many steps.
 * airbench94 updates every 5 steps of 1,024 images; here the period is counted in images, 5,120 whatever the
 * batch (40 steps of 128), so that the average spans as much of the run as airbench94's does.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Images between two updates: airbench94's 5 steps of 1,024. */
export const LOOKAHEAD_EVERY_IMAGES = 5 * 1024;

/** Steps between two updates at this batch size (at least 1). */
export const lookaheadEvery = (batchSize: number) => Math.max(1, Math.round(LOOKAHEAD_EVERY_IMAGES / batchSize));

/** The decay of the update after `step` steps (1-based) of `totalSteps`. */
export const lookaheadDecay = (step: number, totalSteps: number) => 0.95 ** 5 * (step / totalSteps) ** 3;

/** Whether the update runs after this step (1-based): every `every` steps and after each epoch's last. */
export const lookaheadDue = (step: number, every: number, lastOfEpoch: boolean) => lastOfEpoch || step % every === 0;

export class Lookahead {
  private readonly vars: tf.Variable[];
  private slow: tf.Tensor[];

  /** Starts from the model's weights as they are (fresh, or as resumed from a checkpoint written after an update). */
  constructor(model: tfl.LayersModel) {
    this.vars = model.weights.map((w) => w.read() as unknown as tf.Variable);
    this.slow = this.vars.map((v) => tf.keep(v.clone()));
  }

  update(decay: number): void {
    const next = tf.tidy(() =>
      this.vars.map((v, i) => {
        // The lerp form slow + (w - slow)(1 - decay) keeps a weight that training does not move (the frozen
        // whitening kernel) bit-identical; slow·decay + w·(1 - decay) drifts it by an ulp per update.
        const slow = this.slow[i]!;
        const s = tf.add(slow, tf.mul(tf.sub(v, slow), 1 - decay));
        v.assign(s);
        return s;
      }),
    );
    tf.dispose(this.slow);
    this.slow = next;
  }

  dispose(): void {
    tf.dispose(this.slow);
  }
}
