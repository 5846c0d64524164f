import { promises as fs, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { removeFile } from '../util/atomic.js';
import { stillRunning, thisProcess } from '../util/process-id.js';

export interface LockHolder {
  pid: number;
  command: string;
  started: string;
  /** Start time of the holder process (see util/process-id.ts); absent in locks of older versions. */
  startTime?: string | null;
  host?: string;
}

export const REPO_LOCK = '.lockstep/tmp/repo.lock';

/**
 * Locks to remove if the process exits holding them; one 'exit' listener for all of them, since `exp run`
 * holds one per experiment running at once (a listener each would trip Node's leak warning past -j 10).
 */
const atExit = new Set<() => void>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const f of atExit) f();
  });
}

async function readHolder(file: string): Promise<LockHolder | null> {
  try {
    const h = JSON.parse(await fs.readFile(file, 'utf8')) as LockHolder;
    return typeof h?.pid === 'number' ? h : null;
  } catch {
    return null;
  }
}

/**
 * Take the workspace's repository lock (an O_EXCL file naming our process: pid, start time, host), so
 * two writers never interleave. A lock whose holder is gone (killed with -9, or its pid now belongs to
 * another process) is taken over. With `waitMs` > 0 we poll until the holder finishes; otherwise, or
 * after the wait, fail naming the holder and the lock file. The lock is also removed when the process
 * exits without releasing it (process.exit on SIGINT/SIGTERM/SIGHUP, see util/interrupt.ts).
 */
export async function acquireRepoLock(
  root: string,
  opts: { command: string; waitMs: number; onWait?: (holder: LockHolder) => void },
): Promise<() => Promise<void>> {
  const file = path.join(root, REPO_LOCK);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const id = thisProcess();
  const me: LockHolder = {
    pid: id.pid,
    startTime: id.startTime,
    host: id.host,
    command: opts.command,
    started: new Date().toISOString(),
  };
  const deadline = Date.now() + opts.waitMs;
  let told = false;
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx');
      try {
        await handle.writeFile(JSON.stringify(me));
      } catch (e) {
        // a full disk: leave no half-written lock behind, and say what is wrong
        await handle.close().catch(() => {});
        await removeFile(file);
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOSPC' || code === 'EDQUOT')
          throw new LockstepError(
            'no-space',
            `no space left on the device to write the repository lock ${REPO_LOCK} (${code})`,
            'Free some space there, then run the command again.',
          );
        throw e;
      }
      await handle.close();
      const ours = () => {
        try {
          return (JSON.parse(readFileSync(file, 'utf8')) as LockHolder).pid === process.pid;
        } catch {
          return false;
        }
      };
      const onExit = () => {
        if (ours()) rmSync(file, { force: true });
      };
      atExit.add(onExit);
      installExitHook();
      return async () => {
        atExit.delete(onExit);
        if (ours()) await removeFile(file);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readHolder(file);
    if (holder === null || !stillRunning(holder)) {
      // Half-written or orphaned by a dead process. Rename first so two takers cannot both win.
      const stale = `${file}.stale.${process.pid}`;
      await fs.rename(file, stale).then(
        () => removeFile(stale),
        () => undefined,
      );
      continue;
    }
    if (Date.now() >= deadline) {
      const where = holder.host && holder.host !== id.host ? ` on host ${holder.host}` : '';
      throw new LockstepError(
        'locked',
        `the repository is locked by pid ${holder.pid}${where} (${holder.command}, started ${holder.started}) in ` +
          `${REPO_LOCK}`,
        opts.waitMs > 0
          ? 'It is still running; wait longer with --wait SECONDS.'
          : `Wait for it to finish, or run with --wait to queue behind ` +
              `it${where ? `; if it is not running, remove ${REPO_LOCK}` : ''}.`,
      );
    }
    if (!told) {
      opts.onWait?.(holder);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
