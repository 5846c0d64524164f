/**
 * The lock files of a project with pipelines in subfolders: each pipeline file keeps its own lock beside it
 * (`sub/dvc.yaml` -> `sub/dvc.lock`, names and paths as DVC writes them: stage names local to the file, paths
 * relative to the stage's wdir). In memory they are one LockFile keyed by stage address (`train`,
 * `sub/dvc.yaml:train`) with repo-relative paths, so status, staleness, checkout and gc need not know.
 */
import path from 'node:path';
import { lockFileOf } from '../config/load.js';
import type { Pipeline, StageDef } from '../config/types.js';
import { assertLockPathsInside } from './lockfile-schema.js';
import {
  LockWriter,
  lockToRepoPaths,
  normaliseStage,
  readLockFile,
  type LockFile,
  type LockedStage,
} from './lockfile.js';

/** One pipeline file's lock: where it is, and how its stage names become addresses. */
export interface LockTarget {
  /** Repo-relative pipeline file (`dvc.yaml`, `sub/dvc.yaml`). */
  pipelineFile: string;
  /** Repo-relative lock file beside it. */
  lockFile: string;
  /** '' for the root's file, `sub/dvc.yaml:` for the others. */
  prefix: string;
  /** The file's folder, repo-relative ('.' for the root): the wdir of entries no stage defines any more. */
  dir: string;
}

/** The root's lock (always, even before its pipeline file exists) and one per other pipeline file. */
export function lockTargets(pipeline: Pipeline): LockTarget[] {
  const files = [pipeline.file, ...(pipeline.files ?? []).filter((f) => f.includes('/'))];
  return files.map((f) => ({
    pipelineFile: f,
    lockFile: lockFileOf(f),
    prefix: f.includes('/') ? `${f}:` : '',
    dir: path.posix.dirname(f),
  }));
}

/** The lock a stage address belongs to: the file named in it, else the root's. */
export function targetOf(targets: readonly LockTarget[], address: string): LockTarget {
  return targets.find((t) => t.prefix && address.startsWith(t.prefix)) ?? targets[0]!;
}

/** Every lock of the project as one LockFile keyed by address; the pipeline's stages' paths checked inside. */
export async function readProjectLock(
  root: string,
  pipeline: Pipeline,
  stages: readonly StageDef[],
  /** The cache folder, where a parsed copy of each large lock is kept (lockfile.ts parseLockFile). */
  cacheDir?: string,
): Promise<LockFile> {
  const wdirs = new Map(stages.map((s) => [s.name, s.wdir]));
  const names = new Set(stages.map((s) => s.name));
  const merged: LockFile = { schema: '2.0', stages: {} };
  const targets = lockTargets(pipeline);
  const locks = await Promise.all(
    targets.map((t) =>
      readLockFile(path.join(root, t.lockFile), cacheDir === undefined ? undefined : { cacheDir, slot: t.lockFile }),
    ),
  );
  targets.forEach((t, i) => {
    const own = locks[i]!;
    const local = new Map(Object.keys(own.stages).map((n) => [n, t.prefix + n]));
    const localWdirs = new Map([...local].map(([n, a]) => [n, wdirs.get(a) ?? t.dir]));
    const rebased = lockToRepoPaths(own, localWdirs);
    assertLockPathsInside(rebased, t.lockFile, new Set([...local].filter(([, a]) => names.has(a)).map(([n]) => n)));
    for (const [n, s] of Object.entries(rebased.stages)) merged.stages[t.prefix + n] = s;
  });
  return merged;
}

/**
 * Records stages into the merged lock and writes the lock file each belongs to (atomically, writes of one
 * file serialised). Each file lists its stages in pipeline order, its paths relative to their wdir.
 */
export class LockSetWriter {
  private readonly writers = new Map<LockTarget, LockWriter>();

  constructor(
    root: string,
    readonly lock: LockFile,
    private readonly targets: readonly LockTarget[],
    order: readonly string[],
    stages: readonly StageDef[],
    floatsOf: (file: string) => Promise<ReadonlySet<string> | undefined>,
  ) {
    const wdirOf = new Map(stages.map((s) => [s.name, s.wdir]));
    for (const t of targets) {
      const own: LockFile = { schema: '2.0', stages: {} };
      const wdirs = new Map<string, string>();
      for (const [address, s] of Object.entries(lock.stages)) {
        if (targetOf(targets, address) !== t) continue;
        const n = address.slice(t.prefix.length);
        own.stages[n] = s;
        wdirs.set(n, wdirOf.get(address) ?? t.dir);
      }
      const ownOrder = order.filter((a) => targetOf(targets, a) === t).map((a) => a.slice(t.prefix.length));
      for (const a of order)
        if (targetOf(targets, a) === t) wdirs.set(a.slice(t.prefix.length), wdirOf.get(a) ?? t.dir);
      this.writers.set(t, new LockWriter(path.join(root, t.lockFile), own, ownOrder, wdirs, floatsOf));
    }
  }

  /** Record a stage (or forget it with `undefined`) and write its lock file. */
  update(address: string, entry: LockedStage | undefined): Promise<void> {
    if (entry) this.lock.stages[address] = normaliseStage(entry);
    else delete this.lock.stages[address];
    const t = targetOf(this.targets, address);
    return this.writers.get(t)!.update(address.slice(t.prefix.length), entry);
  }
}
