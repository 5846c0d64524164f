/**
 * Public API of the cache: the object store and moving outputs between workspace and cache.
 */
import type { Hasher } from '../hash/index.js';
import type { HashInfo } from '../hash/types.js';
import type { LinkType, ObjectStore } from './types.js';
export type * from './types.js';

export function openObjectStore(_cacheDir: string): ObjectStore {
  throw new Error('not built yet');
}

/**
 * Hash an output (file or directory), add it to the store, and re-place it in the workspace per
 * `linkTypes` (first that works), so that editing the workspace copy can never change the cache.
 */
export async function commitOutput(_store: ObjectStore, _hasher: Hasher, _absPath: string, _linkTypes: LinkType[]): Promise<HashInfo> {
  throw new Error('not built yet');
}

/**
 * Place an output recorded as `info` at `absPath` from the store, verifying each object before use.
 * Throws LockstepError('missing-object' | 'corrupt-object').
 */
export async function checkoutOutput(_store: ObjectStore, _info: HashInfo, _absPath: string, _linkTypes: LinkType[]): Promise<{ changed: boolean }> {
  throw new Error('not built yet');
}

export async function collectGarbage(_store: ObjectStore, _used: Iterable<import('../hash/types.js').Md5>, _opts: { dry: boolean }): Promise<{ removed: import('../hash/types.js').Md5[]; bytes: number }> {
  throw new Error('not built yet');
}
