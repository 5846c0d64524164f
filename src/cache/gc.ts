/**
 * Garbage collection: remove every object not reachable from the hashes in use.
 */
import { promises as fs } from 'node:fs';
import { isDirHash, type Md5 } from '../hash/types.js';
import type { ObjectStore } from './types.js';

export interface GcResult {
  removed: Md5[];
  /** Bytes freed (or that would be freed, with `dry`). */
  bytes: number;
}

/**
 * `used` .dir hashes keep their manifest's files too. A used manifest that is missing or unreadable
 * keeps nothing extra (its files may still be kept by other used hashes).
 */
export async function collectGarbage(
  store: ObjectStore,
  used: Iterable<Md5>,
  opts: { dry: boolean },
): Promise<GcResult> {
  const keep = new Set<string>();
  for (const md5 of used) {
    keep.add(md5);
    if (isDirHash(md5)) {
      try {
        for (const e of await store.readManifest(md5)) keep.add(e.md5);
      } catch {
        // nothing more to keep for an absent or damaged manifest
      }
    }
  }
  const removed: Md5[] = [];
  let bytes = 0;
  for await (const md5 of store.list()) {
    if (keep.has(md5)) continue;
    const st = await fs.stat(store.objectPath(md5)).catch(() => undefined);
    bytes += st?.size ?? 0;
    removed.push(md5);
    if (!opts.dry) await store.remove(md5);
  }
  return { removed, bytes };
}
