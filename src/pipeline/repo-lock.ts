import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';

export interface LockHolder {
  pid: number;
  command: string;
  started: string;
}

export const REPO_LOCK = '.lockstep/tmp/repo.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(file: string): Promise<LockHolder | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}

/**
 * Take the workspace's repository lock (an O_EXCL file holding our pid), so two writers never
 * interleave. A lock whose holder is dead (killed with -9) is taken over. With `waitMs` > 0 we poll
 * until the holder finishes; otherwise, or after the wait, fail naming the holder's pid.
 */
export async function acquireRepoLock(
  root: string,
  opts: { command: string; waitMs: number; onWait?: (holder: LockHolder) => void },
): Promise<() => Promise<void>> {
  const file = path.join(root, REPO_LOCK);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const me: LockHolder = { pid: process.pid, command: opts.command, started: new Date().toISOString() };
  const deadline = Date.now() + opts.waitMs;
  let told = false;
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx');
      await handle.writeFile(JSON.stringify(me));
      await handle.close();
      return async () => {
        const holder = await readHolder(file);
        if (holder?.pid === process.pid) await fs.rm(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readHolder(file);
    if (holder === null || !alive(holder.pid)) {
      // Half-written or orphaned by a killed process. Rename first so two takers cannot both win.
      const stale = `${file}.stale.${process.pid}`;
      await fs.rename(file, stale).then(
        () => fs.rm(stale, { force: true }),
        () => undefined,
      );
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockstepError(
        'locked',
        `the repository is locked by pid ${holder.pid} (${holder.command}, started ${holder.started})`,
        opts.waitMs > 0
          ? 'It is still running; wait longer with --wait SECONDS.'
          : 'Wait for it to finish, or run with --wait to queue behind it.',
      );
    }
    if (!told) {
      opts.onWait?.(holder);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
