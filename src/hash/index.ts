/**
 * Public API of hashing: DVC-compatible md5 of files and directories, with a persistent stat cache.
 */
import type { DirEntry, HashInfo } from './types.js';
export * from './types.js';

export interface HashResult {
  info: HashInfo;
  /** Present for directories: the manifest, sorted by relpath. */
  entries?: DirEntry[];
}

export interface Hasher {
  /** Hash a file or directory; null when the path does not exist. Uses and fills the stat cache. */
  hashPath(absPath: string): Promise<HashResult | null>;
  /** Persist new stat-cache entries (safe with concurrent processes). */
  save(): Promise<void>;
}

/** Open a hasher whose stat cache lives under `cacheDir` (the project's .cache). */
export async function openHasher(_cacheDir: string): Promise<Hasher> {
  throw new Error('not built yet');
}
