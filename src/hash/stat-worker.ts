/**
 * The helper thread that shares a big walk's stats with the main thread (see walk.ts): one per process,
 * started once and reused by every walk of the command (the real pipeline's status walks data/raw and
 * data/partitions at the same time: one thread for both, not one each), and warmed up as soon as the stat
 * cache shows a big folder to come, so its start-up overlaps reading the config and the lock instead of
 * delaying the walk. It holds no state between jobs but the fs binding.
 *
 * A job is a walk's shared memory: [next chunk, state] then ino/mtimeMs/size per file. The thread and
 * the main thread take chunks from the counter; the thread claims a job by moving its state 0 -> 1, and a
 * main thread that finished every chunk first closes it (0 -> 2) and does not wait. The thread answers each
 * job it claimed with the indexes it could not stat (the main thread redoes them, to throw the real error);
 * if it dies, every job it had is redone by the main thread.
 */
import type { Worker } from 'node:worker_threads';
import { usingFastStat } from './lstat-numbers.js';

export const CHUNK = 1024;

/** The thread's loop (CommonJS text: run with eval); `fast` jobs use the fs binding the main thread checked. */
const WORKER = `
const { parentPort } = require('node:worker_threads');
const { lstatSync } = require('node:fs');
let raw;
parentPort.on('message', (w) => {
  const ctl = new Int32Array(w.shared, 0, 2);
  const failed = [];
  if (Atomics.compareExchange(ctl, 1, 0, 1) === 0) {
    const stats = new Float64Array(w.shared, 8, 3 * w.n);
    const skip = new Set(w.linked);
    if (w.fast && raw === undefined) raw = process.binding('fs');
    const one = w.fast
      ? (p, i) => {
          const a = raw.lstat(p, false, undefined, false);
          if (a === undefined || (a[1] & 0o170000) !== 0o100000) return false;
          stats[3 * i] = a[7]; stats[3 * i + 1] = a[12] * 1e3 + a[13] / 1e6; stats[3 * i + 2] = a[8];
          return true;
        }
      : (p, i) => {
          const st = lstatSync(p, { throwIfNoEntry: false });
          if (st === undefined || !st.isFile()) return false;
          stats[3 * i] = st.ino; stats[3 * i + 1] = st.mtimeMs; stats[3 * i + 2] = st.size;
          return true;
        };
    // a path sliced out of the joined names per stat (no array of 60,000 strings to keep alive)
    const prefix = w.root + '/';
    const { joined, starts } = w;
    for (;;) {
      const from = Atomics.add(ctl, 0, 1) * ${CHUNK};
      if (from >= w.n) break;
      for (let i = from; i < Math.min(w.n, from + ${CHUNK}); i++) {
        if (skip.has(i)) continue;
        const p = prefix + joined.slice(starts[i], starts[i + 1] - 1);
        try { if (!one(p, i)) stats[3 * i + 1] = NaN; } catch { failed.push(i); }
      }
    }
  }
  parentPort.postMessage({ id: w.id, failed });
});
`;

/** What a job's waiter learns: the indexes to redo, or 'all' when the thread died. */
type Outcome = number[] | 'all';

interface Pool {
  worker: Worker;
  waiting: Map<number, (o: Outcome) => void>;
}

let pool: Promise<Pool> | undefined;
let current: Pool | undefined;
let nextId = 0;

function spawn(): Promise<Pool> {
  pool ??= import('node:worker_threads').then(({ Worker }) => {
    const worker = new Worker(WORKER, {
      eval: true,
      stdout: false,
      stderr: false,
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
    });
    worker.unref(); // referenced only while a job waits for it
    const p: Pool = { worker, waiting: new Map() };
    worker.on('message', ({ id, failed }: { id: number; failed: number[] }) => settle(p, id, failed));
    const died = () => {
      if (current === p) {
        current = undefined;
        pool = undefined; // the next job starts a new thread
      }
      for (const id of [...p.waiting.keys()]) settle(p, id, 'all');
    };
    worker.once('error', died);
    worker.once('exit', died);
    current = p;
    return p;
  });
  return pool;
}

function settle(p: Pool, id: number, outcome: Outcome): void {
  const resolve = p.waiting.get(id);
  if (resolve === undefined) return;
  p.waiting.delete(id);
  if (p.waiting.size === 0) p.worker.unref();
  resolve(outcome);
}

let warmedAt = Number.NEGATIVE_INFINITY;

/** Start the thread now (a big walk is coming), so it is up when the walk begins. */
export function warmUpStatWorker(): void {
  warmedAt = performance.now();
  spawn().catch(() => {});
}

/**
 * Whether the thread was warmed up for this command (in the last few seconds): a walk then uses it without
 * asking the machine again, since the thread still booting would count as a task competing for a core.
 */
export function statWorkerWarm(): boolean {
  return pool !== undefined && performance.now() - warmedAt < 5000;
}

/** The thread, for tests that end it to check the main thread then does its part. */
export async function statWorkerForTests(): Promise<Worker> {
  return (await spawn()).worker;
}

export interface StatJob {
  root: string;
  /** The files' relpaths joined by NUL, and where each starts (shared memory: Relpaths.starts). */
  joined: string;
  starts: Uint32Array;
  /** Indexes of symlinked files: stat'ed through the link by the main thread already. */
  linked: number[];
  shared: SharedArrayBuffer;
  n: number;
}

/**
 * Give a walk's job to the thread. The function returned is called once the main thread took its last
 * chunk: with `wait` false (the thread never claimed the job) it returns at once; otherwise it resolves
 * with what the main thread must redo.
 */
export async function submitStatJob(job: StatJob): Promise<(wait: boolean) => Promise<Outcome>> {
  const p = await spawn();
  const id = nextId++;
  const outcome = new Promise<Outcome>((resolve) => p.waiting.set(id, resolve));
  p.worker.ref();
  p.worker.postMessage({ ...job, id, fast: usingFastStat() });
  return async (wait) => {
    if (!wait) {
      // it will find the job closed; nobody waits for its answer, nor keeps the process alive for it
      p.waiting.delete(id);
      if (p.waiting.size === 0) p.worker.unref();
      return [];
    }
    return outcome;
  };
}
