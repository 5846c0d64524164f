/**
 * Saving and loading tf.layers models as files. Pure tfjs has no file:// handler (that lives in
 * tfjs-node, which may be absent), so this is a small IOHandler: model.json (tfjs layers format with
 * a weights manifest) + weights.bin, written as one directory swap so readers never see a mix.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeDirAtomically, writeFilesSynced } from '../common/atomic.js';
import { StageError } from '../common/stage.js';
import './models.js'; // registers the custom layers a saved model may contain

/** A tensor with the name it is saved under (what tf.io.encodeWeights and optimizers use). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return new Uint8Array(new tf.io.CompositeArrayBuffer(data).slice());
}

/** model.json + weights.bin as bytes, without touching the disk. */
export async function serializeModel(model: tfl.LayersModel): Promise<Record<string, Uint8Array | string>> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts) throw new Error('model.save did not hand over its artifacts');
  const modelJson = {
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
  };
  return { [MODEL_JSON]: `${JSON.stringify(modelJson)}\n`, [WEIGHTS_BIN]: weightBytes(artifacts.weightData) };
}

/** Writes the model and any extra files (e.g. normalisation stats) into `dir`, atomically as a whole. */
export async function saveModelDir(
  model: tfl.LayersModel,
  dir: string,
  extra: Record<string, string | Uint8Array> = {},
): Promise<void> {
  const files = { ...(await serializeModel(model)), ...extra };
  await writeDirAtomically(dir, (tmp) => writeFilesSynced(tmp, files));
}

const RETRAIN = 'Re-run the train stage.';

export async function loadModelDir(dir: string): Promise<tfl.LayersModel> {
  const jsonFile = path.join(dir, MODEL_JSON);
  let json: { modelTopology?: object; weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    json = JSON.parse(await fs.readFile(jsonFile, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StageError(`${jsonFile}: ${code === 'ENOENT' ? 'missing' : 'not a readable tfjs model.json'}`, RETRAIN);
  }
  const manifest = json?.weightsManifest ?? [];
  if (
    typeof json !== 'object' ||
    json === null ||
    !Array.isArray(manifest) ||
    manifest.some((g) => !Array.isArray(g?.paths) || !Array.isArray(g?.weights))
  )
    throw new StageError(`${jsonFile}: not a readable tfjs model.json (weightsManifest)`, RETRAIN);
  const specs = manifest.flatMap((g) => g.weights);
  const buffers: Uint8Array[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      // model.json comes from a file (a pulled or hand-made model may name anything): read only files inside `dir`.
      const file = typeof p === 'string' ? path.join(dir, p) : dir;
      const rel = path.relative(dir, file);
      if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel))
        throw new StageError(`${jsonFile}: weights path ${JSON.stringify(p)} is not a file inside ${dir}`, RETRAIN);
      try {
        buffers.push(await fs.readFile(file));
      } catch {
        throw new StageError(`${file}: missing (named by ${jsonFile})`, RETRAIN);
      }
    }
  }
  const total = buffers.reduce((n, b) => n + b.length, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.length;
  }
  try {
    return await tfl.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: weightData.buffer }),
    );
  } catch (e) {
    throw new StageError(`${dir}: cannot load the model (${(e as Error).message.split('\n')[0]})`, RETRAIN);
  }
}

/** Named tensors (e.g. optimizer state) as one binary blob plus its specs, for checkpoints. */
export async function encodeTensors(
  tensors: NamedTensor[],
): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: Uint8Array }> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  return { specs, data: weightBytes(data) };
}

export function decodeTensors(specs: tf.io.WeightsManifestEntry[], data: Uint8Array): NamedTensor[] {
  const copy = data.slice();
  const map = tf.io.decodeWeights(copy.buffer, specs);
  return specs.map((s) => ({ name: s.name, tensor: map[s.name]! }));
}
