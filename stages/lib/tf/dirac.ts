/**
 * airbench94's Dirac (identity) initialisation (Keller Jordan, cifar10-airbench legacy/airbench94.py, `Conv`): in
 * every trainable 3x3 convolution, the first `in_channels` filters pass their own input channel through (kernel
 * centre 1, everything else 0), so a fresh deep stack starts close to the identity; the other filters keep their
 * seeded initialisation. Run on a freshly built model before training; a resumed run overwrites it with the
 * checkpoint's weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Sets the kernels in place; returns how many convolutions it changed. */
export function diracInit(model: tfl.LayersModel): number {
  let changed = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Conv2D' || !layer.trainable) continue;
    const [kernel, ...rest] = layer.getWeights();
    if (kernel === undefined || kernel.rank !== 4) continue;
    const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
    if (kh !== 3 || kw !== 3) continue;
    const data = kernel.dataSync().slice();
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < cin; i++)
          for (let o = 0; o < Math.min(cin, cout); o++)
            data[((y * kw + x) * cin + i) * cout + o] = y === 1 && x === 1 && i === o ? 1 : 0;
    const t = tf.tensor4d(data, [kh, kw, cin, cout]);
    layer.setWeights([t, ...rest]);
    t.dispose();
    changed++;
  }
  return changed;
}
