/**
 * Temp files a killed upload left on a remote (`files/md5/ab/.cdef….<pid>-<start>-<host>.<rnd>.tmp`):
 * a push renames each upload into place when it is whole, so `kill -9` mid-upload leaves its temp
 * behind and nothing else would ever remove it. The next push sweeps them, removing only lockstep's
 * own temp names and only provably abandoned ones (util/atomic.ts `tempIsStale`): the writer was a
 * process of this host that is gone, or the file is untouched for a day. A concurrent live push keeps
 * its temps.
 */
import path from 'node:path';
import { tempIsStale } from '../util/atomic.js';
import type { Remote } from './types.js';

export interface TempSweep {
  /** Keys of the stale temps removed. */
  removed: string[];
  /** Why the sweep stopped early, if it did (it never fails the push that ran it). */
  error?: string;
}

export async function removeStaleTemps(remote: Remote, now = Date.now()): Promise<TempSweep> {
  const removed: string[] = [];
  if (!remote.listTemps) return { removed };
  try {
    for await (const t of remote.listTemps()) {
      if (!tempIsStale(path.posix.basename(t.key), t.mtimeMs, now)) continue;
      await remote.remove(t.key);
      removed.push(t.key);
    }
    return { removed };
  } catch (e) {
    return { removed, error: (e as Error).message };
  }
}
