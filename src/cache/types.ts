import type { DirEntry, HashInfo, Md5 } from '../hash/types.js';

/** How an output is placed in the workspace from the cache. */
export type LinkType = 'reflink' | 'hardlink' | 'symlink' | 'copy';

/**
 * The content-addressed object store under `.cache/` in DVC 3's layout:
 * `files/md5/ab/cdef…` for files and `files/md5/ab/cdef….dir` for directory manifests.
 * Objects are written atomically (temp + rename) and made read-only.
 */
export interface ObjectStore {
  /** Absolute path of the cache directory (the folder holding `files/`). */
  readonly root: string;
  objectPath(md5: Md5): string;
  has(md5: Md5): Promise<boolean>;
  /**
   * Copy (or move, when `move`) a file whose hash is known into the store; no-op when present. The
   * bytes stored are checked against `md5` unless `trusted` (the caller hashed them itself and
   * nothing else writes `src`): a mismatch stores nothing and throws.
   */
  addFile(src: string, md5: Md5, opts?: { move?: boolean; trusted?: boolean }): Promise<void>;
  /** Write a directory manifest object; returns its `.dir` hash. */
  addManifest(entries: readonly DirEntry[]): Promise<Md5>;
  /** `forPath` names the output the manifest is read for, in errors. */
  readManifest(md5: Md5, forPath?: string | (() => string)): Promise<DirEntry[]>;
  /** True when the object's content hashes to its name. */
  verify(md5: Md5): Promise<boolean>;
  /**
   * Is the object absent, sound or corrupt? Reads it only when no earlier verification still holds
   * (size first, then the stat cache's mark of its last verification); marks what it verifies.
   */
  inspect(md5: Md5, size?: number): Promise<'absent' | 'sound' | 'corrupt'>;
  /** Persist verification marks. */
  save(): Promise<void>;
  /** `files/md5/ab/cdef…`, for messages. */
  displayPath(md5: Md5): string;
  /** Every object hash in the store (files and manifests). */
  list(): AsyncIterable<Md5>;
  remove(md5: Md5): Promise<void>;
}

export type { DirEntry, HashInfo, Md5 };
