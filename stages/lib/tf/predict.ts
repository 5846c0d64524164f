/** Batched inference over a whole split, returning plain probabilities (no tensors escape). */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { fillImages, fillView, mirrorImages, type ImageShape, type View } from './augment.js';
import { inferenceForward } from './inference-plan.js';

/** Test-time augmentation: none, each image and its mirror image, or those and their one-pixel shifts. */
export type Tta = 'none' | 'flip' | 'flip-translate';

/**
 * `tta: 'flip'` averages the probabilities of each image and of its mirror image (the training
 * augmentation flips, so both are images the model was taught). `flip-translate` is airbench's test-time
 * augmentation (Keller Jordan, 2024): half the weight on the image and its mirror image, half on the two
 * one-pixel diagonal shifts (up-left, down-right; edges filled with 0, as the training crops pad) and their
 * mirror images: 6 forward passes.
 */
export function predictProbabilities(
  model: tfl.LayersModel,
  images: Uint8Array,
  count: number,
  shape: ImageShape,
  lut: Float32Array,
  classes: number,
  batchSize: number,
  tta: Tta = 'none',
): Float32Array {
  const size = shape.height * shape.width * shape.channels;
  const probs = new Float32Array(count * classes);
  const forward = inferenceForward(model);
  // One input buffer for all batches: a batch's tensors are disposed (the tidy in run) before the next is written.
  const whole = new Float32Array(Math.min(batchSize, count) * size);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const buf = n * size === whole.length ? whole : whole.subarray(0, n * size);
    fillImages(buf, images, shape, lut, null, start, n);
    const run = () => {
      // The tensor leaves the tidy, not its data: a tidy walks every element of a returned typed array.
      const y = tf.tidy(() => forward(tf.tensor4d(buf, [n, shape.height, shape.width, shape.channels])));
      const out = y.dataSync() as Float32Array;
      y.dispose();
      return out;
    };
    const out = run();
    if (tta !== 'none') {
      mirrorImages(buf, n, shape);
      const mirrored = run();
      for (let i = 0; i < out.length; i++) out[i] = (out[i]! + mirrored[i]!) / 2;
    }
    if (tta === 'flip-translate') {
      const shifted = new Float32Array(out.length);
      for (const view of TRANSLATIONS) {
        fillView(buf, images, shape, lut, start, n, view);
        const p = run();
        for (let i = 0; i < p.length; i++) shifted[i]! += p[i]!;
      }
      for (let i = 0; i < out.length; i++) out[i] = out[i]! / 2 + shifted[i]! / 8;
    }
    probs.set(out, start * classes);
  }
  return probs;
}

/** The shifted views of `flip-translate`: one pixel up-left and down-right, each as is and mirrored. */
const TRANSLATIONS: View[] = [
  { dy: -1, dx: -1, flip: false },
  { dy: -1, dx: -1, flip: true },
  { dy: 1, dx: 1, flip: false },
  { dy: 1, dx: 1, flip: true },
];

/** Mean cross-entropy (probabilities clipped like Keras, epsilon 1e-7) and accuracy, in float64. */
export function lossAndAccuracy(
  probs: Float32Array,
  labels: Uint8Array,
  classes: number,
): { loss: number; accuracy: number } {
  const n = labels.length;
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    const y = labels[i]!;
    loss -= Math.log(Math.min(Math.max(probs[row + y]!, 1e-7), 1 - 1e-7));
    if (argmax(probs, row, classes) === y) correct++;
  }
  return { loss: n ? loss / n : 0, accuracy: n ? correct / n : 0 };
}

/** Index of the largest value in probs[row .. row+classes); ties go to the lowest index. */
export function argmax(probs: Float32Array, row: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (probs[row + c]! > probs[row + best]!) best = c;
  return best;
}
