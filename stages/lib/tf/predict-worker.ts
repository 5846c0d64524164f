/**
 * One inference worker of predict-workers.ts: loads tfjs-node and the model (workerData: a PoolSpec), says ready,
 * then answers each WorkerJob with the probabilities of its run of batches (predict.ts, as in the main thread).
 * A failure is a reply, not an exception, so the pool can name it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorText } from '../common/stage.js';
import type { WorkerJob, WorkerReply, WorkerSpec } from './predict-workers.js';

const port = parentPort;
if (!port) throw new Error('predict-worker.ts runs as a worker thread (stages/lib/tf/predict-workers.ts)');
const reply = (m: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

const spec = workerData as WorkerSpec;
let jobs = 0;
try {
  const { initBackend } = await import('./backend.js');
  const { loadModelDir } = await import('./model-io.js');
  const { predictProbabilities } = await import('./predict.js');
  await initBackend('node', 'infer', spec.param);
  const model = await loadModelDir(spec.modelDir);
  const size = spec.shape.height * spec.shape.width * spec.shape.channels;
  port.on('message', (job: WorkerJob) => {
    try {
      if (spec.fault === 'exits') process.exit(3);
      jobs++;
      if (spec.fault === 'throws' || (spec.fault === 'first-throws-once' && spec.index === 0 && jobs === 1))
        throw new Error('a fault the test asked for');
      // Its partner answers the failed job late, after the pool has sent the next one.
      if (spec.fault === 'first-throws-once' && jobs === 1)
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      const images = new Uint8Array(job.images, job.start * size, job.count * size);
      const probs = predictProbabilities(
        model,
        images,
        job.count,
        spec.shape,
        spec.lut,
        spec.classes,
        job.batchSize,
        job.tta,
      );
      reply({ id: job.id, probs }, [probs.buffer as ArrayBuffer]);
    } catch (e) {
      reply({ id: job.id, error: errorText(e) });
    }
  });
  reply({ id: 0, ready: true });
} catch (e) {
  reply({ id: 0, error: errorText(e) });
}
