/** Branded strings so a path is never passed where a hash is wanted. */
export type Md5 = string & { readonly __brand: 'Md5' }; // 32 lowercase hex, or 32 hex + '.dir' for a directory

export const asMd5 = (s: string): Md5 => s as Md5;
/** 32 lowercase hex digits, with `.dir` for a directory manifest: what may name a cache object. */
export const isMd5 = (s: string): s is Md5 => /^[0-9a-f]{32}(\.dir)?$/.test(s);
export const isDirHash = (h: Md5): boolean => h.endsWith('.dir');

/** One file of a directory, as in DVC's .dir manifest (size is ours; it is not part of the hash). */
export interface DirEntry {
  relpath: string; // POSIX, relative to the directory
  md5: Md5;
  size: number;
}

/** What lockstep records for a dep or an out (dvc.lock's `md5`, `size`, `nfiles`). */
export interface HashInfo {
  md5: Md5;
  size: number;
  /** Number of files, for directories only. */
  nfiles?: number;
}
