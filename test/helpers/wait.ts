/**
 * Waiting in tests: on a state another process reaches (a file appears, a pid dies, a line is printed),
 * never for a fixed time. The one place tests poll.
 */
import { readFileSync } from 'node:fs';

/**
 * Poll `check` until it returns something truthy, and return that; throw naming `what` after `timeoutMs`.
 * For waiting on a state another process reaches (a file appears, a pid dies), never a fixed sleep.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs?: number; what?: string; everyMs?: number } = {},
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const end = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const v = await check();
    if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() > end)
      throw new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${opts.what ?? 'a condition'}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 20));
  }
}

/** Whether a process is alive; a zombie (exited, not yet reaped by its parent) counts as dead. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return process.platform !== 'linux'; // gone between the two calls, or no /proc
  }
}

/** Wait until every pid is dead (see `alive`). */
export async function waitDead(pids: number[], what: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => pids.every((p) => !alive(p)), { timeoutMs, what: `${what} (pids ${pids.join(' ')}) to die` });
}
