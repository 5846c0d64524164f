import { existsSync } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import type { Md5 } from '../hash/types.js';
import type { LockFile } from '../pipeline/lockfile-types.js';
import { LOCK_FILES, PIPELINE_FILES } from '../project.js';
import { isMd5 } from './keys.js';

/** One cached output recorded in the lock file, with where it should travel. */
export interface TrackedOutput {
  stage: string;
  path: string;
  md5: Md5;
  size: number;
  nfiles?: number;
  /** `remote:` of the output in the pipeline file, if any. */
  remote?: string;
  /** `push: false` in the pipeline file. */
  push: boolean;
}

/** Per-output flags from the pipeline file, keyed `stage\0path`. */
export type OutputFlags = ReadonlyMap<string, OutputFlag>;
export interface OutputFlag {
  push: boolean;
  remote?: string;
  /** `cache: false`: the output is not in the cache (git or the stage keeps it), so it never travels. */
  cache: boolean;
}
export const flagKey = (stage: string, p: string): string => `${stage}\0${p}`;

/**
 * The outputs of the lock file's stages (all, or those named in `targets`), with their flags.
 * Uncached outputs (`cache: false` in the pipeline file, or no md5 in the lock) are left out: they are
 * not in the cache, so there is nothing to push, fetch or compare. Unknown targets are an error
 * naming the stages.
 */
export function selectOutputs(lock: LockFile, targets: readonly string[], flags: OutputFlags): TrackedOutput[] {
  const stages = Object.keys(lock.stages ?? {});
  for (const t of targets) {
    if (!stages.includes(t)) {
      throw new LockstepError(
        'unknown-stage',
        `no stage '${t}' in the lock file (stages: ${stages.join(', ') || 'none'})`,
        'Name a stage that has run, or run lockstep repro first.',
      );
    }
  }
  const chosen = targets.length ? stages.filter((s) => targets.includes(s)) : stages;
  const out: TrackedOutput[] = [];
  for (const stage of chosen) {
    for (const o of lock.stages[stage]?.outs ?? []) {
      if (typeof o.md5 !== 'string' || !isMd5(o.md5)) continue;
      const f = flags.get(flagKey(stage, o.path));
      if (f?.cache === false) continue;
      out.push({
        stage,
        path: o.path,
        md5: o.md5,
        size: o.size ?? 0,
        nfiles: o.nfiles,
        push: f?.push ?? true,
        remote: f?.remote,
      });
    }
  }
  return out;
}

/** Which lock file the project uses: pipeline.lock beside pipeline.yaml, else dvc.lock. */
export function lockFilePath(root: string): string {
  for (const f of PIPELINE_FILES) if (existsSync(path.join(root, f))) return path.join(root, LOCK_FILES[f]!);
  return path.join(root, 'pipeline.lock');
}

/**
 * Every lock file's stages (the root's and each sub-pipeline's) plus the data tracked by .dvc files
 * (as entries named after the .dvc file,
 * `data/raw.dvc`), so push/fetch/pull move both, with each output's flags from the pipeline file.
 * A stage's lock paths are written relative to its `wdir`; they are made repo-relative here (and
 * checked to stay inside the project), so they meet the pipeline's paths and flags. Refused only
 * when neither records anything.
 */
export async function readTrackedOutputs(root: string): Promise<{ lock: LockFile; flags: Map<string, OutputFlag> }> {
  const { collectDvcFiles, dvcFilesAsLock } = await import('../dvcfile/collect.js');
  const dvcFiles = await collectDvcFiles(root);
  const tracked = dvcFilesAsLock(dvcFiles);
  const { loadPipeline } = await import('../config/index.js');
  const pipeline = await loadPipeline(root);
  const flags = new Map<string, OutputFlag>();
  for (const stage of pipeline.stages) {
    for (const o of stage.outs)
      flags.set(flagKey(stage.name, o.path), { push: o.push, remote: o.remote, cache: o.cache });
  }
  for (const f of dvcFiles) {
    for (const o of f.outs)
      flags.set(flagKey(f.file, o.path), { push: o.push, cache: true, ...(o.remote ? { remote: o.remote } : {}) });
  }
  // every pipeline's lock (sub-pipelines' beside their file, keyed `sub/dvc.yaml:stage`), paths repo-relative
  const { lockTargets, readProjectLock } = await import('../pipeline/lock-set.js');
  const targets = lockTargets(pipeline);
  if (!targets.some((t) => existsSync(path.join(root, t.lockFile)))) {
    if (Object.keys(tracked.stages).length) return { lock: tracked, flags };
    throw new LockstepError(
      'missing-object',
      `${targets[0]!.lockFile} does not exist: nothing is recorded to transfer`,
      'Run lockstep repro first (or check out a commit that has the lock file).',
    );
  }
  const lock = await readProjectLock(root, pipeline, pipeline.stages);
  return { lock: { ...lock, stages: { ...lock.stages, ...tracked.stages } }, flags };
}
