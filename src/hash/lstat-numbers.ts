/**
 * One lstat per file of a big tree without a fs.Stats object per call: the numbers a walk keeps (inode,
 * mtime in ms, size) are written straight into a Float64Array.
 *
 * Why: on Node 20 every `lstatSync` builds a Stats object and four Date objects; over a warm walk of
 * 120,000 files that was ~25% of the CPU of the stat calls, plus the garbage collection of ~600,000
 * short-lived objects. Node's own fs binding returns the same numbers in one reused Float64Array (the
 * array `lstatSync` reads them from). That binding is internal (`process.binding`, deprecated but
 * kept for compatibility), so it is used only after a self-check proves it gives exactly what the public
 * `lstatSync` gives for a real file (inode, size, mtimeMs, file type), and never when the process
 * asks to see deprecations (`--pending-deprecation` would print a warning). Anything else, or
 * LOCKSTEP_FAST_STAT=0, takes the public call. A wrong number could only ever come from a layout the
 * self-check did not see, and the check compares every field used.
 */
import { lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MISSING = 0;
export const FILE = 1;
export const OTHER = 2;
/** What lstatNumbers found at a path. */
export type StatKind = typeof MISSING | typeof FILE | typeof OTHER;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** Indexes in the binding's stat array (Node's kFsStatsFieldsNumber layout, as fs/utils reads it). */
const MODE = 1;
const INO = 7;
const SIZE = 8;
const MTIME_SEC = 12;
const MTIME_NSEC = 13;

export type RawLstat = (
  path: string,
  bigint: boolean,
  req: undefined,
  throwIfNoEntry: boolean,
) => Float64Array | undefined;

let raw: RawLstat | null | undefined;

/** The binding's lstat when it passed the self-check, else null (decided once per thread). */
function rawLstat(): RawLstat | null {
  if (raw !== undefined) return raw;
  raw = null;
  const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (process.env.LOCKSTEP_FAST_STAT === '0' || /--pending-deprecation|--throw-deprecation/.test(flags)) return raw;
  try {
    const binding = (process as unknown as { binding?: (name: string) => { lstat?: unknown } }).binding?.('fs');
    if (typeof binding?.lstat !== 'function') return raw;
    const candidate = binding.lstat.bind(binding) as RawLstat;
    if (passesSelfCheck(candidate)) raw = candidate;
  } catch {
    raw = null;
  }
  return raw;
}

/**
 * Whether `candidate` answers as the public lstatSync does: the same inode, size, mtimeMs and mode for
 * a real file (Node's own executable) and a folder, and undefined for a path that does not exist.
 */
export function passesSelfCheck(candidate: RawLstat): boolean {
  try {
    for (const probe of [process.execPath, tmpdir()]) {
      const st = lstatSync(probe);
      const got = candidate(probe, false, undefined, false);
      if (!(got instanceof Float64Array) || got.length < 14) return false;
      if (got[INO] !== st.ino || got[SIZE] !== st.size || mtimeMs(got) !== st.mtimeMs || got[MODE] !== st.mode)
        return false;
    }
    const missing = join(tmpdir(), `lockstep-no-such-${process.pid}-${Date.now()}`);
    return candidate(missing, false, undefined, false) === undefined;
  } catch {
    return false;
  }
}

/** Node's own formula (msFromTimeSpec), so the figure is bit-identical to Stats.mtimeMs. */
const mtimeMs = (a: Float64Array): number => a[MTIME_SEC]! * 1e3 + a[MTIME_NSEC]! / 1e6;

/**
 * lstat `path`; for a regular file write ino, mtimeMs, size at out[at..at+2]. A missing path (or a
 * missing folder on the way, ENOTDIR) is MISSING; other failures throw as lstatSync does.
 */
export function lstatNumbers(path: string, out: Float64Array, at: number): StatKind {
  return statWith(raw === undefined ? rawLstat() : raw, path, out, at);
}

/** lstatNumbers through `fast` (the binding), or through the public lstatSync when null. */
export function statWith(fast: RawLstat | null, path: string, out: Float64Array, at: number): StatKind {
  if (fast !== null) {
    let a: Float64Array | undefined;
    try {
      a = fast(path, false, undefined, false);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return MISSING;
      throw e;
    }
    if (a === undefined) return MISSING;
    if ((a[MODE]! & S_IFMT) !== S_IFREG) return OTHER;
    out[at] = a[INO]!;
    out[at + 1] = mtimeMs(a);
    out[at + 2] = a[SIZE]!;
    return FILE;
  }
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path, { throwIfNoEntry: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return MISSING;
    throw e;
  }
  if (st === undefined) return MISSING;
  if (!st.isFile()) return OTHER;
  out[at] = st.ino;
  out[at + 1] = st.mtimeMs;
  out[at + 2] = st.size;
  return FILE;
}

/** The binding when it passed the self-check (tests compare both paths), else null. */
export function fastLstat(): RawLstat | null {
  return raw === undefined ? rawLstat() : raw;
}

/** Whether lstatNumbers takes the binding (its self-check runs on the first call). */
export function usingFastStat(): boolean {
  return (raw === undefined ? rawLstat() : raw) !== null;
}
