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
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import {
  copyHashingSync,
  hashFile,
  hashFileSync,
  md5Hex,
  readSmallFileSync,
  WHOLE_READ_LIMIT,
} from '../hash/md5-file.js';
import { compareCodePoints, manifestJson } from '../hash/pyjson.js';
import { statCacheFor, type FileStat, type StatCache } from '../hash/stat-cache.js';
import { asMd5, isDirHash, type DirEntry, type Md5 } from '../hash/types.js';
import { tempSibling, writeFileAtomic } from '../util/atomic.js';
import { showPath, unsafeRelPath } from '../util/safe-path.js';
import type { ObjectStore } from './types.js';

const OBJECT_NAME_RE = /^[0-9a-f]{30}(\.dir)?$/;
const HASH_RE = /^[0-9a-f]{32}(\.dir)?$/;
const READ_ONLY = 0o444;

/** Does content whose md5 is `actual` belong under the object name `md5` (a file's or a `.dir`'s)? */
const sameContent = (actual: Md5, md5: Md5): boolean => (isDirHash(md5) ? `${actual}.dir` === md5 : actual === md5);

/** The workspace path an object is wanted for, in messages; a function so it is only built on failure. */
export type ForPath = string | (() => string);

export interface AddFileOptions {
  /** Rename `src` into the store (it is gone afterwards) instead of copying it. */
  move?: boolean;
  /** Hardlink `src` as the object: no data is copied and `src` becomes the read-only object. */
  hardlink?: boolean;
  /** Copy only by reflink (fail where the file system cannot), instead of a copy. */
  reflinkOnly?: boolean;
  /** Replace the object when present (it was found corrupt). */
  replace?: boolean;
  /** The caller has checked `src` against `md5` itself and nothing else writes it (a verified download). */
  trusted?: boolean;
}

/** A file whose content changed between its hash and its store: nothing was stored. */
export class ChangedWhileCachingError extends LockstepError {
  constructor(readonly absPath: string) {
    super(
      'stage-failed',
      `'${absPath}' changed while it was being cached`,
      'Make sure nothing writes the output after the stage command exits, then run lockstep repro again.',
    );
  }
}

export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  readonly statCache: StatCache;
  private readonly madeDirs = new Set<string>();
  /** Objects this process wrote or verified, with their stat then (see inspect). */
  private readonly sound = new Map<Md5, FileStat>();

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

  /**
   * addFile, synchronously; a no-op when the object is present (`src` is then left alone), unless
   * `replace` (a corrupt object is replaced atomically). What lands under the name is checked to be
   * what was hashed (see placedIsHashed); a file that changed since its hash is refused with a
   * ChangedWhileCachingError and nothing is stored.
   */
  addFileSync(src: string, md5: Md5, opts: AddFileOptions = {}): void {
    const obj = this.objectPath(md5);
    if (!opts.replace && existsSync(obj)) return;
    this.ensureDir(obj);
    const tmp = tempSibling(obj);
    // A symlink is stored by its target's content: moving or hardlinking it would store the link.
    const viaLink = (opts.hardlink || opts.move) && lstatSync(src).isSymbolicLink();
    try {
      let copied: Md5 | undefined;
      if (viaLink) {
        copied = copyHashingSync(src, tmp, READ_ONLY);
        if (opts.move) rmSync(src, { force: true });
      } else if (opts.hardlink) {
        linkSync(src, tmp);
      } else if (opts.move) {
        try {
          renameSync(src, tmp);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
          copied = copyHashingSync(src, tmp, READ_ONLY);
          rmSync(src, { force: true });
        }
      } else if (opts.reflinkOnly) {
        copyFileSync(src, tmp, constants.COPYFILE_FICLONE_FORCE);
      } else {
        copied = copyHashingSync(src, tmp, READ_ONLY);
      }
      if (
        !opts.trusted &&
        !(copied === undefined ? this.placedIsHashed(src, tmp, md5, opts) : sameContent(copied, md5))
      ) {
        if (opts.move && !viaLink) renameSync(tmp, src); // give the workspace its file back
        throw new ChangedWhileCachingError(src);
      }
      chmodSync(tmp, READ_ONLY);
      renameSync(tmp, obj);
      this.markSound(md5, obj);
      this.statCache.forgetFile(obj);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  private markSound(md5: Md5, obj: string, st: FileStat | undefined = statSync(obj, { throwIfNoEntry: false })): void {
    if (st !== undefined) this.sound.set(md5, { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size });
  }

  /** Did this process write or verify the object, and is its stat unchanged since? */
  private knownSound(md5: Md5, st: FileStat): boolean {
    const k = this.sound.get(md5);
    return k !== undefined && k.ino === st.ino && k.mtimeMs === st.mtimeMs && k.size === st.size;
  }

  /**
   * Is what was placed at `tmp` (a reflink clone, a hardlink or the moved file itself) the content
   * that was hashed to `md5`? Cheaply, when the stat cache still has the source's stat as it was
   * when hashed: nothing has written it since (the stat cache only records stats observed outside
   * the racy window, like git's index). Otherwise by hashing what was placed.
   */
  private placedIsHashed(src: string, tmp: string, md5: Md5, opts: AddFileOptions): boolean {
    const sameInode = opts.hardlink || opts.move;
    const st = statSync(sameInode ? tmp : src, { throwIfNoEntry: false });
    if (st !== undefined && this.statCache.getFile(src, st) === md5) return true;
    return sameContent(hashFileSync(tmp), md5);
  }

  /**
   * Store bytes the caller just hashed to `md5` (commit reads each new file once: to hash it and to
   * store it, so the object always matches its name). When the object is present it is checked
   * against these bytes (size, then its verification mark or its content) and replaced if corrupt.
   */
  addBytesSync(md5: Md5, bytes: Uint8Array): void {
    const obj = this.objectPath(md5);
    const st = statSync(obj, { throwIfNoEntry: false });
    if (st !== undefined) {
      if (this.knownSound(md5, st)) return;
      // a small object costs one read to compare; it is not marked in the stat cache, whose size
      // would otherwise grow by one record per object of every output (large objects are: inspect)
      if (
        st.size === bytes.length &&
        (this.statCache.getFile(obj, st) === md5 || this.readObjectSync(obj).equals(bytes))
      ) {
        this.markSound(md5, obj, st);
        return;
      }
    }
    this.ensureDir(obj);
    const tmp = tempSibling(obj);
    try {
      writeFileSync(tmp, bytes, { flag: 'wx', mode: READ_ONLY });
      renameSync(tmp, obj);
      this.markSound(md5, obj);
      this.statCache.forgetFile(obj);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Copy a file into the store while hashing it (one read), and return its md5: the object holds
   * exactly the bytes hashed. The file's stat before and after the copy must agree, else it was
   * being written meanwhile: ChangedWhileCachingError, nothing stored. A present object is kept
   * when inspect finds it sound, else replaced.
   */
  async ingestFile(src: string): Promise<Md5> {
    const tmpDir = path.join(this.root, 'tmp');
    if (!this.madeDirs.has(tmpDir)) {
      mkdirSync(tmpDir, { recursive: true });
      this.madeDirs.add(tmpDir);
    }
    const tmp = path.join(tmpDir, `.ingest.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const before = statSync(src);
      const md5 = copyHashingSync(src, tmp, READ_ONLY);
      const after = statSync(src);
      if (before.mtimeMs !== after.mtimeMs || before.size !== after.size || before.ino !== after.ino)
        throw new ChangedWhileCachingError(src);
      const obj = this.objectPath(md5);
      if ((await this.inspect(md5, after.size)) === 'sound') return md5;
      this.ensureDir(obj);
      renameSync(tmp, obj);
      this.markSound(md5, obj);
      this.statCache.forgetFile(obj);
      return md5;
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  /**
   * The state of an object a commit is about to rely on: absent, sound, or corrupt. The rule: an
   * object this process wrote or verified is sound; a size other than the file's (`size`, when
   * known) is corrupt (a truncation costs no read); an object whose stat still matches the mark of
   * its last successful verification (stat cache: inode, mtime, size) is sound; anything else is
   * read and hashed once, and marked. A flipped byte in an object never verified since it last
   * changed is therefore always found, and a verified, untouched object is never read again.
   */
  async inspect(md5: Md5, size = -1): Promise<'absent' | 'sound' | 'corrupt'> {
    const obj = this.objectPath(md5);
    const st = statSync(obj, { throwIfNoEntry: false });
    if (st === undefined) return 'absent';
    if (this.knownSound(md5, st)) return 'sound';
    if (size >= 0 && !isDirHash(md5) && st.size !== size) return 'corrupt';
    await this.statCache.load();
    if (this.statCache.getFile(obj, st) === md5) {
      this.markSound(md5, obj, st);
      return 'sound';
    }
    return (await this.verify(md5)) ? 'sound' : 'corrupt';
  }

  /** Read a whole object; an unreadable one is a LockstepError naming it. */
  private readObjectSync(obj: string, forPath?: ForPath): Buffer {
    try {
      return readFileSync(obj);
    } catch (e) {
      throw this.unreadable(obj, e, forPath);
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
    const obj = this.objectPath(md5);
    // a present manifest is compared with the bytes it must hold, and replaced when it does not
    const st = statSync(obj, { throwIfNoEntry: false });
    if (st !== undefined && this.knownSound(md5, st)) return md5;
    if (st === undefined || st.size !== bytes.length || !this.readObjectSync(obj).equals(Buffer.from(bytes))) {
      await writeFileAtomic(obj, bytes, READ_ONLY);
    }
    this.markSound(md5, obj);
    return md5;
  }

  /**
   * Reads and checks a manifest; throws 'missing-object' or 'corrupt-object' (naming `forPath`, the
   * output it is read for, when given).
   */
  async readManifest(md5: Md5, forPath?: ForPath): Promise<DirEntry[]> {
    let text: string;
    try {
      text = await fs.readFile(this.objectPath(md5), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw this.missing(md5, forPath);
      throw this.unreadable(this.objectPath(md5), e, forPath);
    }
    if (`${md5Hex(text)}.dir` !== md5) throw this.corrupt(md5, forPath);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw this.corrupt(md5, forPath);
    }
    if (!Array.isArray(raw)) throw this.corrupt(md5, forPath);
    const entries = raw.map((e: unknown) => {
      const { md5: m, relpath } = (e ?? {}) as { md5?: unknown; relpath?: unknown };
      if (typeof m !== 'string' || !/^[0-9a-f]{32}$/.test(m) || typeof relpath !== 'string')
        throw this.corrupt(md5, forPath);
      // The .dir format records no sizes; -1 means unknown.
      return { md5: asMd5(m), relpath, size: -1 };
    });
    // Its hash matching proves only that nobody changed it since it was named: the names come from
    // whoever made it (a remote, a teammate), so each must stay inside the output it is checked out to.
    const unsafe = unsafeManifestEntry(entries);
    if (unsafe) {
      throw new LockstepError(
        'corrupt-object',
        `cache object ${this.displayPath(md5)} lists an unsafe path ${unsafe}`,
        'Remove it and run lockstep pull or repro.',
      );
    }
    return entries;
  }

  /** Re-reads the object and compares its content with its name; remembers a match in the stat cache. */
  async verify(md5: Md5): Promise<boolean> {
    const obj = this.objectPath(md5);
    const st = statSync(obj, { throwIfNoEntry: false });
    if (st === undefined) return false;
    const observedAt = Date.now();
    let actual: Md5;
    try {
      actual = isDirHash(md5) ? asMd5(`${md5Hex(await fs.readFile(obj))}.dir`) : await hashFile(obj, st.size);
    } catch (e) {
      throw this.unreadable(obj, e);
    }
    if (actual !== md5) {
      this.statCache.forgetFile(obj);
      this.sound.delete(md5);
      return false;
    }
    this.statCache.setFile(obj, st, md5, observedAt);
    this.markSound(md5, obj, st);
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
    let ok: boolean;
    try {
      ok = await this.verify(md5);
    } catch (e) {
      throw this.unreadable(obj, e, forPath);
    }
    if (!ok) throw this.corrupt(md5, forPath);
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
    let bytes: Buffer | undefined;
    try {
      bytes = readSmallFileSync(obj);
    } catch (e) {
      throw this.unreadable(obj, e, forPath);
    }
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
    this.sound.delete(md5);
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

  /** An object that exists but cannot be read (EACCES, EIO): one line naming it and the output. */
  unreadable(obj: string, e: unknown, forPath?: ForPath): LockstepError {
    if (e instanceof LockstepError) return e;
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const what = forPath === undefined ? '' : ` for '${typeof forPath === 'function' ? forPath() : forPath}'`;
    return new LockstepError(
      'unreadable-object',
      `cannot read cache object ${path.relative(this.root, obj)}${what}: ${code}`,
      `Check the permissions of ${obj} (lockstep needs to read the cache), or remove it and run lockstep pull or ` +
        `repro.`,
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

/** The first entry of a manifest that could write outside its folder or collide with another: `'p' (why)`. */
function unsafeManifestEntry(entries: readonly DirEntry[]): string | undefined {
  const files = new Set<string>();
  for (const e of entries) {
    const why = unsafeRelPath(e.relpath) ?? (e.relpath.endsWith('/') ? 'a trailing slash' : undefined);
    if (why) return `${showPath(e.relpath)} (${why})`;
    if (files.has(e.relpath)) return `${showPath(e.relpath)} (listed twice)`;
    files.add(e.relpath);
  }
  for (const f of files) {
    for (let i = f.indexOf('/'); i !== -1; i = f.indexOf('/', i + 1))
      if (files.has(f.slice(0, i))) return `${showPath(f)} (inside the file ${showPath(f.slice(0, i))})`;
  }
  return undefined;
}
