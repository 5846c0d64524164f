/**
 * Per-epoch training checkpoints in models/checkpoint/: model weights, the best weights so far,
 * Adam's state, and the loop state (epoch, schedule counters, PRNG state, history), tagged with a
 * fingerprint of everything that shapes the run. A checkpoint is only resumed when the fingerprint
 * matches, and the directory is swapped in whole, so a kill mid-write leaves the previous epoch.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeDirAtomically, writeFilesSynced } from '../common/atomic.js';
import { toJson } from '../common/stage.js';
import { decodeTensors, encodeTensors, type NamedTensor } from './model-io.js';

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number;
  val_acc: number;
  lr: number;
}

export interface LoopState {
  /** Epochs completed. */
  epoch: number;
  lr: number;
  bestValAcc: number;
  bestEpoch: number;
  /** ReduceLROnPlateau: best val loss so far and epochs since it improved. */
  bestValLoss: number;
  plateauWait: number;
  /** Early stopping: epochs since val accuracy improved. */
  stopWait: number;
  stopped: boolean;
  rngState: number;
  history: EpochRecord[];
}

interface StateFile {
  version: 1;
  fingerprint: string;
  state: LoopState;
  weights: tf.io.WeightsManifestEntry[];
  optimizer: tf.io.WeightsManifestEntry[];
}

export interface Checkpoint {
  state: LoopState;
  weights: NamedTensor[];
  best: NamedTensor[];
  optimizer: NamedTensor[];
}

/** The model's weights (trainable and not, e.g. batch-norm moving stats) in model.weights order. */
export function modelWeights(model: tfl.LayersModel): NamedTensor[] {
  return model.weights.map((w) => ({ name: w.originalName, tensor: w.read() as unknown as tf.Tensor }));
}

export async function saveCheckpoint(
  dir: string,
  fingerprint: string,
  state: LoopState,
  model: tfl.LayersModel,
  best: NamedTensor[],
  optimizer: tf.Optimizer,
): Promise<void> {
  const weights = await encodeTensors(modelWeights(model));
  const bestEnc = await encodeTensors(best);
  const optWeights = await optimizer.getWeights();
  const opt = await encodeTensors(optWeights);
  // getWeights() makes a fresh `iter` scalar; the moments are the optimizer's own variables.
  for (const w of optWeights) if (w.name === 'iter') w.tensor.dispose();
  const file: StateFile = { version: 1, fingerprint, state, weights: weights.specs, optimizer: opt.specs };
  await writeDirAtomically(dir, (tmp) =>
    writeFilesSynced(tmp, {
      'state.json': toJson(file),
      'weights.bin': weights.data,
      'best.bin': bestEnc.data,
      'optimizer.bin': opt.data,
    }),
  );
}

export type LoadResult =
  | { kind: 'none' }
  | { kind: 'mismatch' }
  | { kind: 'unreadable'; reason: string }
  | { kind: 'ok'; checkpoint: Checkpoint };

/** Reads a checkpoint; the caller disposes the returned tensors once they are assigned. */
export async function loadCheckpoint(dir: string, fingerprint: string): Promise<LoadResult> {
  let file: StateFile;
  try {
    file = JSON.parse(await fs.readFile(path.join(dir, 'state.json'), 'utf8')) as StateFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'unreadable', reason: 'state.json is not valid JSON' };
  }
  if (file.version !== 1 || file.fingerprint !== fingerprint) return { kind: 'mismatch' };
  // JSON has no Infinity: a val loss that never became finite is stored as null.
  if (file.state.bestValLoss === null) file.state.bestValLoss = Infinity;
  try {
    const [w, b, o] = await Promise.all(
      ['weights.bin', 'best.bin', 'optimizer.bin'].map((f) => fs.readFile(path.join(dir, f))),
    );
    return {
      kind: 'ok',
      checkpoint: {
        state: file.state,
        weights: decodeTensors(file.weights, w!),
        best: decodeTensors(file.weights, b!),
        optimizer: decodeTensors(file.optimizer, o!),
      },
    };
  } catch (e) {
    return { kind: 'unreadable', reason: (e as Error).message.split('\n')[0] ?? 'unreadable' };
  }
}
