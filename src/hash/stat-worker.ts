/**
 * The helper thread that shares a big walk's stats with the main thread (see walk.ts), and a big first hash's
 * reads and md5s (parallel-hash.ts): one per process, started once and reused by every job of the command
 * (the real pipeline's status walks and hashes data/raw and data/partitions at the same time: one thread
 * for both, so two cores run two threads, not four), and warmed up as soon as the stat cache shows a big
 * folder to come, so its start-up overlaps reading the config and the lock instead of delaying the walk.
 * It holds no state between jobs but the fs binding and a read buffer.
 *
 * A job is shared memory: [next chunk, state] then its results (StatJob, HashJob). The thread and the main
 * thread take chunks from the counter; the thread claims a job by moving its state 0 -> 1, and a main
 * thread that finished every chunk first closes it (0 -> 2) and does not wait. The thread answers each job
 * it claimed with the indexes it could not do (the main thread redoes them, to throw the real error); if it
 * dies, every job it had is redone by the main thread.
 */
import type { Worker } from 'node:worker_threads';
import { usingFastStat } from './lstat-numbers.js';

export const CHUNK = 1024;

/** Files of a hash job taken at once (each is an open, a read, a close and an md5). */
export const HASH_CHUNK = 256;

/**
 * The thread's loop (CommonJS text: run with eval). A stat job writes ino/mtimeMs/size per file (`fast`
 * jobs through the fs binding the main thread checked); a hash job writes each file's md5 (16 bytes) and
 * a done flag. Either takes the job's paths as one NUL-joined text and where each starts (no string per
 * file kept alive).
 */
const WORKER = `
const { parentPort } = require('node:worker_threads');
const { lstatSync, openSync, readSync, closeSync } = require('node:fs');
let crypto; // loaded by the first hash job: a stat-only thread boots without it (~5 ms sooner at its first chunk)
let raw;
let buf;
const path = (w, i) => w.prefix + w.joined.slice(w.starts[i], w.starts[i + 1] - 1);
function statJob(w, ctl, failed) {
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
  for (;;) {
    const from = Atomics.add(ctl, 0, 1) * ${CHUNK};
    if (from >= w.n) break;
    for (let i = from; i < Math.min(w.n, from + ${CHUNK}); i++) {
      if (skip.has(i)) continue;
      try { if (!one(path(w, i), i)) stats[3 * i + 1] = NaN; } catch { failed.push(i); }
    }
  }
}
// One read when it returns the size the stat gave, asking for more (the file's end: see md5-file.ts).
function md5Of(fd, size) {
  crypto ??= require('node:crypto');
  let n = 0;
  for (;;) {
    const r = readSync(fd, buf, n, buf.length - n, null);
    if (r === 0) break;
    n += r;
    if (n === buf.length) {
      const h = crypto.createHash('md5').update(buf);
      for (let m; (m = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, m));
      return h.digest();
    }
    if (n === size) break;
  }
  const bytes = buf.subarray(0, n);
  return crypto.hash ? crypto.hash('md5', bytes, 'buffer') : crypto.createHash('md5').update(bytes).digest();
}
function hashJob(w, ctl, failed) {
  const out = new Uint8Array(w.shared, 8, 16 * w.n);
  const done = new Uint8Array(w.shared, 8 + 16 * w.n, w.n);
  buf ??= Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const from = Atomics.add(ctl, 0, 1) * ${HASH_CHUNK};
    if (from >= w.n) break;
    for (let i = from; i < Math.min(w.n, from + ${HASH_CHUNK}); i++) {
      try {
        const fd = openSync(path(w, i), 'r');
        try { out.set(md5Of(fd, w.sizes[i]), 16 * i); } finally { closeSync(fd); }
        done[i] = 1;
      } catch { failed.push(i); }
    }
  }
}
parentPort.on('message', (w) => {
  const ctl = new Int32Array(w.shared, 0, 2);
  const failed = [];
  if (Atomics.compareExchange(ctl, 1, 0, 1) === 0) (w.kind === 'hash' ? hashJob : statJob)(w, ctl, failed);
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

let failNextSpawn = false;

/** Tests: the next start of the thread fails, as `new Worker` does when the process cannot make a thread. */
export function failNextStatWorkerSpawnForTests(): void {
  failNextSpawn = true;
}

function spawn(): Promise<Pool> {
  if (pool !== undefined) return pool;
  const starting = import('node:worker_threads').then(({ Worker }) => {
    if (failNextSpawn) {
      failNextSpawn = false;
      throw new Error('no thread (test)');
    }
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
  pool = starting;
  starting.catch(() => {
    if (pool === starting) pool = undefined; // the next job tries again
  });
  return starting;
}

function settle(p: Pool, id: number, outcome: Outcome): void {
  const resolve = p.waiting.get(id);
  if (resolve === undefined) return;
  p.waiting.delete(id);
  if (p.waiting.size === 0) p.worker.unref();
  resolve(outcome);
}

/** When the thread was last chosen (warmed up or given a job). */
let chosenAt = Number.NEGATIVE_INFINITY;

/** Start the thread now (a big walk is coming), so it is up when the walk begins. */
export function warmUpStatWorker(): void {
  chosenAt = performance.now();
  spawn().catch(() => {});
}

/**
 * Whether the thread was chosen in the last few seconds (this command's earlier walk or warm-up): the next
 * big job then takes it without asking the machine again, since the thread booting or working on another
 * folder would count as a task competing for a core.
 */
export function statWorkerWarm(): boolean {
  return pool !== undefined && performance.now() - chosenAt < 5000;
}

/** The thread, for tests that end it to check the main thread then does its part. */
export async function statWorkerForTests(): Promise<Worker> {
  return (await spawn()).worker;
}

interface Paths {
  /** Put before each path: the walked folder and a slash, or '' for absolute paths. */
  prefix: string;
  /** The paths joined by NUL, and where each starts (shared memory: Relpaths.starts). */
  joined: string;
  starts: Uint32Array;
  /** [next chunk, state: 0 not claimed, 1 claimed by the thread, 2 closed by the main thread], then the results. */
  shared: SharedArrayBuffer;
  n: number;
}

/** A walk's stats: ino/mtimeMs/size of file i at 3i.. of the Float64Array after the 8 control bytes. */
export interface StatJob extends Paths {
  kind: 'stat';
  /** Indexes of symlinked files: stat'ed through the link by the main thread already. */
  linked: number[];
}

/** md5s of files: 16 bytes for file i at 16i after the 8 control bytes, then a done flag per file. */
export interface HashJob extends Paths {
  kind: 'hash';
  /** Each file's size by its stat (a small file is then read with one read). */
  sizes: number[];
}

/**
 * Give a walk's or a hash's job to the thread. The function returned is called once the main thread took its last
 * chunk: with `wait` false (the thread never claimed the job) it returns at once; otherwise it resolves
 * with what the main thread must redo.
 */
export async function submitJob(job: StatJob | HashJob): Promise<(wait: boolean) => Promise<Outcome>> {
  chosenAt = performance.now();
  let p: Pool;
  try {
    p = await spawn();
  } catch {
    // No thread (the process cannot make one now): the main thread does every part; a waiter redoes all.
    return async (wait) => (wait ? 'all' : []);
  }
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
