/**
 * List the files below a directory with their stats, the way DVC 3 collects a directory output
 * (os.walk without followlinks): regular files and symlinks to files are included (their targets'
 * content and stat), empty directories contribute nothing, sockets/fifos/devices are not data.
 * A symlink to a directory is refused: DVC silently leaves its files out of the hash (so changes
 * behind it never make a stage stale); lockstep names it instead. A broken symlink is refused too.
 *
 * Two phases: readdir of every folder (entry types come with the listing), then one stat per file,
 * its numbers written into one Float64Array (not an object kept per file, nor made per call where
 * Node's fs binding passes lstat-numbers.ts's self-check). On a big tree the stats are shared with a
 * worker thread (one per process, stat-worker.ts), each taking chunks from a shared counter, so a
 * second core halves the part that dominates a warm no-op (one stat system call per file); with one
 * core, or when the worker is not up before the main thread is done, the main thread does them all.
 * Synchronous calls on purpose: the promise versions queue on libuv's pool and were 3-5x slower;
 * the main thread yields to the event loop between chunks.
 *
 * A listing kept from an earlier walk (TreeListing) replaces the readdir phase when every folder of
 * the tree still has the inode and mtime it had then: a folder's mtime changes whenever an entry is
 * created, removed or renamed in it, so the same stamps mean the same names of the same types. Only a
 * listing whose folders were not modified within their timestamps' granularity of its reading is kept
 * (the racy rule of files, applied to folders). Files are still stat'ed one by one: an edit in place
 * leaves its folder's mtime alone.
 */
import { readdirSync, statSync, type Stats } from 'node:fs';
import { LockstepError } from '../errors.js';
import type { TreeListing } from './listing.js';
import { FILE, lstatNumbers } from './lstat-numbers.js';
import { CHUNK, statWorkerWarm, submitJob } from './stat-worker.js';
import { PARALLEL_MIN, wantThread } from './idle-core.js';
import { racyWindow } from '../util/racy.js';
import { Relpaths } from './relpaths.js';
import { yieldToLoop } from '../util/yield.js';

export interface WalkedTree {
  /** POSIX paths relative to the walked directory, in walk order (names sorted per directory). */
  names: Relpaths;
  /** ino, mtimeMs, size of file i at 3i, 3i+1, 3i+2. */
  stats: Float64Array;
  count: number;
  /** What the listing phase saw (reused or read), to keep for the next walk. */
  listing: TreeListing;
}

export interface WalkOptions {
  /** Use the worker thread (default: for big trees when a core is idle). */
  parallel?: boolean;
  /** Tests: leave every stat to the worker, so what it writes is what they check. */
  workerOnly?: boolean;
  /** A listing kept from an earlier walk of this root: used instead of readdir when its folders are unchanged. */
  known?: TreeListing;
}

export async function walkTree(root: string, opts: WalkOptions = {}): Promise<WalkedTree> {
  const listed =
    opts.known !== undefined && stampsHold(root, opts.known) ? reuseListing(root, opts.known) : await listTree(root);
  return statFiles(root, listed, opts);
}

interface Listed {
  names: Relpaths;
  /** Stats of symlinked files, taken while listing (index -> stat); every other file is stat'ed afterwards. */
  linked: Map<number, Stats>;
  listing: TreeListing;
}

/** Whether every folder of a kept listing still has the inode and mtime it had when listed. */
function stampsHold(root: string, known: TreeListing): boolean {
  for (const [rel, ino, mtimeMs] of known.dirs) {
    const st = statSync(rel === '' ? root : `${root}/${rel}`, { throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory() || st.ino !== ino || st.mtimeMs !== mtimeMs) return false;
  }
  return known.dirs.length > 0;
}

function reuseListing(root: string, known: TreeListing): Listed {
  const names = Relpaths.fromJoined(known.files);
  const linked = new Map<number, Stats>();
  for (const i of known.links) linked.set(i, followLink(root, `${root}/${names.at(i)}`));
  return { names, linked, listing: known };
}

/** The readdir phase: every folder listed with entry types, names sorted per folder, folders stamped first. */
async function listTree(root: string): Promise<Listed> {
  const relpaths: string[] = [];
  const linked = new Map<number, Stats>();
  const dirs: [string, number, number][] = [];
  let racyUntil = 0;
  const pending: string[] = [''];
  let listed = 0;
  while (pending.length > 0) {
    const rel = pending.pop() as string;
    const abs = rel === '' ? root : `${root}/${rel}`;
    // Stamped before it is read: an entry added meanwhile moves the mtime past the stamp.
    const dst = statSync(abs);
    dirs.push([rel, dst.ino, dst.mtimeMs]);
    racyUntil = Math.max(racyUntil, dst.mtimeMs + racyWindow(dst.mtimeMs));
    const entries = readdirSync(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const d of entries) {
      const childRel = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) subdirs.push(childRel);
      else if (d.isFile()) relpaths.push(childRel);
      else if (d.isSymbolicLink()) {
        const st = followLink(root, `${root}/${childRel}`);
        if (st.isFile()) {
          linked.set(relpaths.length, st);
          relpaths.push(childRel);
        }
      }
    }
    for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i] as string); // name order
    listed += entries.length;
    if (listed >= 4 * CHUNK) {
      listed = 0;
      await yieldToLoop();
    }
  }
  const names = Relpaths.fromArray(relpaths);
  return { names, linked, listing: { dirs, files: names.joined, links: [...linked.keys()], racyUntil } };
}

async function statFiles(root: string, { names, linked, listing }: Listed, opts: WalkOptions): Promise<WalkedTree> {
  const n = names.count;
  // Tests force it with `parallel: true`. A thread warmed up when the stat cache opened is taken as it is:
  // asked again now, the machine would count that thread booting as a task competing for a core.
  const parallel = opts.parallel ?? (n >= PARALLEL_MIN && (statWorkerWarm() || wantThread(n)));
  const shared = new SharedArrayBuffer(8 + 24 * n);
  const ctl = new Int32Array(shared, 0, 2); // [next chunk, worker state: 0 not started, 1 working, 2 closed]
  const stats = new Float64Array(shared, 8, 3 * n);
  for (const [i, st] of linked) {
    stats[3 * i] = st.ino;
    stats[3 * i + 1] = st.mtimeMs;
    stats[3 * i + 2] = st.size;
  }
  const done = parallel
    ? await submitJob({
        kind: 'stat',
        prefix: `${root}/`,
        joined: names.joined,
        starts: names.starts,
        linked: [...linked.keys()],
        shared,
        n,
      })
    : undefined;
  for (; !(opts.workerOnly && done); ) {
    const from = Atomics.add(ctl, 0, 1) * CHUNK;
    if (from >= n) break;
    statChunk(root, names, linked, stats, from, Math.min(n, from + CHUNK));
    await yieldToLoop();
  }
  // A job the thread has not claimed by now is closed, not waited for; one it could not finish is redone.
  if (done !== undefined) {
    const redo = await done(opts.workerOnly === true || Atomics.compareExchange(ctl, 1, 0, 2) !== 0);
    if (redo === 'all') statChunk(root, names, linked, stats, 0, n);
    else for (const i of redo) statChunk(root, names, linked, stats, i, i + 1);
  }
  const tree = compact(names, stats, n);
  // A file gone while we walked: its folder's mtime moved, so this listing is not one to keep.
  return { ...tree, listing: tree.count === n ? listing : { ...listing, dirs: [] } };
}

function statChunk(
  root: string,
  names: Relpaths,
  linked: Map<number, Stats>,
  stats: Float64Array,
  from: number,
  to: number,
): void {
  const skip = linked.size > 0;
  const prefix = `${root}/`;
  for (let i = from; i < to; i++) {
    if (skip && linked.has(i)) continue;
    // removed (or replaced by something else) while we walked
    if (lstatNumbers(prefix + names.at(i), stats, 3 * i) !== FILE) stats[3 * i + 1] = Number.NaN;
  }
}

/** Drop the files that vanished while we walked (rare: only then is a string made per name). */
function compact(names: Relpaths, stats: Float64Array, n: number): Omit<WalkedTree, 'listing'> {
  let kept = 0;
  for (let i = 0; i < n; i++) if (!Number.isNaN(stats[3 * i + 1])) kept++;
  if (kept === n) return { names, stats, count: n };
  const all = names.all().slice();
  kept = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(stats[3 * i + 1])) continue;
    if (kept !== i) {
      all[kept] = all[i] as string;
      stats.copyWithin(3 * kept, 3 * i, 3 * i + 3);
    }
    kept++;
  }
  all.length = kept;
  return { names: Relpaths.fromArray(all), stats: stats.subarray(0, 3 * kept), count: kept };
}

/** The stat of what a symlink inside the tree points to; refuses broken links and links to directories. */
function followLink(root: string, abs: string): Stats {
  const st = statSync(abs, { throwIfNoEntry: false });
  if (st === undefined) {
    throw new LockstepError(
      'data',
      `broken symlink '${abs}' inside a directory output`,
      'Remove the link or point it at a file.',
    );
  }
  if (st.isDirectory()) {
    throw new LockstepError(
      'data',
      `'${abs}' is a symlink to a directory inside '${root}': its files would be left out of the hash`,
      'Replace the link with the folder (or a copy of it), or declare the folder it points to as its own dependency ' +
        'or output.',
    );
  }
  return st;
}
