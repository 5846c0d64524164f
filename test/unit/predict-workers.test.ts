/**
 * Inference in worker threads (stages/lib/tf/predict-workers.ts): the plan, and on tfjs-node the same probability
 * bytes as predictProbabilities in this process (seed and fast models, every test-time augmentation, a short last
 * batch), and the failures: a model folder that does not load, a job a worker cannot run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { planInferenceWorkers, useWorkerThreads, InferencePool } from '../../stages/lib/tf/predict-workers.js';
import { availableBackends } from '../helpers/backends.js';
import { tempDir } from '../helpers/tmp.js';
import { Mulberry32 } from '../../stages/lib/common/prng.js';
import { normalizationTable } from '../../stages/lib/tf/augment.js';

test('the plan: one worker a core shared among jobs, capped, never more than pairs of batches', () => {
  assert.deepEqual(planInferenceWorkers(100, {}, 2), { workers: 2, threads: 1 });
  assert.deepEqual(planInferenceWorkers(100, {}, 16), { workers: 4, threads: 4 });
  assert.deepEqual(planInferenceWorkers(100, { LOCKSTEP_JOBS: '2' }, 2), { workers: 1, threads: 1 });
  assert.deepEqual(planInferenceWorkers(3, {}, 8), { workers: 1, threads: 8 });
  assert.deepEqual(planInferenceWorkers(100, { LOCKSTEP_INFER_WORKERS: '1' }, 8), { workers: 1, threads: 8 });
  assert.deepEqual(planInferenceWorkers(100, { LOCKSTEP_INFER_WORKERS: '3' }, 2), { workers: 3, threads: 1 });
  assert.deepEqual(planInferenceWorkers(100, { LOCKSTEP_INFER_WORKERS: 'x' }, 2), { workers: 2, threads: 1 });
  const env: NodeJS.ProcessEnv = { TF_NUM_INTRAOP_THREADS: '3' };
  assert.equal(useWorkerThreads({ workers: 1, threads: 2 }, env), false);
  assert.equal(env.TF_OVERRIDE_GLOBAL_THREADPOOL, undefined);
  assert.equal(useWorkerThreads({ workers: 2, threads: 1 }, env), true);
  assert.deepEqual(env, {
    TF_NUM_INTRAOP_THREADS: '3',
    TF_OVERRIDE_GLOBAL_THREADPOOL: 'true',
    TF_NUM_INTEROP_THREADS: '1',
  });
});

// The stage's setting, before this process loads tfjs-node: one thread a context, a pool per context.
useWorkerThreads({ workers: 2, threads: 1 });
const skip = (await availableBackends()).includes('node') ? false : 'tfjs-node is not installed';

const shape = { height: 32, width: 32, channels: 3 };
const classes = 10;
const lut = normalizationTable({ mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26] });

async function modelDir(name: 'seed' | 'fast'): Promise<string> {
  const { initBackend } = await import('../../stages/lib/tf/backend.js');
  const { buildModel } = await import('../../stages/lib/tf/models.js');
  const { saveModelDir } = await import('../../stages/lib/tf/model-io.js');
  await initBackend('node', 'infer', 'test');
  const dir = path.join(await tempDir('lockstep-predict-workers-'), 'model');
  await saveModelDir(buildModel(name, { ...shape, classes }, 7), dir);
  return dir;
}

test('workers give the bytes of one in-process run: seed and fast, every TTA, a short last batch', {
  skip,
}, async () => {
  const { loadModelDir } = await import('../../stages/lib/tf/model-io.js');
  const { predictProbabilities } = await import('../../stages/lib/tf/predict.js');
  const rng = new Mulberry32(3);
  const count = 75; // batches of 16: four full and a short one
  const images = Uint8Array.from({ length: count * 3072 }, () => rng.int(256));
  for (const name of ['seed', 'fast'] as const) {
    const dir = await modelDir(name);
    const model = await loadModelDir(dir);
    const pool = await InferencePool.start({ modelDir: dir, shape, lut, classes, param: 'test' }, 2);
    try {
      for (const tta of ['none', 'flip', 'flip-translate'] as const) {
        const want = predictProbabilities(model, images, count, shape, lut, classes, 16, tta);
        const got = await pool.predict({ images, count, batchSize: 16, tta });
        assert.equal(got.length, want.length);
        assert.ok(Math.max(...want) - Math.min(...want) > 0.1, `${name}: probabilities barely depend on the image`);
        assert.ok(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `${name}, tta ${tta}: other bytes`);
      }
    } finally {
      await pool.close();
    }
  }
});

test('a model folder that does not load: start rejects, naming it, and leaves no worker running', {
  skip,
}, async () => {
  const missing = path.join(await tempDir('lockstep-predict-workers-'), 'no-model');
  await assert.rejects(InferencePool.start({ modelDir: missing, shape, lut, classes, param: 'test' }, 2), (e: Error) =>
    e.message.includes('no-model'),
  );
});

test('a worker that fails a job: predict rejects with its reason, and the pool still answers', { skip }, async () => {
  const dir = await modelDir('seed');
  const spec = { modelDir: dir, shape, lut, classes, param: 'test' };
  const images = new Uint8Array(40 * 3072);
  const failing = await InferencePool.start({ ...spec, fault: 'throws' }, 2);
  try {
    await assert.rejects(failing.predict({ images, count: 40, batchSize: 8, tta: 'none' }), /the test asked for/);
    await assert.rejects(failing.predict({ images, count: 40, batchSize: 8, tta: 'none' }), /the test asked for/);
  } finally {
    await failing.close();
  }
  const exiting = await InferencePool.start({ ...spec, fault: 'exits' }, 2);
  try {
    await assert.rejects(exiting.predict({ images, count: 40, batchSize: 8, tta: 'none' }), /stopped \(exit code 3\)/);
    // A pool with a stopped worker says so at once instead of waiting for an answer that cannot come.
    await assert.rejects(exiting.predict({ images, count: 40, batchSize: 8, tta: 'none' }), /stopped \(exit code 3\)/);
  } finally {
    await exiting.close();
  }
  // Worker 0 fails job 1 at once; worker 1's late answer to job 1 must not be taken for its answer to job 2.
  const once = await InferencePool.start({ ...spec, fault: 'first-throws-once' }, 2);
  const rng = new Mulberry32(5);
  const other = Uint8Array.from({ length: 40 * 3072 }, () => rng.int(256));
  try {
    await assert.rejects(once.predict({ images, count: 40, batchSize: 8, tta: 'none' }), /the test asked for/);
    const got = await once.predict({ images: other, count: 40, batchSize: 8, tta: 'none' });
    const { loadModelDir } = await import('../../stages/lib/tf/model-io.js');
    const { predictProbabilities } = await import('../../stages/lib/tf/predict.js');
    const want = predictProbabilities(await loadModelDir(dir), other, 40, shape, lut, classes, 8, 'none');
    assert.ok(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), 'a stale answer was taken for the next job');
  } finally {
    await once.close();
  }
  const pool = await InferencePool.start(spec, 2);
  try {
    await assert.rejects(
      pool.predict({ images: images.subarray(0, 10 * 3072), count: 40, batchSize: 8, tta: 'none' }),
      /40 images/,
    );
    await assert.rejects(pool.predict({ images, count: 40, batchSize: 0, tta: 'none' }), /batch size 0/);
    assert.equal((await pool.predict({ images, count: 40, batchSize: 8, tta: 'none' })).length, 40 * classes);
  } finally {
    await pool.close();
  }
});
