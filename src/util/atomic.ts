import { promises as fs, writeSync } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';

/** Longest target name kept whole in a temp name; longer ones are abbreviated (names end at 255 bytes). */
const MAX_STEM_BYTES = 200;

/**
 * A unique sibling temp name: same directory, so the final rename is atomic. It stays within the
 * 255-byte name limit whatever the target's name: a long name is replaced by a short digest of it.
 */
export function tempSibling(target: string): string {
  const base = path.basename(target);
  const stem =
    Buffer.byteLength(base) > MAX_STEM_BYTES ? createHash('md5').update(base).digest('hex').slice(0, 16) : base;
  return path.join(path.dirname(target), `.${stem}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Write a file atomically: temp file in the same directory, fsync, rename over the target. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode?: number): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempSibling(target);
  const handle = await fs.open(tmp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** Write all of `bytes` to an open file descriptor (writeSync may write fewer bytes than asked). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}
