/**
 * Public API of the config layer (pipeline.yaml / dvc.yaml and params files).
 * Implementation: the config module (see the files beside this one).
 */
import type { Pipeline, StageDef } from './types.js';
export type * from './types.js';

/** Parse and validate the project's pipeline.yaml (or dvc.yaml when pipeline.yaml is absent). */
export async function loadPipeline(_root: string): Promise<Pipeline> {
  throw new Error('not built yet');
}

/** Read a params file (YAML, JSON or TOML by extension) as a plain object. */
export async function readParamsFile(_root: string, _file: string): Promise<Record<string, unknown>> {
  throw new Error('not built yet');
}

/**
 * The current values of every param a stage tracks, as dvc.lock records them:
 * `{ 'params.yaml': { 'train.lr': 0.001 } }`. Throws LockstepError('missing-param') naming the
 * file, key and stage when a key is absent.
 */
export async function resolveStageParams(_root: string, _stage: StageDef): Promise<Record<string, Record<string, unknown>>> {
  throw new Error('not built yet');
}
