/**
 * The local content-addressed store in DVC 3's layout: `<root>/files/md5/ab/cdef…` (file objects)
 * and `…/ab/cdef….dir` (directory manifests). Objects are written to a temp sibling and renamed into
 * place, and made read-only (0444) because hardlinked or symlinked workspace files are the objects.
 */
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { hashFile, md5Hex } from '../hash/md5-file.js';
import { compareCodePoints, manifestJson } from '../hash/pyjson.js';
import { nowNs, statCacheFor, statKey, type StatCache } from '../hash/stat-cache.js';
import { asMd5, isDirHash, type DirEntry, type Md5 } from '../hash/types.js';
import { tempSibling, writeFileAtomic } from '../util/atomic.js';
import type { ObjectStore } from './types.js';

const OBJECT_NAME_RE = /^[0-9a-f]{30}(\.dir)?$/;
const HASH_RE = /^[0-9a-f]{32}(\.dir)?$/;
const READ_ONLY = 0o444;

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
  private readonly statCache: StatCache;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.statCache = statCacheFor(this.root);
  }

  objectPath(md5: Md5): string {
    if (!HASH_RE.test(md5)) throw new Error(`not an md5 object name: '${md5}'`);
    return path.join(this.root, 'files', 'md5', md5.slice(0, 2), md5.slice(2));
  }

  /** `files/md5/ab/cdef…`, for messages. */
  displayPath(md5: Md5): string {
    return `files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;
  }

  async has(md5: Md5): Promise<boolean> {
    try {
      await fs.access(this.objectPath(md5));
      return true;
    } catch {
      return false;
    }
  }

  async addFile(src: string, md5: Md5, opts: AddFileOptions = {}): Promise<void> {
    const obj = this.objectPath(md5);
    if (await this.has(md5)) return;
    await fs.mkdir(path.dirname(obj), { recursive: true });
    const tmp = tempSibling(obj);
    try {
      if (opts.hardlink) {
        await fs.link(src, tmp);
      } else if (opts.move) {
        try {
          await fs.rename(src, tmp);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
          await fs.copyFile(src, tmp, constants.COPYFILE_FICLONE);
          await fs.rm(src, { force: true });
        }
      } else {
        await fs.copyFile(src, tmp, opts.reflinkOnly ? constants.COPYFILE_FICLONE_FORCE : constants.COPYFILE_FICLONE);
      }
      await fs.chmod(tmp, READ_ONLY);
      await fs.rename(tmp, obj);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }

  async addManifest(entries: readonly DirEntry[]): Promise<Md5> {
    const sorted = [...entries].sort((a, b) => compareCodePoints(a.relpath, b.relpath));
    const bytes = manifestJson(sorted);
    const md5 = asMd5(`${md5Hex(bytes)}.dir`);
    if (!(await this.has(md5))) await writeFileAtomic(this.objectPath(md5), bytes, READ_ONLY);
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
    let st;
    try {
      st = await fs.stat(obj, { bigint: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    const observedAt = nowNs();
    const actual = isDirHash(md5) ? asMd5(`${md5Hex(await fs.readFile(obj))}.dir`) : await hashFile(obj, Number(st.size));
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
  async ensureVerified(md5: Md5, forPath: string): Promise<void> {
    await this.statCache.load();
    const obj = this.objectPath(md5);
    let st;
    try {
      st = await fs.stat(obj, { bigint: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw this.missing(md5, forPath);
      throw e;
    }
    if (this.statCache.getFile(obj, statKey(st)) === md5) return;
    if (!(await this.verify(md5))) throw this.corrupt(md5, forPath);
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

  missing(md5: Md5, forPath?: string): LockstepError {
    const what = forPath === undefined ? '' : ` for '${forPath}'`;
    return new LockstepError('missing-object', `cache object ${this.displayPath(md5)}${what} is missing`, 'Run lockstep pull or lockstep repro.');
  }

  corrupt(md5: Md5, forPath?: string): LockstepError {
    const what = forPath === undefined ? '' : ` for '${forPath}'`;
    return new LockstepError('corrupt-object', `cache object ${this.displayPath(md5)}${what} does not match its hash`, 'Remove it and run lockstep pull or repro.');
  }
}
