/**
 * The stat cache: (inode, mtime ns, size) of a path -> md5 of its content, so unchanged files are
 * not read again. Also remembers directory results, keyed by a fingerprint of their files' stats.
 *
 * Storage: binary segment files (see stat-table.ts), each read in one go and used as columns; the
 * file entries are only read when a lookup needs them (a warm directory hash needs only the
 * directory record). The text segments of lockstep before 0.1 (`.seg`) are ignored and removed.
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
 *
 * Racy entries (git's "racy clean" problem: a file changed again within its timestamp's granularity
 * keeps its stat): an entry is not recorded when its mtime is within the racy window of the time its
 * content was read, and on loading, an entry whose mtime is not safely older than its segment's
 * writing is not trusted (git's own rule, kept as a second guard).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../util/atomic.js';
import { asMd5, type Md5 } from './types.js';
import { listingJson, parseListing, sameListing, type TreeListing } from './listing.js';
import { racyWindow } from '../util/racy.js';
import {
  dirsOffset,
  encodeSegment,
  HEADER_BYTES,
  pathHash,
  readHead,
  Segment,
  SegmentOnDisk,
  type Row,
  type SegmentHead,
} from './stat-table.js';

const SEGMENT_SUFFIX = '.bin';
const LEGACY_SUFFIX = '.seg';
const COMPACT_AFTER_SEGMENTS = 8;
/** Also compact when segments hold this many more records than there are distinct paths. */
const COMPACT_AFTER_EXTRA_RECORDS = 100_000;
const STALE_LOCK_MS = 60_000;
const MAX_FILE_ENTRIES = 1_000_000;
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EEXIST']);
const DIR_MD5_RE = /^[0-9a-f]{32}\.dir$/;
/** Lookups answered by reads in place before the segments are read whole (a few reads each). */
const LOOKUPS_IN_PLACE = 256;
/**
 * Segments whose file rows take fewer bytes than this are read whole at the first lookup: a few small
 * reads per lookup and segment cost more than reading them (500 stages' outputs: 256 lookups in place
 * through 6 segments were ~3,000 reads).
 */
const READ_WHOLE_BELOW = 4 << 20;

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

/** A file modified within its racy window (see racyWindow) before we read it is not recorded. */
export function isRacy(mtimeMs: number, observedAtMs: number): boolean {
  return mtimeMs + racyWindow(mtimeMs) >= observedAtMs;
}

export interface DirRecord {
  /** Identifies the sorted relpaths and stats of every file below the directory. */
  fingerprint: string;
  md5: Md5;
  size: number;
  nfiles: number;
  /** The largest mtime + racy window of its files: the record is not trusted from a segment written before it. */
  racyUntil: number;
  /** The names below it as last listed, for a walk that skips readdir while its folders are unchanged. */
  listing?: TreeListing;
}

interface Head extends SegmentHead {
  name: string;
  dirsJson: string;
}

interface Segments {
  /** Every segment file listed (damaged ones too: compaction removes them). */
  names: string[];
  heads: Head[];
  legacy: string[];
}

export class StatCache {
  /** File rows of the segments listed at load, newest first; read on first use. */
  private table: Segment[] | undefined;
  /** Until the table is read: the segments looked up in place, newest first, and how many lookups they served. */
  private onDisk: SegmentOnDisk[] | undefined;
  private lookupsInPlace = 0;
  /** The bytes of the file rows of the segments listed at load (their headers and row columns). */
  private rowBytes = 0;
  private segments: Head[] = [];
  private readonly dirs = new Map<string, DirRecord>();
  /** Every entry this process recorded (saved or not): the table only holds what was on disk at load. */
  private readonly added = new Map<string, Row>();
  private pendingFiles = new Map<string, Row>();
  private pendingDirs = new Map<string, DirRecord>();
  private loaded: Promise<void> | undefined;
  private segmentsSeen = 0;
  private recordsSeen = 0;
  private legacySeen: string[] = [];
  private extraSeen = 0;

  constructor(
    readonly dir: string,
    /** Tests: the row bytes from which lookups start in place (READ_WHOLE_BELOW). */
    private readonly readWholeBelow = READ_WHOLE_BELOW,
  ) {}

  load(): Promise<void> {
    this.loaded ??= this.readAll().then(({ heads, legacy }) => {
      this.segments = heads;
      this.legacySeen = legacy;
      this.segmentsSeen = heads.length;
      this.recordsSeen = heads.reduce((a, s) => a + s.n, 0);
      this.rowBytes = heads.reduce((a, s) => a + dirsOffset(s), 0);
      for (const s of heads) parseDirs(s, this.dirs);
    });
    return this.loaded;
  }

  /**
   * The file rows, read on first use from the segments load() listed (a segment never changes once
   * in place; one merged away meanwhile is skipped: its entries cost a re-hash).
   */
  private files(): Segment[] {
    if (this.table === undefined) {
      this.table = this.readRows(this.segments.map((h) => h.name)).reverse();
      for (const seg of this.onDisk ?? []) seg.close();
      this.onDisk = undefined;
    }
    return this.table;
  }

  /** The md5 of a matching row, by reads in place while lookups are few, else from the table. */
  private lookup(absPath: string, st: FileStat): string | undefined {
    const h = pathHash(absPath);
    if (this.table === undefined && this.lookupsInPlace < LOOKUPS_IN_PLACE && this.rowBytes >= this.readWholeBelow) {
      this.lookupsInPlace++;
      this.onDisk ??= this.segments.map((s) => new SegmentOnDisk(path.join(this.dir, s.name), s)).reverse();
      for (const seg of this.onDisk) {
        const md5 = seg.match(absPath, h, st.ino, st.mtimeMs, st.size);
        if (md5 !== undefined) return md5;
      }
      return undefined;
    }
    for (const seg of this.files()) {
      const md5 = seg.match(absPath, h, st.ino, st.mtimeMs, st.size);
      if (md5 !== undefined) return md5;
    }
    return undefined;
  }

  private readRows(names: string[]): Segment[] {
    const raw: Segment[] = [];
    for (const name of names) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(path.join(this.dir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const seg = Segment.from(bytes);
      if (seg !== undefined) raw.push(seg);
    }
    return raw;
  }

  /** The md5 recorded for `absPath` when its stat still matches, else undefined. */
  getFile(absPath: string, st: FileStat): Md5 | undefined {
    const mine = this.added.get(absPath);
    if (mine !== undefined && mine.mtimeMs === st.mtimeMs && mine.size === st.size && mine.ino === st.ino)
      return asMd5(mine.md5);
    if (this.segments.length === 0) return undefined;
    const md5 = this.lookup(absPath, st);
    return md5 === undefined ? undefined : asMd5(md5);
  }

  /** Record a hash observed at `observedAtMs` (a time taken before the content was read). */
  setFile(absPath: string, st: FileStat, md5: Md5, observedAtMs: number): void {
    if (isRacy(st.mtimeMs, observedAtMs)) {
      this.forgetFile(absPath);
      return;
    }
    // Already recorded with this stat and md5: nothing new to write (one lookup of each kind at most).
    const mine = this.added.get(absPath);
    if (mine !== undefined) {
      if (mine.md5 === md5 && mine.mtimeMs === st.mtimeMs && mine.size === st.size && mine.ino === st.ino) return;
    } else if (this.segments.length > 0 && this.lookup(absPath, st) === md5) return;
    const row: Row = { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, md5 };
    this.added.set(absPath, row);
    this.pendingFiles.set(absPath, row);
  }

  /** Whether older segments hold any entry for this path (for the compaction estimate). */
  private heldBefore(p: string): boolean {
    const h = pathHash(p);
    return this.files().some((seg) => seg.has(p, h));
  }

  forgetFile(absPath: string): void {
    this.added.delete(absPath);
    this.pendingFiles.delete(absPath);
    if (this.segments.length === 0) return;
    const h = pathHash(absPath);
    for (const seg of this.files()) seg.forget(absPath, h);
  }

  /**
   * Drop what this process holds in memory for paths under `dir`, a folder gone for good (an experiment's
   * workspace): `exp run` reproduces every experiment in one process, which must not keep them all. Rows
   * already written stay on disk until compaction drops them (their folder no longer exists).
   */
  forgetUnder(dir: string): void {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    const under = (p: string) => p === dir || p.startsWith(prefix);
    for (const m of [this.added, this.pendingFiles, this.dirs, this.pendingDirs])
      for (const k of [...m.keys()]) if (under(k)) m.delete(k);
  }

  getDir(absPath: string, fingerprint: string): DirRecord | undefined {
    const r = this.dirs.get(absPath);
    return r !== undefined && r.fingerprint === fingerprint ? r : undefined;
  }

  forgetDir(absPath: string): void {
    this.dirs.delete(absPath);
    this.pendingDirs.delete(absPath);
  }

  /** The listing kept with the directory's record (whatever its fingerprint: its folder stamps decide). */
  getListing(absPath: string): TreeListing | undefined {
    return this.dirs.get(absPath)?.listing;
  }

  /** Whether a kept listing names at least `min` files (a big walk is likely to come). */
  hasListingOf(min: number): boolean {
    for (const r of this.dirs.values()) {
      const files = r.listing?.files;
      if (files === undefined || files.length < min) continue;
      let count = 1;
      for (let i = files.indexOf('\0'); i >= 0 && count < min; i = files.indexOf('\0', i + 1)) count++;
      if (count >= min) return true;
    }
    return false;
  }

  /** Keep a listing with a record that still holds (written when it is not the one kept already). */
  keepListing(absPath: string, r: DirRecord, listing: TreeListing | undefined): void {
    if (listing !== undefined && !sameListing(r.listing, listing)) this.setDir(absPath, { ...r, listing });
  }

  setDir(absPath: string, r: DirRecord): void {
    const old = this.dirs.get(absPath);
    if (
      old !== undefined &&
      old.fingerprint === r.fingerprint &&
      old.md5 === r.md5 &&
      sameListing(old.listing, r.listing)
    )
      return;
    this.dirs.set(absPath, r);
    this.pendingDirs.set(absPath, r);
  }

  /** Write this process's new entries as one segment; compact when segments pile up. */
  async save(): Promise<void> {
    if (this.pendingFiles.size === 0 && this.pendingDirs.size === 0) return;
    const files = this.pendingFiles;
    const dirs = this.pendingDirs;
    this.pendingFiles = new Map();
    this.pendingDirs = new Map();
    try {
      await writeFileAtomic(path.join(this.dir, segmentName()), encodeSegment([...files], dirsJson(dirs), Date.now()));
    } catch (e) {
      // The stat cache only saves time: a read-only or full cache folder must not fail the work.
      if (UNWRITABLE.has((e as NodeJS.ErrnoException).code ?? '')) return;
      throw e;
    }
    this.segmentsSeen++;
    this.recordsSeen += files.size;
    // Records that repeat a path (estimated: this save's paths already in older segments).
    let extra = 0;
    if (this.table !== undefined && this.table.length > 0) {
      for (const p of files.keys()) if (this.heldBefore(p)) extra++;
    }
    this.extraSeen += extra;
    if (
      this.segmentsSeen > COMPACT_AFTER_SEGMENTS ||
      this.extraSeen > COMPACT_AFTER_EXTRA_RECORDS ||
      this.legacySeen.length > 0
    ) {
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
      const { names, heads, legacy } = await this.readAll();
      for (const name of legacy) await fs.rm(path.join(this.dir, name), { force: true });
      this.legacySeen = [];
      this.segmentsSeen = heads.length;
      if (names.length <= 1) return true;
      const dirs = new Map<string, DirRecord>();
      for (const s of heads) parseDirs(s, dirs);
      const rows = keptRows(this.readRows(heads.map((h) => h.name)));
      for (const p of dirs.keys()) if (!existsSync(p)) dirs.delete(p);
      // Named after the newest merged segment so segments written meanwhile still sort after it.
      const newest = names[names.length - 1] as string;
      const target = path.join(this.dir, `${newest.slice(0, 16)}-c-${randomBytes(4).toString('hex')}${SEGMENT_SUFFIX}`);
      // Every kept row was trusted against its own segment's time, so also against the newest one's.
      const writtenAt = Math.max(0, ...heads.map((s) => s.writtenAtMs));
      await writeFileAtomic(target, encodeSegment(rows, dirsJson(dirs), writtenAt));
      for (const name of names) await fs.rm(path.join(this.dir, name), { force: true });
      this.segmentsSeen = 1;
      this.recordsSeen = rows.length;
      this.extraSeen = 0;
      return true;
    } finally {
      await handle.close();
      await fs.rm(lock, { force: true });
    }
  }

  /** List the segments and read each one's header and directory records (not its file rows). */
  private async readAll(): Promise<Segments> {
    let listing: string[];
    try {
      listing = await fs.readdir(this.dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') return { names: [], heads: [], legacy: [] };
      throw e;
    }
    const names: string[] = [];
    const heads: Head[] = [];
    for (const name of listing.filter((n) => n.endsWith(SEGMENT_SUFFIX)).sort()) {
      let fd: number;
      try {
        fd = openSync(path.join(this.dir, name), 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // merged away meanwhile
        throw e;
      }
      try {
        names.push(name);
        const header = Buffer.alloc(HEADER_BYTES);
        readSync(fd, header, 0, HEADER_BYTES, 0);
        const head = readHead(header, fstatSync(fd).size); // a damaged segment costs re-hashing
        if (head === undefined) continue;
        const dirs = Buffer.alloc(head.dirBytes);
        if (readSync(fd, dirs, 0, head.dirBytes, dirsOffset(head)) !== head.dirBytes) continue;
        heads.push({ ...head, name, dirsJson: dirs.toString('utf8') });
      } finally {
        closeSync(fd);
      }
    }
    return { names, heads, legacy: listing.filter((n) => n.endsWith(LEGACY_SUFFIX)) };
  }
}

/**
 * The rows compaction keeps, oldest first: trusted ones, the two newest versions of each path (two
 * processes' segments can land out of order, so the newest is not always the current one), not
 * under a folder that no longer exists (deleted workspaces, temp folders: one stat per distinct
 * folder), at most MAX_FILE_ENTRIES paths (the most recently written).
 */
function keptRows(segments: Segment[]): [string, Row][] {
  const versions = new Map<string, Row[]>();
  for (const seg of segments) {
    for (const [p, r] of seg.rows()) {
      const old = versions.get(p) ?? [];
      const others = old.filter((o) => o.ino !== r.ino || o.mtimeMs !== r.mtimeMs || o.size !== r.size);
      versions.delete(p); // re-insert: the Map's order tracks recency
      versions.set(p, [...others.slice(-1), r]);
    }
  }
  const exists = new Map<string, boolean>();
  const out: [string, Row][] = [];
  let paths = [...versions.keys()];
  if (paths.length > MAX_FILE_ENTRIES) paths = paths.slice(paths.length - MAX_FILE_ENTRIES);
  for (const p of paths) {
    const folder = p.slice(0, p.lastIndexOf('/')) || '/';
    let known = exists.get(folder);
    if (known === undefined) {
      known = existsSync(folder);
      exists.set(folder, known);
    }
    if (known) for (const r of versions.get(p) ?? []) out.push([p, r]);
  }
  return out;
}

function dirsJson(dirs: Map<string, DirRecord>): string {
  return JSON.stringify(
    [...dirs].map(([p, r]) => {
      const row: unknown[] = [p, r.fingerprint, r.md5, r.size, r.nfiles, r.racyUntil];
      if (r.listing !== undefined) row.push(listingJson(r.listing));
      return row;
    }),
  );
}

/** Directory records of a segment; later segments override earlier ones. Malformed ones are skipped. */
function parseDirs(s: Head, dirs: Map<string, DirRecord>): void {
  let list: unknown;
  try {
    list = JSON.parse(s.dirsJson);
  } catch {
    return;
  }
  if (!Array.isArray(list)) return;
  for (const item of list) {
    if (!Array.isArray(item) || (item.length !== 6 && item.length !== 7)) continue;
    const [p, fingerprint, md5, size, nfiles, racyUntil, listing] = item as unknown[];
    if (typeof p !== 'string' || typeof fingerprint !== 'string' || typeof md5 !== 'string') continue;
    if (!DIR_MD5_RE.test(md5) || typeof size !== 'number' || typeof nfiles !== 'number') continue;
    if (typeof racyUntil !== 'number' || !(racyUntil < s.writtenAtMs)) continue; // racy when written
    const kept = listing === undefined ? undefined : parseListing(listing, s.writtenAtMs);
    dirs.set(p, { fingerprint, md5: asMd5(md5), size, nfiles, racyUntil, ...(kept ? { listing: kept } : {}) });
  }
}

/** `<ms timestamp, 15 digits>-<pid>-<random>.bin`: sorts by time of writing. */
function segmentName(): string {
  return `${String(Date.now()).padStart(15, '0')}-${process.pid}-${randomBytes(4).toString('hex')}${SEGMENT_SUFFIX}`;
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
