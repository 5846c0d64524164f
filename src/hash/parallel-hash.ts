/**
 * Hashing many files on two cores: a worker thread and the main thread take chunks of the list from
 * a shared counter and write each file's md5 (16 bytes) into shared memory. Used for a directory's
 * first hash (cold `status`: 120,000 small files are 120,000 open/read/close and md5s) when a core is
 * idle (see idle-core.ts); the main thread alone otherwise. A file the worker could not read
 * is left to the main thread, which then throws the real error.
 */
import { hashFile } from './md5-file.js';
import type { Md5 } from './types.js';
import { asMd5 } from './types.js';
import { yieldToLoop } from '../util/yield.js';

const CHUNK = 256;

const WORKER = `
const { workerData: w, parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const ctl = new Int32Array(w.shared, 0, 2);
const out = new Uint8Array(w.shared, 8, 16 * w.n);
const done = new Uint8Array(w.shared, 8 + 16 * w.n, w.n);
const buf = Buffer.allocUnsafe(1 << 20);
if (Atomics.compareExchange(ctl, 1, 0, 1) === 0) {
  const paths = w.joined.split('\\0');
  for (;;) {
    const from = Atomics.add(ctl, 0, 1) * ${CHUNK};
    if (from >= w.n) break;
    for (let i = from; i < Math.min(w.n, from + ${CHUNK}); i++) {
      try {
        const h = createHash('md5');
        const fd = openSync(paths[i], 'r');
        try {
          // no read of 0 bytes after one that returned less than asked where the stat said the file ends
          for (let n = 0; ; ) {
            const r = readSync(fd, buf, 0, buf.length, null);
            if (r === 0) break;
            h.update(buf.subarray(0, r));
            n += r;
            if (r < buf.length && n === w.sizes[i]) break;
          }
        }
        finally { closeSync(fd); }
        h.digest().copy(Buffer.from(out.buffer, out.byteOffset + 16 * i, 16));
        done[i] = 1;
      } catch {}
    }
  }
}
parentPort.postMessage('done');
`;

/**
 * md5 of every file, in order; `sizes` (from the stats just taken) pick the main thread's read
 * strategy; `workerOnly` (tests) leaves them all to the worker.
 */
export async function hashFilesParallel(
  absPaths: string[],
  sizes: number[],
  opts: { workerOnly?: boolean } = {},
): Promise<Md5[]> {
  const n = absPaths.length;
  const shared = new SharedArrayBuffer(8 + 17 * n);
  const ctl = new Int32Array(shared, 0, 2); // [next chunk, worker state: 0 not started, 1 working, 2 closed]
  const out = new Uint8Array(shared, 8, 16 * n);
  const done = new Uint8Array(shared, 8 + 16 * n, n);
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { joined: absPaths.join('\0'), sizes, shared, n },
    stdout: false,
    stderr: false,
    resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
  });
  const finished = new Promise<void>((resolve) => {
    worker.once('message', () => resolve());
    worker.once('error', () => resolve());
    worker.once('exit', () => resolve());
  });
  const md5s: Md5[] = new Array(n);
  const mine = async (i: number) => {
    md5s[i] = await hashFile(absPaths[i] as string, sizes[i]);
  };
  while (!opts.workerOnly) {
    const from = Atomics.add(ctl, 0, 1) * CHUNK;
    if (from >= n) break;
    for (let i = from; i < Math.min(n, from + CHUNK); i++) await mine(i);
    await yieldToLoop();
  }
  if (!opts.workerOnly && Atomics.compareExchange(ctl, 1, 0, 2) === 0)
    worker.unref(); // never started
  else await finished;
  const hex = Buffer.from(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < n; i++) {
    if (md5s[i] !== undefined) continue;
    // the worker's (or, if it failed on this file or never got to it, the main thread's, which throws the real error)
    md5s[i] =
      done[i] === 1 ? asMd5(hex.toString('hex', 16 * i, 16 * i + 16)) : await hashFile(absPaths[i] as string, sizes[i]);
  }
  return md5s;
}
