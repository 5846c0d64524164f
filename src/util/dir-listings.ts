/**
 * One command's folder listings (readdir with entry types), each read once and shared by the walks that
 * run while a workspace opens: the pipeline-file walk (config/collect.ts) and the `.dvc` walk
 * (dvcfile/collect.ts) both enter every folder that is not an output, so a data folder that is only a
 * dependency (60,000 files in the engine benchmark) was listed twice per command. Short-lived by design:
 * the owner drops it once both walks are done, so no listing outlives the moment it describes.
 *
 * Across commands, what the walks need of a big folder is kept in a small file (`memo`): the folder's
 * stamp (inode, mtime) and only the entries a walk looks at (its subfolders, a `.git`, and the files the
 * owner's `keep` names: pipeline, ignore and `.dvc` files), not its thousands of data files. A folder's
 * mtime changes whenever an entry is created, removed or renamed in it, so while the stamp holds, those
 * entries are still the folder's: the next command stats the folder instead of listing it. A folder
 * modified within its timestamps' granularity of the listing (util/racy.ts) is not kept, and every kept
 * name is checked to be a plain name before it is used.
 */
import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import { racyWindow } from './racy.js';

/** What the walks read of an entry. */
export type ListedEntry = Pick<Dirent, 'name' | 'isFile' | 'isDirectory'>;
export type EntryKind = 'file' | 'dir' | 'other';

export interface ListingMemo {
  /** The file that keeps big folders' entries between commands (in the cache's tmp folder). */
  file: string;
  /** The files a walk reads by name (subfolders and `.git` are always kept). */
  keep: (name: string, kind: EntryKind) => boolean;
}

/** Folders with fewer entries are listed every time: a readdir of them costs about what their stat does. */
export const MEMO_MIN_ENTRIES = 1000;
/** Records kept in the memo file (folders of other workspaces too: experiments' are removed later). */
const MEMO_MAX_FOLDERS = 64;
const MEMO_VERSION = 1;
const KIND_CODE: Record<EntryKind, string> = { file: 'f', dir: 'd', other: 'o' };
const CODE_KIND: Record<string, EntryKind> = { f: 'file', d: 'dir', o: 'other' };

class KeptEntry implements ListedEntry {
  constructor(
    readonly name: string,
    readonly kind: EntryKind,
  ) {}
  isFile(): boolean {
    return this.kind === 'file';
  }
  isDirectory(): boolean {
    return this.kind === 'dir';
  }
}

interface Stamped {
  ino: number;
  mtimeMs: number;
  entries: KeptEntry[];
}

const kindOf = (d: Dirent): EntryKind => (d.isFile() ? 'file' : d.isDirectory() ? 'dir' : 'other');
const plainName = (n: unknown): n is string =>
  typeof n === 'string' && n !== '' && n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');

export class DirListings {
  private readonly read = new Map<string, ListedEntry[]>();
  private kept: Map<string, Stamped> | undefined;
  /** The big folders of this command, as they are now: what the memo file is rewritten with. */
  private readonly seen = new Map<string, Stamped>();
  private readonly stale = new Set<string>();
  private changed = false;

  constructor(private readonly memo?: ListingMemo) {}

  /** readdirSync(abs, { withFileTypes: true }), from memory when this folder was listed already; throws as it does. */
  list(abs: string): ListedEntry[] {
    let entries = this.read.get(abs);
    if (entries === undefined) {
      entries = this.memo ? this.listStamped(abs, this.memo) : readdirSync(abs, { withFileTypes: true });
      this.read.set(abs, entries);
    }
    return entries;
  }

  private listStamped(abs: string, memo: ListingMemo): ListedEntry[] {
    const listedAt = Date.now(); // before the stamp: a change after it moves the mtime past the stamp
    const st = statSync(abs, { throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory()) return readdirSync(abs, { withFileTypes: true }); // throws as it does
    const known = this.loadKept(memo.file).get(abs);
    if (known !== undefined && known.ino === st.ino && known.mtimeMs === st.mtimeMs) {
      this.seen.set(abs, known);
      return known.entries;
    }
    const entries = readdirSync(abs, { withFileTypes: true });
    if (entries.length >= MEMO_MIN_ENTRIES && st.mtimeMs + racyWindow(st.mtimeMs) < listedAt) {
      const kept: KeptEntry[] = [];
      for (const d of entries) {
        const kind = kindOf(d);
        if (kind === 'dir' || d.name === '.git' || memo.keep(d.name, kind)) kept.push(new KeptEntry(d.name, kind));
      }
      this.seen.set(abs, { ino: st.ino, mtimeMs: st.mtimeMs, entries: kept });
      this.changed = true;
    } else if (known !== undefined) {
      this.stale.add(abs); // its record no longer holds: drop it from the file
      this.changed = true;
    }
    return entries;
  }

  /** The memo file's records, checked; a missing, damaged or foreign file is an empty memo. */
  private loadKept(file: string): Map<string, Stamped> {
    if (this.kept !== undefined) return this.kept;
    this.kept = new Map();
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return this.kept;
    }
    const { v, dirs } = (raw ?? {}) as { v?: unknown; dirs?: unknown };
    if (v !== MEMO_VERSION || !Array.isArray(dirs)) return this.kept;
    for (const rec of dirs as unknown[]) {
      if (!Array.isArray(rec) || rec.length < 3) continue;
      const [abs, ino, mtimeMs, ...names] = rec as unknown[];
      if (typeof abs !== 'string' || typeof ino !== 'number' || typeof mtimeMs !== 'number') continue;
      const entries: KeptEntry[] = [];
      for (const n of names) {
        const kind = typeof n === 'string' ? CODE_KIND[n[0] ?? ''] : undefined;
        const name = typeof n === 'string' ? n.slice(1) : undefined;
        if (kind === undefined || !plainName(name)) break;
        entries.push(new KeptEntry(name, kind));
      }
      if (entries.length === names.length) this.kept.set(abs, { ino, mtimeMs, entries });
    }
    return this.kept;
  }

  /** How many folders are held (tests). */
  size(): number {
    return this.read.size;
  }

  /**
   * Forget this command's listings, and rewrite the memo file when a big folder's record changed (whole:
   * temp + rename; a cache folder that cannot be written only costs the saving).
   */
  async close(): Promise<void> {
    this.read.clear();
    if (!this.memo || !this.changed) return;
    this.changed = false;
    // this command's folders first, then the others' records (another workspace's: an experiment's walk
    // must not make the project's next command list its big folders again), at most MEMO_MAX_FOLDERS
    const records = new Map(this.seen);
    for (const [abs, s] of this.kept ?? []) if (!this.stale.has(abs) && !records.has(abs)) records.set(abs, s);
    const dirs = [...records]
      .slice(0, MEMO_MAX_FOLDERS)
      .map(([abs, s]) => [abs, s.ino, s.mtimeMs, ...s.entries.map((e) => `${KIND_CODE[e.kind]}${e.name}`)]);
    this.seen.clear();
    this.stale.clear();
    // whatever stops the write (a read-only or full cache folder) only costs the saving
    await writeFileAtomic(this.memo.file, JSON.stringify({ v: MEMO_VERSION, dirs })).catch(() => {});
  }

  clear(): void {
    this.read.clear();
  }
}

/** A folder's entries, through `listings` when given. */
export const listDir = (abs: string, listings?: DirListings): ListedEntry[] =>
  listings ? listings.list(abs) : readdirSync(abs, { withFileTypes: true });

/**
 * Whether a folder's entries make it the root of a repository of its own: a `.git` (a nested clone, or
 * a submodule or worktree's `.git` file), or a `.dvc` / `.lockstep` folder (DVC's subrepos, `dvc init
 * --subdir`). Commands run inside such a folder find it as their project root (project.ts), so the
 * walks from an outer project do not enter it: DVC skips subrepos the same way (dvc/ignore.py).
 */
export const ownRepository = (entries: readonly ListedEntry[]): boolean =>
  entries.some((e) => e.name === '.git' || ((e.name === '.dvc' || e.name === '.lockstep') && e.isDirectory()));
