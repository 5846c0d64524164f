/**
 * The stat cache's file entries as columns: a binary segment file is read in one go and used as
 * typed arrays over its bytes, hash table included (the writer builds it), so loading makes no
 * object and no string per entry and hashes nothing; a path is decoded only when compaction needs it.
 *
 * Segment layout (little-endian; a file whose size does not add up is ignored):
 *   0  'LSSTAT03'   8  u32 0x01020304 (byte order)   12 u32 n (file rows)   16 f64 written-at ms
 *   24 u32 path bytes   28 u32 dir bytes   32..40 zero
 *   40 f64 ino[n] | f64 mtimeMs[n] | f64 size[n] | u32 pathEnd[n] | u32 pathHash[n]
 *      | i32 slots[cap] (open addressing on pathHash, -1 empty; cap = slotCount(n)) | md5 16 bytes[n]
 *      | UTF-8 paths | dirs as JSON: [[path, fingerprint, md5, size, nfiles, racyUntilMs], ...]
 * A path may have several rows (compaction keeps two versions); every row whose stat matches is valid.
 */
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { racyWindow } from '../util/racy.js';

const MAGIC = 'LSSTAT03';
export const HEADER_BYTES = 40;
const BYTE_ORDER = 0x01020304;

/** FNV-1a over UTF-16 code units. */
export function pathHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const slotCount = (n: number): number => {
  let cap = 16;
  while (cap < 2 * n) cap *= 2;
  return cap;
};

export interface Row {
  ino: number;
  mtimeMs: number;
  size: number;
  md5: string;
}

export interface SegmentHead {
  n: number;
  writtenAtMs: number;
  pathBytes: number;
  dirBytes: number;
}

const layout = (n: number, pathBytes: number) => {
  const slotsAt = HEADER_BYTES + 32 * n;
  const md5At = slotsAt + 4 * slotCount(n);
  const pathsAt = md5At + 16 * n;
  return { slotsAt, md5At, pathsAt, dirsAt: pathsAt + pathBytes };
};

/** Check a segment's header against the file's size; undefined when it is not a complete segment. */
export function readHead(header: Buffer, fileSize: number): SegmentHead | undefined {
  if (header.length < HEADER_BYTES || header.toString('latin1', 0, 8) !== MAGIC) return undefined;
  if (header.readUInt32LE(8) !== BYTE_ORDER) return undefined;
  const n = header.readUInt32LE(12);
  const writtenAtMs = header.readDoubleLE(16);
  const pathBytes = header.readUInt32LE(24);
  const dirBytes = header.readUInt32LE(28);
  if (n > 1 << 26 || fileSize !== layout(n, pathBytes).dirsAt + dirBytes || !Number.isFinite(writtenAtMs))
    return undefined;
  return { n, writtenAtMs, pathBytes, dirBytes };
}

/** Where a segment's dirs JSON starts. */
export const dirsOffset = (h: SegmentHead): number => layout(h.n, h.pathBytes).dirsAt;

/** Encode rows (oldest first) and the dirs JSON as one segment. */
export function encodeSegment(rows: [string, Row][], dirsJson: string, writtenAtMs: number): Buffer {
  const n = rows.length;
  let pathBytes = 0;
  for (const [p] of rows) pathBytes += Buffer.byteLength(p);
  const { slotsAt, md5At, pathsAt, dirsAt } = layout(n, pathBytes);
  const out = Buffer.alloc(dirsAt + Buffer.byteLength(dirsJson));
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(BYTE_ORDER, 8);
  out.writeUInt32LE(n, 12);
  out.writeDoubleLE(writtenAtMs, 16);
  out.writeUInt32LE(pathBytes, 24);
  out.writeUInt32LE(out.length - dirsAt, 28);
  const mask = slotCount(n) - 1;
  // Columns written through typed arrays over the buffer (Buffer.alloc is never pooled: offset 0, aligned);
  // the layout is little-endian, as the reader's views assume.
  const ab = out.buffer;
  const o = out.byteOffset;
  const ino = new Float64Array(ab, o + HEADER_BYTES, n);
  const mtime = new Float64Array(ab, o + HEADER_BYTES + 8 * n, n);
  const size = new Float64Array(ab, o + HEADER_BYTES + 16 * n, n);
  const ends = new Uint32Array(ab, o + HEADER_BYTES + 24 * n, n);
  const hashes = new Uint32Array(ab, o + HEADER_BYTES + 28 * n, n);
  const slots = new Int32Array(ab, o + slotsAt, mask + 1);
  slots.fill(-1);
  let at = pathsAt;
  for (let i = 0; i < n; i++) {
    const [p, r] = rows[i] as [string, Row];
    const h = pathHash(p);
    ino[i] = r.ino;
    mtime[i] = r.mtimeMs;
    size[i] = r.size;
    at += out.write(p, at, 'utf8');
    ends[i] = at - pathsAt;
    hashes[i] = h;
    let slot = h & mask;
    while (slots[slot] !== -1) slot = (slot + 1) & mask;
    slots[slot] = i;
    out.write(r.md5, md5At + 16 * i, 'hex');
  }
  out.write(dirsJson, dirsAt, 'utf8');
  return out;
}

/** One segment's file rows, as views onto its bytes. */
export class Segment {
  readonly n: number;
  readonly writtenAtMs: number;
  private readonly ino: Float64Array;
  private readonly mtime: Float64Array;
  private readonly size: Float64Array;
  private readonly ends: Uint32Array;
  private readonly hashes: Uint32Array;
  private readonly slots: Int32Array;
  private readonly md5s: Buffer;
  private readonly paths: Buffer;

  private constructor(bytes: Buffer, head: SegmentHead) {
    const n = head.n;
    this.n = n;
    this.writtenAtMs = head.writtenAtMs;
    const { slotsAt, md5At, pathsAt, dirsAt } = layout(n, head.pathBytes);
    const buf = bytes.buffer;
    const base = bytes.byteOffset;
    this.ino = new Float64Array(buf, base + HEADER_BYTES, n);
    this.mtime = new Float64Array(buf, base + HEADER_BYTES + 8 * n, n);
    this.size = new Float64Array(buf, base + HEADER_BYTES + 16 * n, n);
    this.ends = new Uint32Array(buf, base + HEADER_BYTES + 24 * n, n);
    this.hashes = new Uint32Array(buf, base + HEADER_BYTES + 28 * n, n);
    this.slots = new Int32Array(buf, base + slotsAt, slotCount(n));
    this.md5s = bytes.subarray(md5At, pathsAt);
    this.paths = bytes.subarray(pathsAt, dirsAt);
  }

  /** A whole segment file's bytes, checked; undefined when damaged. */
  static from(file: Buffer): Segment | undefined {
    // Typed-array views need 8-byte alignment (readFileSync's buffers start at offset 0 in practice).
    const bytes = file.byteOffset % 8 === 0 ? file : Buffer.from(new Uint8Array(file).buffer);
    const head = readHead(bytes, bytes.length);
    return head === undefined ? undefined : new Segment(bytes, head);
  }

  private start(row: number): number {
    return row === 0 ? 0 : this.ends[row - 1]!;
  }

  /** Call `each` with every row of path `p` (hash `h`) until it returns true; the row that did, or -1. */
  private scan(p: string, h: number, each: (row: number) => boolean): number {
    const mask = this.slots.length - 1;
    for (let slot = h & mask, probes = 0; probes <= mask; slot = (slot + 1) & mask, probes++) {
      const row = this.slots[slot]!;
      if (row < 0 || row >= this.n) return -1;
      if (this.hashes[row] === h && this.pathEquals(row, p) && each(row)) return row;
    }
    return -1;
  }

  private pathEquals(row: number, p: string): boolean {
    const from = this.start(row);
    const end = this.ends[row]!;
    if (end < from || end > this.paths.length) return false; // damaged
    const len = end - from;
    const bytes = this.paths;
    if (len === p.length) {
      let i = 0;
      for (; i < len; i++) {
        const c = p.charCodeAt(i);
        if (c >= 0x80 || bytes[from + i] !== c) break;
      }
      if (i === len) return true;
      if (p.charCodeAt(i) < 0x80) return false;
    }
    return Buffer.byteLength(p) === len && Buffer.from(p).equals(bytes.subarray(from, end));
  }

  /**
   * The md5 of a row of `p` with exactly this stat, unless the row was forgotten or is racy by git's
   * rule (its mtime not safely older than the segment's writing).
   */
  match(p: string, h: number, ino: number, mtimeMs: number, size: number): string | undefined {
    const row = this.scan(p, h, (r) => this.mtime[r] === mtimeMs && this.size[r] === size && this.ino[r] === ino);
    if (row < 0 || mtimeMs + racyWindow(mtimeMs) >= this.writtenAtMs) return undefined;
    return this.md5s.toString('hex', 16 * row, 16 * row + 16);
  }

  has(p: string, h: number): boolean {
    return this.scan(p, h, () => true) >= 0;
  }

  /** Make every row of `p` never match again (in this process). */
  forget(p: string, h: number): void {
    this.scan(p, h, (r) => {
      this.mtime[r] = Number.NaN;
      return false;
    });
  }

  /** Every trusted row, in row order, with its path decoded (for compaction). */
  *rows(): Generator<[string, Row]> {
    for (let r = 0; r < this.n; r++) {
      const m = this.mtime[r]!;
      const end = this.ends[r]!;
      const from = this.start(r);
      if (Number.isNaN(m) || m + racyWindow(m) >= this.writtenAtMs || end < from || end > this.paths.length) continue;
      const md5 = this.md5s.toString('hex', 16 * r, 16 * r + 16);
      yield [this.paths.toString('utf8', from, end), { ino: this.ino[r]!, mtimeMs: m, size: this.size[r]!, md5 }];
    }
  }
}

/**
 * A segment's rows looked up in place, a few small reads per lookup (its hash table, then the one
 * row), for a command that needs a handful of entries: a warm no-op answers its folders from their
 * directory records and looks up only its single-file deps, so reading every row (tens of MB on a
 * big project) would cost more than the lookups. Same answers as Segment.match.
 */
export class SegmentOnDisk {
  private fd: number | undefined;
  private readonly word = Buffer.alloc(8);
  private readonly at: ReturnType<typeof layout>;

  constructor(
    private readonly file: string,
    private readonly head: SegmentHead,
  ) {
    this.at = layout(head.n, head.pathBytes);
  }

  /** The bytes at `offset`, or undefined when the file is gone (merged away) or shorter (damaged). */
  private read(offset: number, length: number, into: Buffer = Buffer.alloc(length)): Buffer | undefined {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.file, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    }
    return readSync(this.fd, into, 0, length, offset) === length ? into : undefined;
  }

  private u32(offset: number): number | undefined {
    return this.read(offset, 4, this.word)?.readUInt32LE(0);
  }

  private f64(offset: number): number | undefined {
    return this.read(offset, 8, this.word)?.readDoubleLE(0);
  }

  match(p: string, h: number, ino: number, mtimeMs: number, size: number): string | undefined {
    const { n, writtenAtMs, pathBytes } = this.head;
    if (n === 0 || mtimeMs + racyWindow(mtimeMs) >= writtenAtMs) return undefined;
    const mask = slotCount(n) - 1;
    const want = Buffer.from(p);
    for (let slot = h & mask, probes = 0; probes <= mask; slot = (slot + 1) & mask, probes++) {
      const raw = this.u32(this.at.slotsAt + 4 * slot);
      if (raw === undefined) return undefined;
      const row = raw | 0;
      if (row < 0 || row >= n) return undefined;
      if (this.u32(HEADER_BYTES + 28 * n + 4 * row) !== h) continue;
      const from = row === 0 ? 0 : this.u32(HEADER_BYTES + 24 * n + 4 * (row - 1));
      const end = this.u32(HEADER_BYTES + 24 * n + 4 * row);
      if (from === undefined || end === undefined || end < from || end > pathBytes || end - from !== want.length)
        continue;
      if (!this.read(this.at.pathsAt + from, want.length)?.equals(want)) continue;
      if (this.f64(HEADER_BYTES + 8 * (n + row)) !== mtimeMs || this.f64(HEADER_BYTES + 8 * (2 * n + row)) !== size)
        continue;
      if (this.f64(HEADER_BYTES + 8 * row) !== ino) continue;
      return this.read(this.at.md5At + 16 * row, 16)?.toString('hex');
    }
    return undefined;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
