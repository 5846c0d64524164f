/**
 * Public API of the cache: the object store and moving outputs between workspace and cache.
 * `ObjectStore` (types.ts) is the narrow contract every store passes (test/contract); commit and checkout
 * are operations of the local cache alone (they link, verify once and read synchronously in batches), so
 * they take the concrete `LocalObjectStore`, which `openObjectStore` returns.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Hasher } from '../hash/index.js';
import type { HashInfo } from '../hash/types.js';
import { checkoutOutputImpl, type CheckoutOptions } from './checkout.js';
import { type CommitProgress, commitOutputImpl, type OutputOptions } from './commit.js';
import { LocalObjectStore } from './object-store.js';
import { unprotectFile } from './link.js';
import type { LinkType } from './types.js';
export type * from './types.js';
export { LocalObjectStore } from './object-store.js';
export { collectGarbage, type GcResult } from './gc.js';
export type { CheckoutOptions, CommitProgress, OutputOptions };

export function openObjectStore(cacheDir: string): LocalObjectStore {
  return new LocalObjectStore(cacheDir);
}

/**
 * Hash an output (file or directory), add it to the store, and re-place it in the workspace per
 * `linkTypes` (first that works), so that editing the workspace copy can never change the cache.
 * With reflink/copy the workspace file is left as it is (it is already an independent copy); with
 * hardlink/symlink it becomes the read-only cache object (see src/cache/link.ts, `unprotectOutput`).
 * Throws LockstepError('missing-output') when the path does not exist.
 */
export async function commitOutput(
  store: LocalObjectStore,
  hasher: Hasher,
  absPath: string,
  linkTypes: LinkType[],
  opts?: OutputOptions,
): Promise<HashInfo> {
  return commitOutputImpl(store, hasher, absPath, linkTypes, opts);
}

/**
 * Place an output recorded as `info` at `absPath` from the store, verifying each object before use.
 * Files already holding the right content are left alone; files the manifest does not list are removed.
 * Throws LockstepError('missing-object' | 'corrupt-object').
 */
export async function checkoutOutput(
  store: LocalObjectStore,
  info: HashInfo,
  absPath: string,
  linkTypes: LinkType[],
  opts?: CheckoutOptions,
): Promise<{ changed: boolean }> {
  return checkoutOutputImpl(store, info, absPath, linkTypes, opts);
}

/**
 * Replace hardlinked/symlinked files of an output with independent writable copies (DVC's
 * `unprotect`), so the output can be edited without touching the cache. Returns how many changed.
 */
export async function unprotectOutput(absPath: string): Promise<number> {
  const st = await fs.lstat(absPath);
  if (!st.isDirectory()) return unprotectFile(absPath) ? 1 : 0;
  let n = 0;
  const visit = async (dir: string): Promise<void> => {
    for (const d of await fs.readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, d.name);
      if (d.isDirectory()) await visit(abs);
      else if (unprotectFile(abs)) n++;
    }
  };
  await visit(absPath);
  return n;
}
