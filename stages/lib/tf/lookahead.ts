/**
 * airbench94's Lookahead (Keller Jordan, cifar10-airbench legacy/airbench94.py, after Zhang et al. 2019): a slow
 * copy of every weight of the model (batch-norm moving statistics included); at each update the slow weights move
 * towards the model's by 1 - decay and the model takes them over. The decay grows as 0.95^5 x (t/T)^3 over the
 * T steps of the run, so early training is untouched and the last epochs average over many steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Steps between two updates. */
export const LOOKAHEAD_EVERY = 5;

/** The decay of the update after `step` steps (1-based) of `totalSteps`. */
export const lookaheadDecay = (step: number, totalSteps: number) => 0.95 ** 5 * (step / totalSteps) ** 3;

/** Whether the update runs after this step: every LOOKAHEAD_EVERY steps and after each epoch's last. */
export const lookaheadDue = (step: number, lastOfEpoch: boolean) => lastOfEpoch || step % LOOKAHEAD_EVERY === 0;

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
