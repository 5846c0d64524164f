/** Batched inference over a whole split, returning plain probabilities (no tensors escape). */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { fillImages, mirrorImages, type ImageShape } from './augment.js';
import { inferenceForward } from './inference-plan.js';

/**
 * `tta: 'flip'` averages the probabilities of each image and of its mirror image (the training
 * augmentation flips, so both are images the model was taught).
 */
export function predictProbabilities(
  model: tfl.LayersModel,
  images: Uint8Array,
  count: number,
  shape: ImageShape,
  lut: Float32Array,
  classes: number,
  batchSize: number,
  tta: 'none' | 'flip' = 'none',
): Float32Array {
  const size = shape.height * shape.width * shape.channels;
  const probs = new Float32Array(count * classes);
  const forward = inferenceForward(model);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const buf = new Float32Array(n * size);
    fillImages(buf, images, shape, lut, null, start, n);
    const run = () => {
      // The tensor leaves the tidy, not its data: a tidy walks every element of a returned typed array.
      const y = tf.tidy(() => forward(tf.tensor4d(buf, [n, shape.height, shape.width, shape.channels])));
      const out = y.dataSync() as Float32Array;
      y.dispose();
      return out;
    };
    const out = run();
    if (tta === 'flip') {
      mirrorImages(buf, n, shape);
      const mirrored = run();
      for (let i = 0; i < out.length; i++) out[i] = (out[i]! + mirrored[i]!) / 2;
    }
    probs.set(out, start * classes);
  }
  return probs;
}

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
