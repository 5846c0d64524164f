/**
 * Sets the `air` model's frozen whitening convolution from the training images (stages/lib/ml/whitening.ts). Run
 * on a freshly built model before training; a resumed run then overwrites it with the checkpoint's (equal) copy,
 * and the saved model carries it like any other weight.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { WHITENING_EPS, WHITENING_IMAGES, patchCovariance, whiteningKernel } from '../ml/whitening.js';
import type { ImageShape } from './augment.js';
import { WHITEN_KERNEL, WHITEN_LAYER } from './models.js';

/** True when the model has a whitening layer, which is then set from the first 5,000 of `images`. */
export function initWhitening(
  model: tfl.LayersModel,
  images: Uint8Array,
  shape: ImageShape,
  lut: Float32Array,
): boolean {
  const layer = model.layers.find((l) => l.name === WHITEN_LAYER);
  if (!layer) return false;
  const size = shape.height * shape.width * shape.channels;
  const count = Math.min(WHITENING_IMAGES, Math.floor(images.length / size));
  const k = WHITEN_KERNEL;
  const d = k * k * shape.channels;
  const kernel = whiteningKernel(patchCovariance(images, count, shape, lut, k), d, WHITENING_EPS);
  const t = tf.tensor4d(kernel, [k, k, shape.channels, 2 * d]);
  layer.setWeights([t]);
  t.dispose();
  return true;
}
