/**
 * Stage `evaluate`: runs models/model on the test split of data/prepared and writes
 * metrics/eval.json, plots/per_class.json, results/confusion.{json,png}, results/samples.{png,json} and
 * results/predictions.csv (one row per test image; hard-examples and experiments read it).
 * Run from the project root: node --import tsx stages/evaluate.ts
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { ImageShape, Normalization } from './lib/tf/augment.js';
import type { PredictJob } from './lib/tf/predict-workers.js';
import { classification, confusionMatrix, round6 } from './lib/ml/metrics.js';
import { chartPng, confusionSpec, perClassRows, samplesSpec, type SampleTile } from './lib/ml/charts.js';
import { ParamsFile } from './lib/common/params.js';
import { evaluateParams } from './lib/ml/params.js';
import { readMeta, readSplit, type PreparedMeta } from './lib/ml/prepared.js';
import { writeFileAtomic } from './lib/common/atomic.js';
import { StageError, errorText, runStage, toJson } from './lib/common/stage.js';

const PREPARED = 'data/prepared';
const MODEL_DIR = 'models/model';

interface SavedNormalization extends Normalization {
  height: number;
  width: number;
  channels: number;
  classes: string[];
}

async function readNormalization(meta: PreparedMeta): Promise<SavedNormalization> {
  const file = path.join(MODEL_DIR, 'normalization.json');
  let n: SavedNormalization;
  try {
    n = JSON.parse(await fs.readFile(file, 'utf8')) as SavedNormalization;
  } catch {
    throw new StageError(`${file}: missing or not valid JSON`, 'Re-run the train stage.');
  }
  if (
    !Array.isArray(n.mean) ||
    !Array.isArray(n.std) ||
    n.mean.length !== meta.channels ||
    n.std.length !== meta.channels
  ) {
    throw new StageError(
      `${file}: expected mean and std with ${meta.channels} values (one per channel)`,
      'Re-run the train stage.',
    );
  }
  if (
    n.height !== meta.height ||
    n.width !== meta.width ||
    n.channels !== meta.channels ||
    JSON.stringify(n.classes) !== JSON.stringify(meta.classes)
  ) {
    throw new StageError(
      `${MODEL_DIR}: the model was trained on ${n.height}x${n.width}x${n.channels} images of ` +
        `[${n.classes?.join(', ')}], ` +
        `but ${PREPARED}/meta.json has ${meta.height}x${meta.width}x${meta.channels} images of ` +
        `[${meta.classes.join(', ')}]`,
      'Re-run the train stage on this data.',
    );
  }
  return n;
}

/** One matrix row per line, so the file reads as a table. */
function confusionJson(classes: string[], matrix: number[][]): string {
  const rows = matrix.map((r) => `    ${JSON.stringify(r)}`).join(',\n');
  return (
    `{\n  "classes": ${JSON.stringify(classes)},\n  "rows": "true label",\n  "columns": "predicted label",\n  ` +
    `"matrix": [\n${rows}\n  ]\n}\n`
  );
}

/** Fixed precision keeps the CSV byte-stable and diffable. */
const p6 = (x: number) => x.toFixed(6);

const TTA_NOTE = {
  none: '',
  flip: ' (each image and its mirror image)',
  'flip-translate': ' (each image, shifted a pixel both ways, and their mirror images)',
} as const;

type TestJob = PredictJob & { lut: Float32Array };

/** The test split's probabilities: in this process, or in worker threads (tfjs-node) when a plan is given. */
async function predictTest(
  job: TestJob,
  shape: ImageShape,
  classes: number,
  plan: { workers: number } | undefined,
): Promise<Float32Array> {
  const { loadModelDir } = await import('./lib/tf/model-io.js');
  // Loaded here in either case: a model folder that does not load fails as it always has, before any worker starts.
  const model = await loadModelDir(MODEL_DIR);
  if (!plan) {
    const { predictProbabilities } = await import('./lib/tf/predict.js');
    return predictProbabilities(model, job.images, job.count, shape, job.lut, classes, job.batchSize, job.tta);
  }
  model.dispose();
  const { InferencePool } = await import('./lib/tf/predict-workers.js');
  const spec = { modelDir: MODEL_DIR, shape, lut: job.lut, classes, param: 'evaluate.backend' };
  const failed = (what: string) => (e: unknown) => {
    throw new StageError(
      `evaluate: the inference workers ${what} (${errorText(e)})`,
      "Set LOCKSTEP_INFER_WORKERS=1 to predict in the stage's own process.",
    );
  };
  const pool = await InferencePool.start(spec, plan.workers).catch(failed('did not start'));
  try {
    return await pool.predict(job).catch(failed('failed'));
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const p = evaluateParams(await ParamsFile.load());
  const meta = await readMeta(PREPARED);
  const test = await readSplit(PREPARED, meta, 'test');
  if (test.count === 0) throw new StageError(`${PREPARED}/meta.json: the test split is empty`, 'Check prepare.split.');
  const norm = await readNormalization(meta);
  // TensorFlow.js loads only once params, data and model files have passed their checks.
  const { backendLine, describeBackend, initBackend } = await import('./lib/tf/backend.js');
  const { normalizationTable } = await import('./lib/tf/augment.js');
  const { argmax, lossAndAccuracy } = await import('./lib/tf/predict.js');
  const { planInferenceWorkers, useWorkerThreads } = await import('./lib/tf/predict-workers.js');
  // On tfjs-node, whole batches go to worker threads (the same bits); the thread setting precedes tfjs-node's load.
  const plan = planInferenceWorkers(Math.ceil(test.count / p.batch_size));
  const threaded = useWorkerThreads(plan);
  const backend = await initBackend(p.backend, 'infer', 'evaluate.backend');
  console.log(backendLine(backend));

  const shape = { height: meta.height, width: meta.width, channels: meta.channels };
  const classes = meta.classes.length;
  const job = {
    images: test.images,
    count: test.count,
    batchSize: p.batch_size,
    tta: p.tta,
    lut: normalizationTable(norm),
  };
  const t0 = performance.now();
  const workers = threaded && backend.name === 'node' ? plan : undefined;
  const probs = await predictTest(job, shape, classes, workers);
  const seconds = (performance.now() - t0) / 1000;
  const where = workers ? ` in ${workers.workers} workers of ${workers.threads} thread(s)` : '';
  console.log(
    `inference${TTA_NOTE[p.tta]}: ${test.count} images in ` +
      `${seconds.toFixed(2)} s (${(test.count / seconds).toFixed(1)} images/s${where})`,
  );

  const predicted = new Uint8Array(test.count);
  for (let i = 0; i < test.count; i++) predicted[i] = argmax(probs, i * classes, classes);
  const matrix = confusionMatrix(test.labels, predicted, classes);
  const cls = classification(matrix);
  const { loss } = lossAndAccuracy(probs, test.labels, classes);

  const metrics = {
    loss: round6(loss),
    accuracy: round6(cls.accuracy),
    macro_precision: round6(cls.macro_precision),
    macro_recall: round6(cls.macro_recall),
    macro_f1: round6(cls.macro_f1),
    test_images: test.count,
    per_class: Object.fromEntries(
      meta.classes.map((name, c) => {
        const m = cls.per_class[c]!;
        return [
          name,
          { precision: round6(m.precision), recall: round6(m.recall), f1: round6(m.f1), support: m.support },
        ];
      }),
    ),
  };

  const header = ['id', 'path', 'true_label', 'pred_label', 'p_true', 'p_pred', ...meta.classes.map((c) => `p_${c}`)];
  const rows = test.ids.map((x, i) => {
    const row = probs.subarray(i * classes, (i + 1) * classes);
    const t = test.labels[i]!;
    const q = predicted[i]!;
    return [x.id, x.path, meta.classes[t]!, meta.classes[q]!, p6(row[t]!), p6(row[q]!), ...Array.from(row, p6)];
  });
  const csv = stringify([header, ...rows]);

  const size = shape.height * shape.width * shape.channels;
  const tiles: SampleTile[] = [];
  const sampleInfo = [];
  for (let i = 0; i < Math.min(p.samples, test.count); i++) {
    tiles.push({ offset: i * size, trueLabel: test.labels[i]!, predLabel: predicted[i]! });
    sampleInfo.push({
      index: i,
      id: test.ids[i]!.id,
      true_label: meta.classes[test.labels[i]!],
      pred_label: meta.classes[predicted[i]!],
      correct: test.labels[i] === predicted[i],
      p_pred: Number(p6(probs[i * classes + predicted[i]!]!)),
    });
  }

  // Pictures drawn as Vega-Lite charts (vega's SVG renderer, resvg for PNG).
  const confusionImage = await chartPng(confusionSpec(matrix, meta.classes, cls.accuracy));
  const samplesImage = await chartPng(samplesSpec(test.images, shape, tiles, meta.classes, cls.accuracy));
  const perClass = perClassRows(
    meta.classes,
    meta.classes.map((_, c) => {
      const m = cls.per_class[c]!;
      return { precision: round6(m.precision), recall: round6(m.recall), f1: round6(m.f1), support: m.support };
    }),
  );

  // Everything is computed before the first write, so a failure leaves no partial outputs.
  await writeFileAtomic('metrics/eval.json', toJson(metrics));
  await writeFileAtomic('plots/per_class.json', toJson(perClass));
  await writeFileAtomic('results/predictions.csv', csv);
  await writeFileAtomic('results/confusion.json', confusionJson(meta.classes, matrix));
  await writeFileAtomic('results/confusion.png', confusionImage);
  await writeFileAtomic(
    'results/samples.json',
    toJson({
      classes: meta.classes,
      caption: 'grid in reading order; under each image its true class, then the predicted one',
      samples: sampleInfo,
    }),
  );
  await writeFileAtomic('results/samples.png', samplesImage);
  console.log(
    `test accuracy ${metrics.accuracy.toFixed(4)}, loss ${metrics.loss.toFixed(4)}, macro F1 ` +
      `${metrics.macro_f1.toFixed(4)} on ${describeBackend(backend)}`,
  );
}

runStage('evaluate', main);
