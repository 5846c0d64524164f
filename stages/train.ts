/**
 * Stage `train`: fits the CNN chosen by `train.model` on data/prepared/{train,val} and writes
 * models/model/ (tfjs layers format + normalisation.json), plots/train.json (per-epoch curves),
 * metrics/train.json (deterministic results) and metrics/train_speed.json (timing). Checkpoints
 * every epoch into models/checkpoint/ and resumes from it when the fingerprint matches.
 * Run from the project root: node --import tsx stages/train.ts
 */
import type * as tfTypes from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { NamedTensor } from './lib/tf/model-io.js';
import type { LoopState } from './lib/tf/checkpoint.js';
import { Mulberry32, deriveSeed, permutation } from './lib/common/prng.js';
import { ParamsFile } from './lib/common/params.js';
import { trainParams, type TrainParams } from './lib/ml/params.js';
import { readMeta, readSplit, type PreparedMeta, type Split } from './lib/ml/prepared.js';
import { writeFileAtomic } from './lib/common/atomic.js';
import { StageError, runStage, toJson } from './lib/common/stage.js';

const PREPARED = 'data/prepared';
const MODEL_DIR = 'models/model';
const CHECKPOINT_DIR = 'models/checkpoint';

/** The training code itself (this file and the libraries it runs), so edited code never resumes
 * a checkpoint written by the old code. */
async function sourceDigest(): Promise<string> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const files = [fileURLToPath(import.meta.url)];
  for (const dir of ['lib/tf', 'lib/ml', 'lib/common']) {
    const entries = await fs.readdir(path.join(here, dir), { recursive: true });
    for (const e of entries) if (/\.[cm]?[jt]s$/.test(e)) files.push(path.join(here, dir, e));
  }
  const h = createHash('sha256');
  for (const f of files.sort())
    h.update(`${path.relative(here, f)}\0`)
      .update(await fs.readFile(f))
      .update('\0');
  return h.digest('hex');
}

/** Everything that shapes the training trajectory. Under the plateau schedule `epochs` is left out
 * on purpose: a longer run follows the same path, so raising it continues from the checkpoint. The
 * one-cycle and airbench rates and Lookahead's decay of every step depend on it, so there it counts. */
function fingerprint(
  p: TrainParams,
  meta: PreparedMeta,
  backend: string,
  tfVersion: string,
  code: string,
  train: Split,
  val: Split,
): string {
  const { epochs, ...rest } = p;
  const shaping = p.schedule !== 'plateau' || p.lookahead ? { ...rest, epochs } : rest;
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: 1, params: shaping, meta, backend, tf: tfVersion, code }));
  for (const buf of [train.images, train.labels, val.images, val.labels]) h.update(buf);
  return h.digest('hex');
}

function freshState(p: TrainParams): LoopState {
  return {
    epoch: 0,
    lr: p.lr,
    bestValAcc: -1,
    bestEpoch: 0,
    bestValLoss: Infinity,
    plateauWait: 0,
    stopWait: 0,
    stopped: false,
    rngState: deriveSeed(p.seed, 'train-stream'),
    history: [],
  };
}

async function main(): Promise<void> {
  const p = trainParams(await ParamsFile.load());
  const meta = await readMeta(PREPARED);
  const train = await readSplit(PREPARED, meta, 'train');
  const val = await readSplit(PREPARED, meta, 'val');
  if (train.count === 0)
    throw new StageError(`${PREPARED}/meta.json: the train split is empty`, 'Check prepare.split.');
  if (val.count === 0)
    throw new StageError(
      `${PREPARED}/meta.json: the val split is empty (early stopping and the lr schedule need it)`,
      'Check prepare.split.',
    );

  // TensorFlow.js loads only once params and data have passed their checks: bad input fails fast.
  const { backendIdentity, backendLine, describeBackend, initBackend } = await import('./lib/tf/backend.js');
  const { buildModel } = await import('./lib/tf/models.js');
  const { saveModelDir } = await import('./lib/tf/model-io.js');
  const { channelStats, normalizationTable } = await import('./lib/tf/augment.js');
  const { trainLoop } = await import('./lib/tf/train-loop.js');
  const { initWhitening } = await import('./lib/tf/whiten.js');
  const { WHITENING_IMAGES } = await import('./lib/ml/whitening.js');
  const { makeOptimizer } = await import('./lib/tf/optimizer.js');

  const backend = await initBackend(p.backend, 'train', 'train.backend');
  console.log(backendLine(backend));

  const shape = { height: meta.height, width: meta.width, channels: meta.channels };
  const classes = meta.classes.length;
  // A seeded subset when max_train_images caps the split: a prefix of a permutation, in index order.
  const subset =
    p.max_train_images > 0 && p.max_train_images < train.count
      ? permutation(train.count, new Mulberry32(deriveSeed(p.seed, 'subset')))
          .slice(0, p.max_train_images)
          .sort()
      : null;
  const norm = channelStats(train.images, meta.channels);
  const lut = normalizationTable(norm);

  const model = buildModel(p.model, { ...shape, classes }, p.seed);
  if (p.dirac_init) {
    const { diracInit } = await import('./lib/tf/dirac.js');
    console.log(`dirac: ${diracInit(model)} convolutions start with identity filters`);
  }
  if (initWhitening(model, train.images, shape, lut))
    console.log(
      `whitening: the first convolution set from the 2x2 patches of up to ${WHITENING_IMAGES.toLocaleString('en')} ` +
        'training images',
    );
  const { optimizer, step } = await makeOptimizer(p, backend, model);
  console.log(`train step: ${step}`);
  const start = await resumeOrStart(p, meta, backendIdentity(backend), train, val, model, optimizer);

  const result = await trainLoop({
    params: p,
    model,
    optimizer,
    state: start.state,
    best: start.best,
    train: { images: train.images, labels: train.labels, indices: subset ?? undefined },
    val: { images: val.images, labels: val.labels, count: val.count },
    shape,
    classes,
    lut,
    checkpointDir: CHECKPOINT_DIR,
    fingerprint: start.fingerprint,
    log: (line) => console.log(line),
    // The curves so far after each epoch, written whole (temp + rename) so a reader never sees half a file.
    onEpoch: (history) => writeFileAtomic('plots/train.json', toJson(history)),
  });

  // Early stopping keeps the weights of the best epoch.
  model.setWeights(result.best.map((w) => w.tensor));
  const s = result.state;
  const normalization = { ...shape, classes: meta.classes, mean: norm.mean, std: norm.std };
  await saveModelDir(model, MODEL_DIR, { 'normalization.json': toJson(normalization) });
  await writeFileAtomic('plots/train.json', toJson(s.history));
  const last = s.history.at(-1);
  await writeFileAtomic(
    'metrics/train.json',
    toJson({
      model: p.model,
      backend: backend.name,
      best_val_acc: s.bestValAcc,
      best_epoch: s.bestEpoch,
      epochs_run: s.epoch,
      early_stopped: s.stopped,
      final_lr: s.lr,
      train_images: subset ? subset.length : train.count,
      final_loss: last?.loss ?? null,
      final_accuracy: last?.accuracy ?? null,
    }),
  );
  // Timing differs run to run, so it lives apart from the deterministic metrics.
  await writeFileAtomic(
    'metrics/train_speed.json',
    toJson({
      backend: describeBackend(backend),
      step,
      images_per_sec: round(result.imagesPerSec, 1),
      train_seconds: round(result.trainSeconds, 2),
      epochs_this_run: result.epochsThisRun,
    }),
  );
  console.log(
    `done: best val_acc ${s.bestValAcc.toFixed(4)} at epoch ${s.bestEpoch} of ${s.epoch}; ` +
      `${round(result.imagesPerSec, 1)} images/s on ${describeBackend(backend)}`,
  );
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

async function resumeOrStart(
  p: TrainParams,
  meta: PreparedMeta,
  backendName: string,
  train: Split,
  val: Split,
  model: LayersModel,
  optimizer: tfTypes.Optimizer,
): Promise<{ state: LoopState; best: NamedTensor[]; fingerprint: string }> {
  const tf = await import('@tensorflow/tfjs-core');
  const { loadCheckpoint, modelWeights } = await import('./lib/tf/checkpoint.js');
  const fp = fingerprint(p, meta, backendName, tf.version_core, await sourceDigest(), train, val);
  const loaded = await loadCheckpoint(CHECKPOINT_DIR, fp);
  // A checkpoint past the requested epochs belongs to a longer run: this one starts over.
  if (loaded.kind === 'ok' && loaded.checkpoint.state.epoch > p.epochs) {
    const c = loaded.checkpoint;
    tf.dispose([...c.weights, ...c.best, ...c.optimizer].map((w) => w.tensor));
    console.log(`checkpoint: written after epoch ${c.state.epoch}, beyond train.epochs ${p.epochs}; starting fresh`);
  } else if (loaded.kind === 'ok') {
    const c = loaded.checkpoint;
    model.setWeights(c.weights.map((w) => w.tensor));
    await optimizer.setWeights(c.optimizer);
    tf.dispose(c.weights.map((w) => w.tensor));
    tf.dispose(c.optimizer.map((w) => w.tensor));
    const best = c.best.map((w) => ({ name: w.name, tensor: tf.keep(w.tensor) }));
    console.log(
      `checkpoint: resuming after epoch ${c.state.epoch} (best val_acc ${c.state.bestValAcc.toFixed(4)} at epoch ` +
        `${c.state.bestEpoch})`,
    );
    return { state: c.state, best, fingerprint: fp };
  }
  if (loaded.kind === 'mismatch')
    console.log('checkpoint: params, data, code or backend changed since it was written; starting fresh');
  if (loaded.kind === 'unreadable') console.log(`checkpoint: unreadable (${loaded.reason}); starting fresh`);
  const best = modelWeights(model).map((w) => ({ name: w.name, tensor: tf.keep(w.tensor.clone()) }));
  return { state: freshState(p), best, fingerprint: fp };
}

runStage('train', main);
