/**
 * The content hash of a path as a lock file records it: the path's own entry, or, for a path inside a
 * recorded directory, the entries of that directory's manifest under it (so `data/prepared/test.ids.tsv`
 * names the test images even though only `data/prepared` is an output).
 */
import { openObjectStore } from '../cache/index.js';
import { createHash } from 'node:crypto';
import { asMd5 } from '../hash/types.js';
import type { LockFile } from '../pipeline/lockfile-types.js';
import type { Project } from '../project.js';
import { lockedEntry } from './versions.js';

export async function pathHash(project: Project, lock: LockFile, rel: string): Promise<string | null> {
  const norm = rel.replace(/\/+$/, '');
  const direct = lockedEntry(lock, norm);
  if (direct) return direct.md5;
  const store = openObjectStore(project.cacheDir);
  for (const s of Object.values(lock.stages)) {
    for (const o of [...(s.outs ?? []), ...(s.deps ?? [])]) {
      if (!o.md5?.endsWith('.dir') || !norm.startsWith(`${o.path}/`)) continue;
      const md5 = asMd5(o.md5);
      if (!(await store.has(md5))) return null;
      const sub = norm.slice(o.path.length + 1);
      const entries = (await store.readManifest(md5)).filter(
        (e) => e.relpath === sub || e.relpath.startsWith(`${sub}/`),
      );
      if (entries.length === 0) return null;
      if (entries.length === 1 && entries[0]!.relpath === sub) return entries[0]!.md5;
      const listing = JSON.stringify(entries.map((e) => [e.relpath, e.md5]));
      return `${createHash('md5').update(listing).digest('hex')}.dir`;
    }
  }
  return null;
}
