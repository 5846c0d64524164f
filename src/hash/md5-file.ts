/**
 * md5 of a file's raw bytes, as DVC 3 computes it (no dos2unix normalisation).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { asMd5, type Md5 } from './types.js';

/** Files up to this size are read in one call; larger ones stream through two alternating buffers. */
export const WHOLE_READ_LIMIT = 1 << 20;
const CHUNK = 4 << 20;

export const md5Hex = (data: Uint8Array | string): Md5 => asMd5(createHash('md5').update(data).digest('hex'));

/**
 * Hash a file. `sizeHint` (from a stat taken just before) picks the strategy; the result is correct
 * whatever the real size is.
 */
export async function hashFile(absPath: string, sizeHint = Infinity): Promise<Md5> {
  if (sizeHint <= WHOLE_READ_LIMIT) return md5Hex(await fs.readFile(absPath));
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
