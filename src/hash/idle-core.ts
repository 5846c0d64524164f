/**
 * Whether a big walk (or a big first hash) takes a second core: the rule, a pure function, and what it reads.
 *
 * A helper thread pays only while a core is idle: on a busy machine it measured 15% slower and 30 MB bigger.
 * The rule used to read the 1-minute load average, which answers a minute late: a series of back-to-back
 * commands on a 2-core machine holds it near 1 by itself (each keeps one core busy while it runs), so the
 * thread rarely started where it pays most. On Linux the kernel counts the tasks running or ready to run at
 * this instant (the 4th field of /proc/loadavg, `running/total`): this process's own running threads taken
 * out of it and the process counted once (a third of the time one of V8's helper threads was running as
 * the question was asked, and would have kept the thread off on an idle machine), fewer than the cores
 * means one is idle now. Elsewhere the 1-minute load average plus this process stands in for it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

/** Fewer files than this are not worth a thread's start-up (~30 ms of the other core). */
export const PARALLEL_MIN = 20_000;

/**
 * The rule: a thread for `files` files pays when there are enough of them and, with `runnable` tasks
 * running or ready now (this one included), a core is left idle.
 */
export function threadPays(cores: number, runnable: number, files: number): boolean {
  return files >= PARALLEL_MIN && cores > 1 && runnable < cores;
}

/**
 * The tasks running or ready to run now, this process counted once: /proc/loadavg's count less `own`, this
 * process's threads running as it was read (the reading one included), plus one.
 */
export function runnableFromLoadavg(text: string, own = 1): number | undefined {
  const m = /^\S+ \S+ \S+ (\d+)\/\d+ /.exec(text);
  return m === null ? undefined : Math.max(1, Number(m[1]) - own + 1);
}

/** This process's threads in state R (running or ready), from /proc/self/task/<tid>/stat. */
function ownRunning(tids: string[]): number {
  let n = 0;
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      if (stat.charAt(stat.lastIndexOf(')') + 2) === 'R') n++; // the state follows the parenthesised name
    } catch {
      // a thread that ended meanwhile
    }
  }
  return Math.max(1, n);
}

function runnableNow(cores: number): number {
  try {
    const text = readFileSync('/proc/loadavg', 'latin1');
    const all = runnableFromLoadavg(text);
    if (all !== undefined) {
      if (all < cores) return all;
      // Its own threads are read only when they could make the difference (~1 ms on a busy machine).
      const tids = readdirSync('/proc/self/task');
      return all - tids.length + 1 >= cores ? all : (runnableFromLoadavg(text, ownRunning(tids)) as number);
    }
  } catch {
    // not Linux (or no procfs): the load average, a minute late
  }
  return (loadavg()[0] ?? Number.POSITIVE_INFINITY) + 1;
}

/** Whether to share `files` files' work with a thread now; LOCKSTEP_WALK_THREADS=0/1 decides the machine's part. */
export function wantThread(files: number): boolean {
  const env = process.env.LOCKSTEP_WALK_THREADS;
  if (files < PARALLEL_MIN) return false; // not even a look at the machine
  if (env === '0' || env === '1') return env === '1';
  const cores = availableParallelism();
  return threadPays(cores, runnableNow(cores), files);
}
