/**
 * Hashing files and directories through the stat cache.
 */
import { promises as fs, type BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import { mapLimit } from '../util/pool.js';
import { hashFile, md5Hex } from './md5-file.js';
import { compareCodePoints, manifestJson } from './pyjson.js';
import { nowNs, statKey, type StatCache } from './stat-cache.js';
import { asMd5, type DirEntry, type Md5 } from './types.js';
import { walkFiles } from './walk.js';

export interface HashResult {
  info: { md5: Md5; size: number; nfiles?: number };
  /** Present for directories: the manifest, sorted by relpath. */
  entries?: DirEntry[];
}

export interface HasherOptions {
  /** Reads and hashes one file; injectable so tests can count reads. */
  hashFile?: (absPath: string, sizeHint: number) => Promise<Md5>;
  /** Files read at once when hashing a directory. */
  concurrency?: number;
}

const STAT_CONCURRENCY = 64;

export async function statOrNull(absPath: string): Promise<BigIntStats | null> {
  try {
    return await fs.stat(absPath, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

export class CachingHasher {
  private readonly read: (absPath: string, sizeHint: number) => Promise<Md5>;
  private readonly concurrency: number;

  constructor(readonly statCache: StatCache, opts: HasherOptions = {}) {
    this.read = opts.hashFile ?? hashFile;
    this.concurrency = opts.concurrency ?? 32;
  }

  async hashPath(absPath: string): Promise<HashResult | null> {
    await this.statCache.load();
    const st = await statOrNull(absPath);
    if (st === null) return null;
    if (st.isDirectory()) return this.hashDir(absPath);
    return { info: { md5: await this.hashStatted(absPath, st), size: Number(st.size) } };
  }

  /** md5 of a file whose stat was just taken: from the stat cache, else by reading it. */
  async hashStatted(absPath: string, st: BigIntStats): Promise<Md5> {
    const cached = this.statCache.getFile(absPath, statKey(st));
    if (cached !== undefined) return cached;
    const observedAt = nowNs();
    const md5 = await this.read(absPath, Number(st.size));
    this.statCache.setFile(absPath, st, md5, observedAt);
    return md5;
  }

  async hashDir(absPath: string): Promise<HashResult> {
    const files = await walkFiles(absPath);
    files.sort((a, b) => compareCodePoints(a.relpath, b.relpath));
    const stats = await mapLimit(files, STAT_CONCURRENCY, (f) => fs.stat(f.absPath, { bigint: true }));

    const fp = createHash('md5');
    const entries: DirEntry[] = new Array(files.length);
    const misses: number[] = [];
    let size = 0;
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      const st = stats[i]!;
      const key = statKey(st);
      fp.update(`${f.relpath}\0${key}\n`);
      const md5 = this.statCache.getFile(f.absPath, key);
      if (md5 === undefined) misses.push(i);
      entries[i] = { relpath: f.relpath, md5: md5 ?? asMd5(''), size: Number(st.size) };
      size += Number(st.size);
    }
    const fingerprint = fp.digest('hex');

    if (misses.length === 0) {
      const known = this.statCache.getDir(absPath, fingerprint);
      if (known !== undefined) return { info: { md5: known.md5, size, nfiles: entries.length }, entries };
    }
    await mapLimit(misses, this.concurrency, async (i) => {
      (entries[i] as DirEntry).md5 = await this.hashStatted(files[i]!.absPath, stats[i]!);
    });
    const md5 = asMd5(`${md5Hex(manifestJson(entries))}.dir`);
    this.statCache.setDir(absPath, { fingerprint, md5, size, nfiles: entries.length });
    return { info: { md5, size, nfiles: entries.length }, entries };
  }

  save(): Promise<void> {
    return this.statCache.save();
  }
}
