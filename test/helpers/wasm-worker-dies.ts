/**
 * A child program for test/unit/wasm-threads.test.ts: one of the threaded wasm binary's pthread workers stops while
 * the binary starts (the 3rd one made, 50 ms after it is made); then the train stage's backend start on 2 threads and
 * one prediction. Prints the backend line and `predicted <n> values`; before the start watched its workers, the
 * process ended here with exit code 0 and no output.
 *   node dist/test/helpers/wasm-worker-dies.js
 */
import { createRequire } from 'node:module';

const workerThreads = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
const Real = workerThreads.Worker;
let made = 0;
workerThreads.Worker = class extends Real {
  constructor(...args: ConstructorParameters<typeof Real>) {
    super(...args);
    if (++made === 3) setTimeout(() => void this.terminate(), 50);
  }
};
process.env.LOCKSTEP_WASM_THREADS = '2';
const tf = await import('@tensorflow/tfjs-core');
const { initBackend, backendLine } = await import('../../stages/lib/tf/backend.js');
const { buildModel } = await import('../../stages/lib/tf/models.js');
console.log(backendLine(await initBackend('wasm', 'train', 'train.backend')));
const model = buildModel('seed', { height: 32, width: 32, channels: 3, classes: 10 }, 1);
console.log(
  `predicted ${(model.predict(tf.ones([2, 32, 32, 3])) as import('@tensorflow/tfjs-core').Tensor).size} values`,
);
