/**
 * When a push sweeps its remote for abandoned temps (stale-temps.ts). The sweep walks the remote's
 * whole `files/` tree, 2-2.6 s over SSH for 60,000 objects: too much for every push (a queue worker
 * pushes once per job). So each push leaves a marker in the cache for as long as it runs, and the sweep
 * runs when a marker of a dead push is found (a push from this cache was killed, so it may have left
 * temps), and otherwise once a day per remote (for pushes killed on other machines, whose temps become
 * removable after a day anyway). A gate that cannot read or write its folder always sweeps.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processStartTime, stillRunning } from '../util/process-id.js';

/** How often a remote is swept when no push from this cache was interrupted. */
export const SWEEP_INTERVAL_MS = 24 * 3600 * 1000;

export interface SweepGate {
  /** Whether this push should sweep. */
  readonly needed: boolean;
  /** At the end of the push: `swept` says a sweep ran to its end (then the stamp and dead markers go). */
  done(swept: boolean): Promise<void>;
}

const tag = (s: string): string => createHash('md5').update(s).digest('hex').slice(0, 8);
const MARKER_RE = /^(\d+)-(\d+|x)-([0-9a-f]{8})\.run$/;

export async function openSweepGate(cacheDir: string, remoteDisplay: string, now = Date.now()): Promise<SweepGate> {
  const dir = path.join(cacheDir, 'tmp', 'pushes', tag(remoteDisplay));
  const stamp = path.join(dir, 'swept');
  const own = path.join(dir, `${process.pid}-${processStartTime(process.pid) ?? 'x'}-${tag(os.hostname())}.run`);
  try {
    await fs.mkdir(dir, { recursive: true });
    const dead: string[] = [];
    for (const name of await fs.readdir(dir)) {
      const m = MARKER_RE.exec(name);
      if (!m || m[3] !== tag(os.hostname())) continue; // another host's push cannot be checked from here
      if (!stillRunning({ pid: Number(m[1]), startTime: m[2] === 'x' ? null : m[2] })) dead.push(path.join(dir, name));
    }
    const last = await fs.stat(stamp).then(
      (st) => st.mtimeMs,
      () => null,
    );
    await fs.writeFile(own, '');
    const needed = dead.length > 0 || last === null || now - last > SWEEP_INTERVAL_MS;
    return {
      needed,
      async done(swept) {
        try {
          if (swept) {
            await fs.writeFile(stamp, '');
            await Promise.all(dead.map((f) => fs.rm(f, { force: true })));
          }
          await fs.rm(own, { force: true });
        } catch {
          // a marker left behind only makes a later push sweep once more
        }
      },
    };
  } catch {
    return { needed: true, done: async () => {} };
  }
}
