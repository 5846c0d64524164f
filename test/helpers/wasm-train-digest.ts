/**
 * A child program for test/unit/wasm-threads.test.ts: starts wasm on the threads given, takes three
 * Adam steps of a real model on seeded data, prints `{threads, digest}` of the weights as JSON.
 * It ends without process.exit, so it also shows the pool's worker threads never keep it alive.
 *   node dist/test/helpers/wasm-train-digest.js <threads> <model>
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { useWasmBackend } from '../../stages/lib/tf/kernels/node-wasm.js';
import { buildModel } from '../../stages/lib/tf/models.js';
import type { ModelName } from '../../stages/lib/ml/params.js';

const threads = await useWasmBackend({ training: true, threads: Number(process.argv[2]) });
const model = buildModel(process.argv[3] as ModelName, { height: 32, width: 32, channels: 3, classes: 10 }, 5);
const optimizer = tf.train.adam(1e-3);
let s = 1;
const next = () => {
  s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  return s / 4294967296;
};
for (let step = 0; step < 3; step++) {
  tf.tidy(() => {
    const x = tf.tensor4d(
      Float32Array.from({ length: 32 * 3072 }, () => next() * 2 - 1),
      [32, 32, 32, 3],
    );
    const y = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: 32 }, () => Math.floor(next() * 10)),
        'int32',
      ),
      10,
    );
    optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
    );
  });
}
const h = createHash('sha256');
for (const w of model.getWeights()) h.update(new Uint8Array(w.dataSync().buffer));
process.stdout.write(`${JSON.stringify({ threads, digest: h.digest('hex') })}\n`);
