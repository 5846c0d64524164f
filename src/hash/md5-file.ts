/**
 * md5 of a file's raw bytes, as DVC 3 computes it (no dos2unix normalisation).
 */
import crypto, { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync, promises as fs } from 'node:fs';
import { asMd5, type Md5 } from './types.js';

/** Files up to this size are read in one go; larger ones stream through two alternating buffers. */
export const WHOLE_READ_LIMIT = 1 << 20;
const CHUNK = 4 << 20;

// crypto.hash (Node >= 20.12) is a one-shot digest, cheaper than a Hash object per small file.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;
export const md5Hex = (data: Uint8Array | string): Md5 =>
  asMd5(oneShot !== undefined ? oneShot('md5', data, 'hex') : createHash('md5').update(data).digest('hex'));

/** Reused by the synchronous small-file path, which never interleaves with itself. */
const smallBuffer = Buffer.allocUnsafe(WHOLE_READ_LIMIT + 1);

/**
 * Read a small file synchronously into a reused buffer (open, read, close: no fstat, no allocation).
 * The returned bytes are only valid until the next call. Returns undefined when the file turns out
 * larger than WHOLE_READ_LIMIT (it grew since its stat). `expected`: the size its stat just gave. A
 * read that asked for more and returned exactly that many bytes has met the file's end (a regular file's
 * read returns less than asked only there), so the read of 0 bytes that would confirm it is skipped:
 * 120,000 system calls on a cold hash of the real pipeline. A file that grew or shrank since its stat
 * is read to its end as before.
 */
export function readSmallFileSync(absPath: string, expected = -1): Buffer | undefined {
  const fd = openSync(absPath, 'r');
  try {
    let n = 0;
    for (;;) {
      const r = readSync(fd, smallBuffer, n, smallBuffer.length - n, null);
      if (r === 0) break;
      n += r;
      if (n === smallBuffer.length) return undefined;
      if (n === expected) break;
    }
    return smallBuffer.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function hashSmallFileSync(absPath: string, expected = -1): Md5 | undefined {
  const bytes = readSmallFileSync(absPath, expected);
  return bytes === undefined ? undefined : md5Hex(bytes);
}

/**
 * Hash a file. `sizeHint` (from a stat taken just before) picks the strategy and spares the last read
 * of a small file; the result is correct whatever the real size is.
 */
export async function hashFile(absPath: string, sizeHint = Infinity): Promise<Md5> {
  if (sizeHint <= WHOLE_READ_LIMIT) {
    const md5 = hashSmallFileSync(absPath, sizeHint);
    if (md5 !== undefined) return md5;
  }
  return hashLargeFile(absPath);
}

/**
 * Streams with double buffering: the next read runs on the thread pool while the main thread
 * hashes the previous chunk, so the hash rate approaches md5's own speed.
 */
async function hashLargeFile(absPath: string): Promise<Md5> {
  const hash = createHash('md5');
  const handle = await fs.open(absPath, 'r');
  try {
    const bufs: Buffer[] = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let which = 0;
    let pending: Promise<{ bytesRead: number }> = handle.read(bufs[0] as Buffer, 0, CHUNK, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const current = bufs[which] as Buffer;
      which ^= 1;
      pending = handle.read(bufs[which] as Buffer, 0, CHUNK, null);
      hash.update(current.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return asMd5(hash.digest('hex'));
}

/** Reused by the synchronous large-file paths (hash, copy while hashing), which never interleave. */
let chunkBuffer: Buffer | undefined;
function chunk(): Buffer {
  if (chunkBuffer === undefined) chunkBuffer = Buffer.allocUnsafe(CHUNK);
  return chunkBuffer;
}

/** md5 of a file of any size, synchronously, in 4 MiB reads. */
export function hashFileSync(absPath: string): Md5 {
  const hash = createHash('md5');
  const buf = chunk();
  const fd = openSync(absPath, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return asMd5(hash.digest('hex'));
}

/**
 * Copy `src` to the new file `dst` (created with `mode`, which must not exist) and return the md5 of
 * exactly the bytes written: one read serves the copy and its hash, so a caller comparing the result
 * with the name it expects knows that what it stored is what it hashed.
 */
export function copyHashingSync(src: string, dst: string, mode: number): Md5 {
  const hash = createHash('md5');
  const buf = chunk();
  const from = openSync(src, 'r');
  try {
    const to = openSync(dst, 'wx', mode);
    try {
      for (;;) {
        const n = readSync(from, buf, 0, CHUNK, null);
        if (n === 0) break;
        const bytes = buf.subarray(0, n);
        hash.update(bytes);
        for (let off = 0; off < n; ) off += writeSync(to, bytes, off, n - off);
      }
    } finally {
      closeSync(to);
    }
  } finally {
    closeSync(from);
  }
  return asMd5(hash.digest('hex'));
}
