/**
 * Hashing many files on two cores: the process's helper thread (stat-worker.ts, the one that shares big
 * walks' stats) and the main thread take chunks of the list from a shared counter, the thread writing each
 * file's md5 (16 bytes) into shared memory. Used for a directory's first hash (cold `status`: 120,000 small
 * files are 120,000 open/read/close and md5s) when a core is idle (see idle-core.ts); the main thread alone
 * otherwise. Two folders hashed at once share the one thread (it was a new thread per folder: on the real
 * pipeline's cold `status`, four busy threads on two cores). A file the thread could not read is left to
 * the main thread, which then throws the real error.
 */
import { hashFile, hashSmallFileSync, WHOLE_READ_LIMIT } from './md5-file.js';
import { Relpaths } from './relpaths.js';
import { HASH_CHUNK, submitJob } from './stat-worker.js';
import type { Md5 } from './types.js';
import { asMd5 } from './types.js';
import { yieldToLoop } from '../util/yield.js';

/**
 * md5 of every file, in order; `sizes` (from the stats just taken) pick the read strategy; `workerOnly`
 * (tests) leaves them all to the thread.
 */
export async function hashFilesParallel(
  absPaths: string[],
  sizes: number[],
  opts: { workerOnly?: boolean } = {},
): Promise<Md5[]> {
  const n = absPaths.length;
  const shared = new SharedArrayBuffer(8 + 17 * n);
  const ctl = new Int32Array(shared, 0, 2); // [next chunk, thread state: 0 not claimed, 1 working, 2 closed]
  const out = new Uint8Array(shared, 8, 16 * n);
  const done = new Uint8Array(shared, 8 + 16 * n, n);
  const { joined, starts } = Relpaths.fromArray(absPaths);
  const finish = await submitJob({ kind: 'hash', prefix: '', joined, starts, sizes, shared, n });
  const md5s: Md5[] = new Array(n);
  while (!opts.workerOnly) {
    const from = Atomics.add(ctl, 0, 1) * HASH_CHUNK;
    if (from >= n) break;
    for (let i = from; i < Math.min(n, from + HASH_CHUNK); i++) {
      const size = sizes[i]!;
      // small files synchronously, without a promise each (hashFile's own fallback covers one that grew)
      md5s[i] =
        (size <= WHOLE_READ_LIMIT ? hashSmallFileSync(absPaths[i]!, size) : undefined) ??
        (await hashFile(absPaths[i]!, size));
    }
    await yieldToLoop();
  }
  // A job the thread never claimed is closed, not waited for; one it claimed is waited for (or redone if it died).
  await finish(opts.workerOnly === true || Atomics.compareExchange(ctl, 1, 0, 2) !== 0);
  const hex = Buffer.from(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < n; i++) {
    if (md5s[i] !== undefined) continue;
    // the thread's (or, if it failed on this file or never got to it, the main thread's, which throws the real error)
    md5s[i] = done[i] === 1 ? asMd5(hex.toString('hex', 16 * i, 16 * i + 16)) : await hashFile(absPaths[i]!, sizes[i]);
  }
  return md5s;
}
