/**
 * Hashing files and directories through the stat cache.
 *
 * The per-file work (stat, read of small files) is synchronous, in batches with a yield to the event
 * loop between them: on a loaded 2-core machine the promise-based calls were 3-5x slower (each one a
 * round trip through libuv's thread pool).
 */
import { statSync, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { hashFile, md5Hex, readSmallFileSync, WHOLE_READ_LIMIT } from './md5-file.js';
import { compareCodePoints, manifestJson } from './pyjson.js';
import type { FileStat, StatCache } from './stat-cache.js';
import { racyWindow } from '../util/racy.js';
import { asMd5, type DirEntry, type Md5 } from './types.js';
import { walkTree } from './walk.js';
import { PARALLEL_MIN, wantThread } from './idle-core.js';
import { statWorkerWarm } from './stat-worker.js';
import { hashFilesParallel } from './parallel-hash.js';
import { yieldToLoop } from '../util/yield.js';
import { isNormalAbs } from '../util/normal-path.js';

export interface HashResult {
  info: { md5: Md5; size: number; nfiles?: number };
  /** Present for directories: the manifest, sorted by relpath. */
  entries?: DirEntry[];
}

export interface HasherOptions {
  /** Replaces the file reader (default: synchronous read for small files, streaming for large). */
  hashFile?: (absPath: string, sizeHint: number) => Promise<Md5>;
  /** Called for every file whose content is read (tests count reads with it). */
  onRead?: (absPath: string) => void;
}

export interface HashHooks {
  /** The caller wants only the hash (no manifest entries): a directory whose stats are unchanged is not looked into. */
  infoOnly?: boolean;
  /** Sees the bytes of every small file read (valid only during the call): commit stores them. */
  onContent?: (absPath: string, md5: Md5, bytes: Uint8Array) => void;
  /**
   * Reads a file past WHOLE_READ_LIMIT in place of the hasher and returns its md5: commit copies it
   * into the store while hashing it, so a large new file is read once and stored as hashed.
   */
  readLarge?: (absPath: string) => Promise<Md5>;
  /**
   * A directory's progress: files whose hash is known (from the stat cache or read) of all its files,
   * and their bytes. Called once the cached hashes are looked up, between batches of reads, and at the
   * end (done === total); counts only grow.
   */
  onProgress?: (done: number, total: number, bytes: number) => void;
}

/** Files handled between two yields to the event loop. */
const BATCH = 1000;
/** Bytes read between two yields to the event loop. */
const BATCH_BYTES = 16 << 20;

const fileStat = (stats: Float64Array, i: number): FileStat => ({
  ino: stats[3 * i]!,
  mtimeMs: stats[3 * i + 1]!,
  size: stats[3 * i + 2]!,
});

export function statOrNull(absPath: string): Stats | null {
  try {
    return statSync(absPath, { throwIfNoEntry: false }) ?? null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

export class CachingHasher {
  private readonly injected: HasherOptions['hashFile'];
  private readonly onRead: HasherOptions['onRead'];

  constructor(
    readonly statCache: StatCache,
    opts: HasherOptions = {},
  ) {
    this.injected = opts.hashFile;
    this.onRead = opts.onRead;
  }

  async hashPath(absPath: string, hooks: HashHooks = {}): Promise<HashResult | null> {
    await this.statCache.load();
    const abs = isNormalAbs(absPath) ? absPath : path.resolve(absPath);
    const st = statOrNull(abs);
    if (st === null) return null;
    if (st.isDirectory()) return this.hashDir(abs, hooks);
    return { info: { md5: await this.hashStatted(abs, st, hooks), size: st.size } };
  }

  /** md5 of a file whose stat was just taken: from the stat cache, else by reading it. */
  async hashStatted(absPath: string, st: Stats, hooks: HashHooks = {}): Promise<Md5> {
    const cached = this.statCache.getFile(absPath, st);
    if (cached !== undefined) return cached;
    const observedAt = Date.now();
    const md5 = await this.read(absPath, st.size, hooks);
    this.statCache.setFile(absPath, st, md5, observedAt);
    return md5;
  }

  /** A small file's md5 at once (no promise per file: 120,000 of them on a first hash), a large one's later. */
  private read(absPath: string, size: number, hooks: HashHooks): Md5 | Promise<Md5> {
    this.onRead?.(absPath);
    if (this.injected) return this.injected(absPath, size);
    if (size <= WHOLE_READ_LIMIT) {
      const bytes = readSmallFileSync(absPath, size);
      if (bytes !== undefined) {
        const md5 = md5Hex(bytes);
        hooks.onContent?.(absPath, md5, bytes);
        return md5;
      }
    }
    return hooks.readLarge ? hooks.readLarge(absPath) : hashFile(absPath);
  }

  async hashDir(absPath: string, hooks: HashHooks = {}): Promise<HashResult> {
    // Taken before any stat: a file whose mtime is not safely older than this may change unseen.
    const observedAt = Date.now();
    const tree = await walkTree(absPath, { known: this.statCache.getListing(absPath) });
    const { names, stats, count, listing } = tree;
    let size = 0;
    let racyUntil = 0;
    for (let i = 0; i < count; i++) {
      size += stats[3 * i + 2]!;
      const m = stats[3 * i + 1]!;
      racyUntil = Math.max(racyUntil, m + racyWindow(m));
    }
    // The directory record's key: every relpath and (ino, mtime, size) of every file as raw doubles. SHA-256, not
    // md5: 2.5x faster here on the real pipeline's ~4 MB a folder (the processor's SHA instructions).
    const fingerprint = createHash('sha256')
      .update(names.joined)
      .update(Buffer.from(stats.buffer, stats.byteOffset, count * 24))
      .digest('hex');
    const trusted = racyUntil < observedAt;
    // The listing is kept for the next walk only when no folder was modified within its racy window.
    const keep = listing.dirs.length > 0 && listing.racyUntil < observedAt ? listing : undefined;
    if (trusted && hooks.infoOnly) {
      // Observing only: every file's stat unchanged means the manifest's md5 is unchanged.
      const known = this.statCache.getDir(absPath, fingerprint);
      if (known !== undefined) {
        this.statCache.keepListing(absPath, known, keep);
        return { info: { md5: known.md5, size, nfiles: count } };
      }
    }

    // The manifest's order (code points of the relpaths), and each file's md5 from the stat cache or a read.
    const relpaths = names.all();
    const order = Array.from({ length: count }, (_, i) => i);
    order.sort((a, b) => compareCodePoints(relpaths[a]!, relpaths[b]!));
    const entries: DirEntry[] = new Array(count);
    const misses: number[] = [];
    const missPaths: string[] = []; // each miss's absolute path, made once
    for (let k = 0; k < count; k++) {
      const i = order[k]!;
      const abs = `${absPath}/${relpaths[i]}`;
      const md5 = this.statCache.getFile(abs, fileStat(stats, i));
      if (md5 === undefined) {
        misses.push(k);
        missPaths.push(abs);
      }
      entries[k] = { relpath: relpaths[i]!, md5: md5 ?? asMd5(''), size: stats[3 * i + 2]! };
    }
    let bytesDone = size;
    for (const k of misses) bytesDone -= entries[k]!.size;
    hooks.onProgress?.(count - misses.length, count, bytesDone);
    if (misses.length === 0 && trusted) {
      const known = this.statCache.getDir(absPath, fingerprint);
      if (known !== undefined) {
        this.statCache.keepListing(absPath, known, keep);
        return { info: { md5: known.md5, size, nfiles: count }, entries };
      }
    }

    let sinceYield = 0;
    let readAt = Date.now();
    // Many files to read and nothing to do with their bytes but hash them: two cores when one is idle.
    const plain = hooks.onContent === undefined && this.injected === undefined && this.onRead === undefined;
    if (plain && misses.length >= PARALLEL_MIN && (statWorkerWarm() || wantThread(misses.length))) {
      const md5s = await hashFilesParallel(
        missPaths,
        misses.map((k) => entries[k]!.size),
      );
      for (let m = 0; m < misses.length; m++) {
        const k = misses[m]!;
        entries[k]!.md5 = md5s[m]!;
        this.statCache.setFile(missPaths[m]!, fileStat(stats, order[k]!), md5s[m]!, readAt);
      }
      misses.length = 0;
      hooks.onProgress?.(count, count, size);
    }
    for (let m = 0; m < misses.length; m++) {
      const k = misses[m]!;
      const e = entries[k]!;
      const abs = missPaths[m]!;
      const md5 = this.read(abs, e.size, hooks);
      e.md5 = typeof md5 === 'string' ? md5 : await md5;
      this.statCache.setFile(abs, fileStat(stats, order[k]!), e.md5, readAt);
      sinceYield += e.size + 4096;
      bytesDone += e.size;
      if (sinceYield > BATCH_BYTES || m % BATCH === BATCH - 1) {
        hooks.onProgress?.(count - misses.length + m + 1, count, bytesDone);
        await yieldToLoop();
        sinceYield = 0;
        readAt = Date.now();
      }
    }
    if (misses.length > 0) hooks.onProgress?.(count, count, size);
    const md5 = asMd5(`${md5Hex(manifestJson(entries))}.dir`);
    // Only when no file was racy: otherwise an edit keeping its stat would keep this record too.
    if (trusted) this.statCache.setDir(absPath, { fingerprint, md5, size, nfiles: count, racyUntil, listing: keep });
    return { info: { md5, size, nfiles: count }, entries };
  }

  save(): Promise<void> {
    return this.statCache.save();
  }
}
