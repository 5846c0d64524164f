/**
 * Pure planning for transfers: how to ask the remote what it has, and what must move in which
 * order. No I/O here; src/remote/transfer.ts carries the plans out.
 */
import type { Md5 } from '../hash/types.js';
import { isDirHash } from '../hash/types.js';

export type ExistenceStrategy = 'exists' | 'list';

/** DVC's constants (dvc-objects ObjectDB.oids_exist): a list page holds 1,000 keys. */
export const LIST_PAGE_SIZE = 1000;
export const TRAVERSE_THRESHOLD_SIZE = 500_000;
export const TRAVERSE_WEIGHT_MULTIPLIER = 5;
/** The estimate lists one 3-hex-digit prefix (`files/md5/00/0`) and scales by 16^3. */
export const ESTIMATE_PREFIX = 'files/md5/00/0';
export const ESTIMATE_SCALE = 16 ** 3;

export function estimateRemoteSize(keysUnderEstimatePrefix: number): number {
  return ESTIMATE_SCALE * Math.max(1, keysUnderEstimatePrefix);
}

/**
 * Ask per object when few objects are wanted relative to the remote's size, else list the whole
 * remote: listing costs one request per 1,000 keys, asking costs one per object. Large remotes are
 * weighted up because huge listings also cost memory and time to filter (DVC measured this on S3).
 */
export function chooseExistenceStrategy(objectsToCheck: number, estimatedRemoteSize: number): ExistenceStrategy {
  if (objectsToCheck <= 1) return 'exists';
  const pages = estimatedRemoteSize / LIST_PAGE_SIZE;
  const weight = estimatedRemoteSize > TRAVERSE_THRESHOLD_SIZE ? pages * TRAVERSE_WEIGHT_MULTIPLIER : pages;
  return objectsToCheck < weight ? 'exists' : 'list';
}

export interface PushPlan {
  /** File objects to upload, in no particular order. */
  files: Md5[];
  /**
   * Directory manifests to upload once every file of theirs is on the remote (uploaded last, as
   * DVC does). A `.dir` on a remote is never taken as proof that its files are there: files can
   * be deleted from a remote behind it, so every file is asked about on every push.
   */
  dirs: Md5[];
  /** Objects already on the remote (files and manifests). */
  upToDate: number;
}

/**
 * What to upload. `manifests` maps each wanted `.dir` to its file hashes; `remoteHas` holds the
 * objects the remote is known to have (each file asked about, see filesToQuery); `localMissing`
 * lists objects the local cache lacks (they cannot be pushed, and a directory missing any file is
 * not completed on the remote).
 */
export function planPush(
  roots: readonly Md5[],
  manifests: ReadonlyMap<Md5, readonly Md5[]>,
  remoteHas: ReadonlySet<Md5>,
  localMissing: ReadonlySet<Md5>,
): PushPlan {
  const files = new Set<Md5>();
  const dirs: Md5[] = [];
  const counted = new Set<Md5>();
  const seen = new Set<Md5>();
  for (const root of roots) {
    if (seen.has(root)) continue;
    seen.add(root);
    if (!isDirHash(root)) {
      if (remoteHas.has(root)) counted.add(root);
      else if (!localMissing.has(root)) files.add(root);
      continue;
    }
    const children = manifests.get(root);
    let complete = children !== undefined && !localMissing.has(root);
    for (const f of children ?? []) {
      if (remoteHas.has(f)) counted.add(f);
      else if (localMissing.has(f)) complete = false;
      else files.add(f);
    }
    if (remoteHas.has(root)) counted.add(root);
    else if (complete) dirs.push(root);
  }
  return { files: [...files], dirs, upToDate: counted.size };
}

/** Hashes the remote must be asked about for a push: every file root, every `.dir` and all of its files. */
export function filesToQuery(roots: readonly Md5[], manifests: ReadonlyMap<Md5, readonly Md5[]>): Md5[] {
  const out = new Set<Md5>();
  for (const root of roots) {
    out.add(root);
    if (isDirHash(root)) for (const f of manifests.get(root) ?? []) out.add(f);
  }
  return [...out];
}
