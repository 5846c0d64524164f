/**
 * The stat cache: (inode, mtime ns, size) of a path -> md5 of its content, so unchanged files are
 * not read again. Also remembers directory results, keyed by a fingerprint of their files' stats.
 *
 * Concurrency design (several lockstep processes may share one cache directory):
 * - each process appends nothing in place; `save()` writes its new entries as a new segment file
 *   (temp + fsync + rename), so no reader ever sees a half-written segment;
 * - readers merge every segment, later segments winning (names start with a timestamp);
 * - when segments pile up, one process (holding an exclusive-create lock file) merges them into one
 *   and deletes only the segments it merged. A reader racing with that may miss a deleted segment,
 *   which costs a re-hash, never a wrong answer.
 * An entry is only ever used when the path's current stat matches it exactly, so a stale or lost
 * entry can cost time but cannot produce a wrong hash.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../util/atomic.js';
import { asMd5, type Md5 } from './types.js';

const HEADER = 'lockstep-stat-cache 2';
const SEGMENT_SUFFIX = '.seg';
const COMPACT_AFTER_SEGMENTS = 8;
/** Also compact when segments hold this many more records than there are distinct paths. */
const COMPACT_AFTER_EXTRA_RECORDS = 100_000;
const STALE_LOCK_MS = 60_000;
const MAX_FILE_ENTRIES = 1_000_000;
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EEXIST']);
const MD5_RE = /^[0-9a-f]{32}(\.dir)?$/; // .dir for verified manifest objects
const DIR_MD5_RE = /^[0-9a-f]{32}\.dir$/;

/**
 * The part of a stat that identifies a file's content version, as Node's number stats give it
 * (no BigInt: allocating BigIntStats for 60,000 files cost more than the stat calls). mtimeMs keeps
 * sub-microsecond precision; an inode number past 2^53 (rare) loses low bits, which could only
 * matter if the same path, mtime and size came back on a different inode.
 */
export interface FileStat {
  ino: number;
  mtimeMs: number;
  size: number;
}

/**
 * A file modified within this window before we read it could be modified again within the same
 * timestamp tick without its stat changing (git's "racy clean" problem), so such entries are not
 * recorded. Whole-second timestamps suggest a coarse file system: use a wider window.
 */
const RACY_MS = 100;
const RACY_COARSE_MS = 2000;

export function isRacy(mtimeMs: number, observedAtMs: number): boolean {
  const window = mtimeMs % 1000 === 0 ? RACY_COARSE_MS : RACY_MS;
  return mtimeMs + window >= observedAtMs;
}

interface Version {
  ino: number;
  mtimeMs: number;
  size: number;
  md5: Md5;
}

interface FileRecord extends Version {
  /** An older entry for the same path, from merging segments (see parse). */
  prev?: Version;
}

const sameVersion = (v: Version, st: FileStat): boolean =>
  v.mtimeMs === st.mtimeMs && v.size === st.size && v.ino === st.ino;

export interface DirRecord {
  /** Identifies the sorted relpaths and stats of every file below the directory. */
  fingerprint: string;
  md5: Md5;
  size: number;
  nfiles: number;
}

export class StatCache {
  private readonly files = new Map<string, FileRecord>();
  private readonly dirs = new Map<string, DirRecord>();
  private pendingFiles = new Map<string, FileRecord>();
  private pendingDirs = new Map<string, DirRecord>();
  private loaded: Promise<void> | undefined;
  private segmentsSeen = 0;
  private recordsSeen = 0;

  constructor(readonly dir: string) {}

  load(): Promise<void> {
    this.loaded ??= this.readAll(this.files, this.dirs).then(({ segments, records }) => {
      this.segmentsSeen = segments;
      this.recordsSeen = records;
    });
    return this.loaded;
  }

  /** The md5 recorded for `absPath` when its stat still matches, else undefined. */
  getFile(absPath: string, st: FileStat): Md5 | undefined {
    const r = this.files.get(absPath);
    if (r === undefined) return undefined;
    if (sameVersion(r, st)) return r.md5;
    return r.prev !== undefined && sameVersion(r.prev, st) ? r.prev.md5 : undefined;
  }

  /** Record a hash observed at `observedAtMs` (a time taken before the content was read). */
  setFile(absPath: string, st: FileStat, md5: Md5, observedAtMs: number): void {
    if (isRacy(st.mtimeMs, observedAtMs)) {
      this.files.delete(absPath);
      return;
    }
    const old = this.files.get(absPath);
    if (old !== undefined && sameVersion(old, st) && old.md5 === md5) return;
    const r: FileRecord = { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, md5 };
    this.files.set(absPath, r);
    this.pendingFiles.set(absPath, r);
  }

  forgetFile(absPath: string): void {
    this.files.delete(absPath);
  }

  getDir(absPath: string, fingerprint: string): DirRecord | undefined {
    const r = this.dirs.get(absPath);
    return r !== undefined && r.fingerprint === fingerprint ? r : undefined;
  }

  forgetDir(absPath: string): void {
    this.dirs.delete(absPath);
  }

  setDir(absPath: string, r: DirRecord): void {
    const old = this.dirs.get(absPath);
    if (old !== undefined && old.fingerprint === r.fingerprint && old.md5 === r.md5) return;
    this.dirs.set(absPath, r);
    this.pendingDirs.set(absPath, r);
  }

  get size(): number {
    return this.files.size;
  }

  /** Write this process's new entries as one segment; compact when segments pile up. */
  async save(): Promise<void> {
    if (this.pendingFiles.size === 0 && this.pendingDirs.size === 0) return;
    const files = this.pendingFiles;
    const dirs = this.pendingDirs;
    this.pendingFiles = new Map();
    this.pendingDirs = new Map();
    try {
      await writeFileAtomic(path.join(this.dir, segmentName()), serialise(files, dirs));
    } catch (e) {
      // The stat cache only saves time: a read-only or full cache folder must not fail the work.
      if (UNWRITABLE.has((e as NodeJS.ErrnoException).code ?? '')) return;
      throw e;
    }
    this.segmentsSeen++;
    this.recordsSeen += files.size + dirs.size;
    const extra = this.recordsSeen - this.files.size - this.dirs.size;
    if (this.segmentsSeen > COMPACT_AFTER_SEGMENTS || extra > COMPACT_AFTER_EXTRA_RECORDS) {
      await this.compact().catch((e: NodeJS.ErrnoException) => {
        if (!UNWRITABLE.has(e.code ?? '')) throw e;
      });
    }
  }

  /** Merge all segments into one, under an exclusive-create lock; skip when another process holds it. */
  async compact(): Promise<boolean> {
    await fs.mkdir(this.dir, { recursive: true });
    const lock = path.join(this.dir, 'compact.lock');
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(lock, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await fs.stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await fs.rm(lock, { force: true });
      return false;
    }
    try {
      const files = new Map<string, FileRecord>();
      const dirs = new Map<string, DirRecord>();
      const merged: string[] = [];
      this.segmentsSeen = (await this.readAll(files, dirs, merged)).segments;
      if (merged.length <= 1) return true;
      pruneVanished(files, dirs);
      // Keep the most recently written entries when over the cap (Map keeps insertion order).
      while (files.size > MAX_FILE_ENTRIES) {
        const first = files.keys().next();
        if (first.done) break;
        files.delete(first.value);
      }
      // Named after the newest merged segment so segments written meanwhile still sort after it.
      const newest = merged[merged.length - 1] as string;
      const target = path.join(this.dir, `${newest.slice(0, 16)}-c-${randomBytes(4).toString('hex')}${SEGMENT_SUFFIX}`);
      await writeFileAtomic(target, serialise(files, dirs));
      for (const name of merged) await fs.rm(path.join(this.dir, name), { force: true });
      this.segmentsSeen = 1;
      this.recordsSeen = files.size + dirs.size;
      return true;
    } finally {
      await handle.close();
      await fs.rm(lock, { force: true });
    }
  }

  private async readAll(
    files: Map<string, FileRecord>,
    dirs: Map<string, DirRecord>,
    names: string[] = [],
  ): Promise<{ segments: number; records: number }> {
    let listing: string[];
    try {
      listing = await fs.readdir(this.dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') return { segments: 0, records: 0 };
      throw e;
    }
    let records = 0;
    const segments = listing.filter((n) => n.endsWith(SEGMENT_SUFFIX)).sort();
    for (const name of segments) {
      let text: string;
      try {
        text = await fs.readFile(path.join(this.dir, name), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // merged away meanwhile
        throw e;
      }
      records += parse(text, files, dirs);
      names.push(name);
    }
    return { segments: segments.length, records };
  }
}

/**
 * Drop entries under folders that no longer exist (deleted workspaces, temp folders): one stat per
 * distinct folder, not per file, so compaction stays cheap. Entries of single deleted files in
 * folders that remain are dropped by the size cap instead.
 */
function pruneVanished(files: Map<string, FileRecord>, dirs: Map<string, DirRecord>): void {
  const exists = new Map<string, boolean>();
  const folderExists = (folder: string): boolean => {
    let known = exists.get(folder);
    if (known === undefined) {
      known = existsSync(folder);
      exists.set(folder, known);
    }
    return known;
  };
  for (const p of files.keys()) if (!folderExists(p.slice(0, p.lastIndexOf('/')) || '/')) files.delete(p);
  for (const p of dirs.keys()) if (!folderExists(p)) dirs.delete(p);
}

/** `<ms timestamp, 15 digits>-<pid>-<random>.seg`: sorts by time of writing. */
function segmentName(): string {
  return `${String(Date.now()).padStart(15, '0')}-${process.pid}-${randomBytes(4).toString('hex')}${SEGMENT_SUFFIX}`;
}

const encodePath = (p: string): string => (/[\n\r]/.test(p) || p.startsWith('"') ? JSON.stringify(p) : p);
const decodePath = (p: string): string => (p.startsWith('"') ? (JSON.parse(p) as string) : p);

/**
 * One record a line, path last so it may hold spaces:
 *   F <ino> <mtimeMs> <size> <md5> <path>
 *   D <fingerprint> <md5>.dir <size> <nfiles> <path>
 */
function serialise(files: Map<string, FileRecord>, dirs: Map<string, DirRecord>): string {
  const lines: string[] = [HEADER];
  const line = (v: Version, ep: string): string => `F ${v.ino} ${v.mtimeMs} ${v.size} ${v.md5} ${ep}`;
  for (const [p, r] of files) {
    const ep = encodePath(p);
    if (r.prev !== undefined) lines.push(line(r.prev, ep));
    lines.push(line(r, ep));
  }
  for (const [p, r] of dirs) lines.push(`D ${r.fingerprint} ${r.md5} ${r.size} ${r.nfiles} ${encodePath(p)}`);
  lines.push('');
  return lines.join('\n');
}

/** Lines that do not parse are skipped: a damaged segment costs re-hashing, never a wrong hash. */
function parse(text: string, files: Map<string, FileRecord>, dirs: Map<string, DirRecord>): number {
  if (!text.startsWith(`${HEADER}\n`)) return 0;
  let records = 0;
  let pos = HEADER.length + 1;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end);
    pos = end + 1;
    records++;
    try {
      if (line.startsWith('F ')) parseFileLine(line, files);
      else if (line.startsWith('D ')) parseDirLine(line, dirs);
    } catch {
      // skip a damaged line
    }
  }
  return records;
}

function parseFileLine(line: string, files: Map<string, FileRecord>): void {
  const a = line.indexOf(' ', 2);
  const b = line.indexOf(' ', a + 1);
  const c = line.indexOf(' ', b + 1);
  const d = line.indexOf(' ', c + 1);
  if (a < 0 || b < 0 || c < 0 || d < 0) return;
  const ino = Number(line.slice(2, a));
  const mtimeMs = Number(line.slice(a + 1, b));
  const size = Number(line.slice(b + 1, c));
  const md5 = line.slice(c + 1, d);
  if (!Number.isFinite(ino) || !Number.isFinite(mtimeMs) || !Number.isFinite(size) || !MD5_RE.test(md5)) return;
  const p = decodePath(line.slice(d + 1));
  const v: Version = { ino, mtimeMs, size, md5: asMd5(md5) };
  const old = files.get(p);
  // Segments of concurrent processes can merge out of order, so the latest segment's entry is not
  // always the current one: keep the previous distinct entry too; lookups try both.
  let r: FileRecord = v;
  if (old !== undefined) {
    const prev = sameVersion(old, v) ? old.prev : { ino: old.ino, mtimeMs: old.mtimeMs, size: old.size, md5: old.md5 };
    if (prev !== undefined) r = { ...v, prev };
    files.delete(p); // re-insert so the Map's order tracks recency
  }
  files.set(p, r);
}

function parseDirLine(line: string, dirs: Map<string, DirRecord>): void {
  const f = line.split(' ', 5);
  if (f.length < 5) return;
  const [, fingerprint, md5, size, nfiles] = f as [string, string, string, string, string];
  if (!DIR_MD5_RE.test(md5)) return;
  const prefix = 6 + fingerprint.length + md5.length + size.length + nfiles.length;
  dirs.set(decodePath(line.slice(prefix)), {
    fingerprint,
    md5: asMd5(md5),
    size: Number(size),
    nfiles: Number(nfiles),
  });
}

/** One StatCache per cache directory per process, shared by the hasher and the object store. */
const registry = new Map<string, StatCache>();

export function statCacheFor(cacheDir: string): StatCache {
  const dir = path.join(path.resolve(cacheDir), 'tmp', 'stat-cache');
  let cache = registry.get(dir);
  if (!cache) {
    cache = new StatCache(dir);
    registry.set(dir, cache);
  }
  return cache;
}
