import { promises as fs, writeSync } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import { processStartTime, stillRunning } from './process-id.js';

/** Longest target name kept whole in a temp name; longer ones are abbreviated (names end at 255 bytes). */
const MAX_STEM_BYTES = 200;

/** Digest of a host name as temp names carry it (8 hex digits: names stay short, hosts stay apart). */
const hostTag = (host: string): string => createHash('md5').update(host).digest('hex').slice(0, 8);

let ownerTag: string | undefined;
/** `<pid>-<start time or x>-<host tag>`: enough to tell, on this host, whether the writer still runs. */
function thisOwnerTag(): string {
  ownerTag ??= `${process.pid}-${processStartTime(process.pid) ?? 'x'}-${hostTag(os.hostname())}`;
  return ownerTag;
}

/**
 * A unique sibling temp name: same directory, so the final rename is atomic. It stays within the
 * 255-byte name limit whatever the target's name: a long name is replaced by a short digest of it.
 * The name says who writes it (`.<name>.<pid>-<start>-<host>.<random>.tmp`), so a temp left by a
 * process killed with `kill -9` can be told from one still being written (see tempIsStale).
 */
export function tempSibling(target: string): string {
  const base = path.basename(target);
  const stem =
    Buffer.byteLength(base) > MAX_STEM_BYTES ? createHash('md5').update(base).digest('hex').slice(0, 16) : base;
  return path.join(path.dirname(target), `.${stem}.${thisOwnerTag()}.${randomBytes(4).toString('hex')}.tmp`);
}

/** tempSibling's names, and the `.<name>.<pid>.<random>.tmp` of lockstep before the owner was named. */
const TEMP_RE = /^\..+\.(\d+)-(\d+|x)-([0-9a-f]{8})\.[0-9a-f]{8}\.tmp$/;
const OLD_TEMP_RE = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;

/** Whether a file name is one of lockstep's own temp names (only those are ever swept). */
export const isOwnTempName = (name: string): boolean => TEMP_RE.test(name) || OLD_TEMP_RE.test(name);

/** A temp no writer can still be working on after this long (a single object's upload, not a whole push). */
export const STALE_TEMP_AGE_MS = 24 * 3600 * 1000;

/**
 * Whether a temp file named `name` (a basename), last modified at `mtimeMs`, is provably abandoned:
 * lockstep's own name, and either written by a process of this host that is gone (pid and start
 * time, so a reused pid does not keep it) or untouched for STALE_TEMP_AGE_MS (a writer on another
 * host, or a name from before owners were recorded). A temp of a live writer is never stale.
 */
export function tempIsStale(name: string, mtimeMs: number, now = Date.now()): boolean {
  const m = TEMP_RE.exec(name);
  if (m && m[3] === hostTag(os.hostname())) {
    return !stillRunning({ pid: Number(m[1]), startTime: m[2] === 'x' ? null : m[2] });
  }
  if (!m && !OLD_TEMP_RE.test(name)) return false;
  return now - mtimeMs > STALE_TEMP_AGE_MS;
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

/**
 * Remove one file, as `rm -f` does: a missing file is no error. For a file that is known not to be a folder it
 * costs one `unlink`; `fs.rm` first loads Node's recursive remover and stats the path.
 */
export async function removeFile(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
