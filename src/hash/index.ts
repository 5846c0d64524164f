/**
 * Public API of hashing: DVC-compatible md5 of files and directories, with a persistent stat cache.
 */
import path from 'node:path';
import { CachingHasher, type HashHooks, type HashResult, type HasherOptions } from './hasher.js';
import { statCacheFor } from './stat-cache.js';
import { warmUpStatWorker } from './stat-worker.js';
import { PARALLEL_MIN, wantThread } from './idle-core.js';
export * from './types.js';
export type { HashHooks, HashResult, HasherOptions } from './hasher.js';
export { hashFile, md5Hex } from './md5-file.js';
export { manifestJson, pyJsonString, compareCodePoints } from './pyjson.js';

export interface Hasher {
  /** Hash a file or directory; null when the path does not exist. Uses and fills the stat cache. */
  hashPath(absPath: string, hooks?: HashHooks): Promise<HashResult | null>;
  /** Persist new stat-cache entries (safe with concurrent processes). */
  save(): Promise<void>;
}

/** Open a hasher whose stat cache lives under `cacheDir` (the project's .cache). */
export async function openHasher(cacheDir: string, opts: HasherOptions = {}): Promise<Hasher> {
  const statCache = statCacheFor(cacheDir);
  await statCache.load();
  // A folder this big was walked before: its stat thread starts now, while the command reads its config.
  if (statCache.hasListingOf(PARALLEL_MIN) && wantThread(PARALLEL_MIN)) warmUpStatWorker();
  return new CachingHasher(statCache, opts);
}

/** Forget, in this process's memory, the stat-cache entries under `dir`: a folder removed for good. */
export function forgetStatsUnder(cacheDir: string, dir: string): void {
  statCacheFor(cacheDir).forgetUnder(path.resolve(dir));
}
