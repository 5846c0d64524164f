/**
 * The local content-addressed store in DVC 3's layout: `<root>/files/md5/ab/cdef…` (file objects)
 * and `…/ab/cdef….dir` (directory manifests). Objects are written to a temp sibling and renamed into
 * place, and made read-only (0444) because hardlinked or symlinked workspace files are the objects.
 *
 * The per-object operations used 60,000 times by commit and checkout are synchronous (see
 * src/hash/hasher.ts for why); their callers yield to the event loop between batches.
 */
import {
  chmodSync,
  constants,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  promises as fs,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { hashFile, md5Hex, readSmallFileSync, WHOLE_READ_LIMIT } from '../hash/md5-file.js';
import { compareCodePoints, manifestJson } from '../hash/pyjson.js';
import { statCacheFor, type StatCache } from '../hash/stat-cache.js';
import { asMd5, isDirHash, type DirEntry, type Md5 } from '../hash/types.js';
import { tempSibling, writeFileAtomic } from '../util/atomic.js';
import type { ObjectStore } from './types.js';

const OBJECT_NAME_RE = /^[0-9a-f]{30}(\.dir)?$/;
const HASH_RE = /^[0-9a-f]{32}(\.dir)?$/;
const READ_ONLY = 0o444;

/** The workspace path an object is wanted for, in messages; a function so it is only built on failure. */
export type ForPath = string | (() => string);

export interface AddFileOptions {
  /** Rename `src` into the store (it is gone afterwards) instead of copying it. */
  move?: boolean;
  /** Hardlink `src` as the object: no data is copied and `src` becomes the read-only object. */
  hardlink?: boolean;
  /** Copy only by reflink (fail where the file system cannot), instead of reflink-else-copy. */
  reflinkOnly?: boolean;
}

export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  readonly statCache: StatCache;
  private readonly madeDirs = new Set<string>();

  constructor(root: string) {
    this.root = path.resolve(root);
    this.statCache = statCacheFor(this.root);
  }

  objectPath(md5: Md5): string {
    if (!HASH_RE.test(md5)) throw new Error(`not an md5 object name: '${md5}'`);
    return `${this.root}/files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;
  }

  /** `files/md5/ab/cdef…`, for messages. */
  displayPath(md5: Md5): string {
    return `files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;
  }

  async has(md5: Md5): Promise<boolean> {
    return this.hasSync(md5);
  }

  hasSync(md5: Md5): boolean {
    return existsSync(this.objectPath(md5));
  }

  async addFile(src: string, md5: Md5, opts: AddFileOptions = {}): Promise<void> {
    this.addFileSync(src, md5, opts);
  }

  /** addFile, synchronously; a no-op when the object is present (`src` is then left alone). */
  addFileSync(src: string, md5: Md5, opts: AddFileOptions = {}): void {
    const obj = this.objectPath(md5);
    if (existsSync(obj)) return;
    this.ensureDir(obj);
    const tmp = tempSibling(obj);
    // A symlink is stored by its target's content: moving or hardlinking it would store the link.
    const viaLink = (opts.hardlink || opts.move) && lstatSync(src).isSymbolicLink();
    try {
      if (viaLink) {
        copyFileSync(src, tmp, constants.COPYFILE_FICLONE);
        if (opts.move) rmSync(src, { force: true });
      } else if (opts.hardlink) {
        linkSync(src, tmp);
      } else if (opts.move) {
        try {
          renameSync(src, tmp);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
          copyFileSync(src, tmp, constants.COPYFILE_FICLONE);
          rmSync(src, { force: true });
        }
      } else {
        copyFileSync(src, tmp, opts.reflinkOnly ? constants.COPYFILE_FICLONE_FORCE : constants.COPYFILE_FICLONE);
      }
      chmodSync(tmp, READ_ONLY);
      renameSync(tmp, obj);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Store bytes the caller just hashed to `md5` (commit reads each new file once: to hash it and to
   * store it, so the object always matches its name). No-op when present.
   */
  addBytesSync(md5: Md5, bytes: Uint8Array): void {
    const obj = this.objectPath(md5);
    if (existsSync(obj)) return;
    this.ensureDir(obj);
    const tmp = tempSibling(obj);
    try {
      writeFileSync(tmp, bytes, { flag: 'wx', mode: READ_ONLY });
      renameSync(tmp, obj);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  private ensureDir(obj: string): void {
    const dir = path.dirname(obj);
    if (this.madeDirs.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  async addManifest(entries: readonly DirEntry[]): Promise<Md5> {
    const sorted = [...entries].sort((a, b) => compareCodePoints(a.relpath, b.relpath));
    const bytes = manifestJson(sorted);
    const md5 = asMd5(`${md5Hex(bytes)}.dir`);
    if (!this.hasSync(md5)) await writeFileAtomic(this.objectPath(md5), bytes, READ_ONLY);
    return md5;
  }

  /** Reads and checks a manifest; throws 'missing-object' or 'corrupt-object'. */
  async readManifest(md5: Md5): Promise<DirEntry[]> {
    let text: string;
    try {
      text = await fs.readFile(this.objectPath(md5), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw this.missing(md5);
      throw e;
    }
    if (`${md5Hex(text)}.dir` !== md5) throw this.corrupt(md5);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw this.corrupt(md5);
    }
    if (!Array.isArray(raw)) throw this.corrupt(md5);
    return raw.map((e: unknown) => {
      const { md5: m, relpath } = (e ?? {}) as { md5?: unknown; relpath?: unknown };
      if (typeof m !== 'string' || !/^[0-9a-f]{32}$/.test(m) || typeof relpath !== 'string') throw this.corrupt(md5);
      // The .dir format records no sizes; -1 means unknown.
      return { md5: asMd5(m), relpath, size: -1 };
    });
  }

  /** Re-reads the object and compares its content with its name; remembers a match in the stat cache. */
  async verify(md5: Md5): Promise<boolean> {
    const obj = this.objectPath(md5);
    const st = statSync(obj, { throwIfNoEntry: false });
    if (st === undefined) return false;
    const observedAt = Date.now();
    const actual = isDirHash(md5) ? asMd5(`${md5Hex(await fs.readFile(obj))}.dir`) : await hashFile(obj, st.size);
    if (actual !== md5) {
      this.statCache.forgetFile(obj);
      return false;
    }
    this.statCache.setFile(obj, st, md5, observedAt);
    return true;
  }

  /**
   * Verify once: an object whose stat matches a previous successful verification is trusted without
   * reading it again. Throws 'missing-object' / 'corrupt-object' naming `forPath` (the workspace path).
   */
  async ensureVerified(md5: Md5, forPath: ForPath): Promise<void> {
    await this.statCache.load();
    const obj = this.objectPath(md5);
    const st = statSync(obj, { throwIfNoEntry: false });
    if (st === undefined) throw this.missing(md5, forPath);
    if (this.statCache.getFile(obj, st) === md5) return;
    if (!(await this.verify(md5))) throw this.corrupt(md5, forPath);
  }

  /**
   * For a small file object: its verified bytes (a view valid until the next read), verifying and
   * marking it on the way when needed, so checkout reads each object once to check and copy it.
   * Undefined for large objects (use ensureVerified and a file copy). Throws like ensureVerified.
   */
  readVerifiedSmallSync(md5: Md5, forPath: ForPath): Buffer | undefined {
    const obj = this.objectPath(md5);
    const st = statSync(obj, { throwIfNoEntry: false });
    if (st === undefined) throw this.missing(md5, forPath);
    if (st.size > WHOLE_READ_LIMIT) return undefined;
    const observedAt = Date.now();
    const bytes = readSmallFileSync(obj);
    if (bytes === undefined) return undefined;
    if (this.statCache.getFile(obj, st) === md5) return bytes;
    if (md5Hex(bytes) !== md5) {
      this.statCache.forgetFile(obj);
      throw this.corrupt(md5, forPath);
    }
    this.statCache.setFile(obj, st, md5, observedAt);
    return bytes;
  }

  async *list(): AsyncIterable<Md5> {
    const base = path.join(this.root, 'files', 'md5');
    let prefixes: string[];
    try {
      prefixes = (await fs.readdir(base)).filter((p) => /^[0-9a-f]{2}$/.test(p)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const prefix of prefixes) {
      const names = await fs.readdir(path.join(base, prefix)).catch(() => [] as string[]);
      for (const name of names.sort()) if (OBJECT_NAME_RE.test(name)) yield asMd5(prefix + name);
    }
  }

  async remove(md5: Md5): Promise<void> {
    const obj = this.objectPath(md5);
    await fs.rm(obj, { force: true });
    this.statCache.forgetFile(obj);
  }

  /** Persist verification marks. */
  save(): Promise<void> {
    return this.statCache.save();
  }

  missing(md5: Md5, forPath?: ForPath): LockstepError {
    const what = forPath === undefined ? '' : ` for '${typeof forPath === 'function' ? forPath() : forPath}'`;
    return new LockstepError(
      'missing-object',
      `cache object ${this.displayPath(md5)}${what} is missing`,
      'Run lockstep pull or lockstep repro.',
    );
  }

  corrupt(md5: Md5, forPath?: ForPath): LockstepError {
    const what = forPath === undefined ? '' : ` for '${typeof forPath === 'function' ? forPath() : forPath}'`;
    return new LockstepError(
      'corrupt-object',
      `cache object ${this.displayPath(md5)}${what} does not match its hash`,
      'Remove it and run lockstep pull or repro.',
    );
  }
}
