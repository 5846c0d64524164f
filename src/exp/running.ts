/**
 * Experiments running now, for readers such as `lockstep ui`: `exp run` writes one small JSON file per
 * running experiment under .lockstep/tmp/running/ (name, baseline, workspace folder, owner pid) and
 * removes it when the experiment ends. A reader trusts an entry only while its owner process is alive
 * and its workspace is a lockstep temp workspace.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { Assignment } from './sweep.js';

export const RUNNING_DIR = '.lockstep/tmp/running';

export interface RunningEntry {
  name: string;
  baseline: string;
  /** The experiment's workspace (absolute). */
  dir: string;
  pid: number;
  started: string;
  assignments: Assignment[];
}

const fileOf = (root: string, e: Pick<RunningEntry, 'baseline' | 'name'>) =>
  path.join(root, RUNNING_DIR, `${e.baseline.slice(0, 12)}-${e.name}.json`);

/** Record a running experiment; the returned function removes the record (call it in a finally). */
export async function markRunning(root: string, entry: RunningEntry): Promise<() => Promise<void>> {
  const dir = path.join(root, RUNNING_DIR);
  await fs.mkdir(dir, { recursive: true });
  // the folder ignores itself, so `git status` of the project never shows it
  await fs.writeFile(path.join(root, '.lockstep/tmp/.gitignore'), '*\n', { flag: 'wx' }).catch(() => {});
  const file = fileOf(root, entry);
  await writeFileAtomic(file, `${JSON.stringify(entry)}\n`);
  return () => fs.rm(file, { force: true });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The experiments running now (entries of dead owners or with implausible fields are skipped). */
export async function listRunning(root: string): Promise<RunningEntry[]> {
  const dir = path.join(root, RUNNING_DIR);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const out: RunningEntry[] = [];
  for (const n of names.filter((f) => f.endsWith('.json')).sort()) {
    try {
      const e = JSON.parse(await fs.readFile(path.join(dir, n), 'utf8')) as RunningEntry;
      if (typeof e.name !== 'string' || typeof e.dir !== 'string' || !Number.isInteger(e.pid)) continue;
      // untrusted path: only an absolute folder named like exp run's workspaces
      if (!path.isAbsolute(e.dir) || !path.basename(path.dirname(e.dir)).startsWith('lockstep-exp-')) continue;
      if (alive(e.pid)) out.push(e);
    } catch {
      // half-written or removed meanwhile: skip
    }
  }
  return out;
}
