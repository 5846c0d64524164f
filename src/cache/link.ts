/**
 * Placing cache objects in the workspace with the first link type that works.
 *
 * reflink and copy give the workspace an independent, writable file. hardlink and symlink make the
 * workspace file BE the cache object, which is read-only (0444): editing it in place fails for a
 * normal user, and for root (who ignores permissions) the edit would change the object, which the
 * next checkout detects as a corrupt object (its stat no longer matches the verified mark). Like
 * DVC's `unprotect`, `unprotectOutput` turns linked files back into independent copies before editing.
 *
 * Synchronous file operations, as in object-store.ts: callers run them in batches.
 */
import {
  chmodSync,
  constants,
  copyFileSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import type { LinkType } from './types.js';
import { tempSibling } from '../util/atomic.js';

/** Errors meaning "this link type does not work here", as opposed to real failures (ENOENT, ENOSPC). */
const UNSUPPORTED = new Set([
  'EXDEV',
  'ENOTSUP',
  'EOPNOTSUPP',
  'ENOSYS',
  'EPERM',
  'EMLINK',
  'EINVAL',
  'ENOTTY',
  'EACCES',
]);

export const isUnsupported = (e: unknown): boolean => UNSUPPORTED.has((e as NodeJS.ErrnoException).code ?? '');

// process.umask() without an argument is deprecated; set-and-restore is the supported way to read it.
const umask = (() => {
  const m = process.umask(0o022);
  process.umask(m);
  return m;
})();
export const WRITABLE_MODE = 0o666 & ~umask;

/**
 * Tries link types in the configured order and remembers the first that worked, so 60,000 files do
 * not each retry a reflink that the file system cannot do.
 */
export class LinkPlanner {
  private index = 0;
  readonly types: readonly LinkType[];

  constructor(types: readonly LinkType[]) {
    this.types = types.length > 0 ? types : ['copy'];
  }

  /** The type that will be tried first. */
  get current(): LinkType {
    return this.types[Math.min(this.index, this.types.length - 1)] as LinkType;
  }

  /** Throws LockstepError('config') when even the last configured type cannot work here. */
  run<T>(attempt: (type: LinkType) => T): T {
    for (;;) {
      const type = this.types[this.index] as LinkType;
      try {
        return attempt(type);
      } catch (e) {
        if (!isUnsupported(e)) throw e;
        if (this.index >= this.types.length - 1) {
          const code = (e as NodeJS.ErrnoException).code ?? 'error';
          throw new LockstepError(
            'config',
            `no configured cache link type works here (cache.type ${this.types.join(',')}; ${type} failed with ` +
              `${code})`,
            'Add copy to cache.type in .lockstep/config.yaml, or put the cache on the same file system.',
          );
        }
        this.index++;
      }
    }
  }
}

const reflinkProbes = new Map<string, boolean>();

/**
 * Can files at `workspacePath` be reflinked to and from the cache? Only on one file system that
 * supports it; probed once per cache (a tiny clone inside `<cacheDir>/tmp`), so that commit and
 * checkout can plan for copies up front instead of failing 60,000 reflinks.
 */
export function reflinkPossible(cacheDir: string, workspacePath: string): boolean {
  mkdirSync(cacheDir, { recursive: true });
  const cacheDev = statSync(cacheDir, { throwIfNoEntry: false })?.dev;
  let probe = workspacePath;
  let wsDev: number | undefined;
  while (wsDev === undefined) {
    wsDev = statSync(probe, { throwIfNoEntry: false })?.dev;
    const parent = path.dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  if (cacheDev === undefined || cacheDev !== wsDev) return false;
  let known = reflinkProbes.get(cacheDir);
  if (known === undefined) {
    const dir = path.join(cacheDir, 'tmp');
    const a = path.join(dir, `.reflink-probe-${process.pid}-a`);
    const b = path.join(dir, `.reflink-probe-${process.pid}-b`);
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(a, 'probe');
      copyFileSync(a, b, constants.COPYFILE_FICLONE_FORCE);
      known = true;
    } catch {
      known = false;
    } finally {
      rmSync(a, { force: true });
      rmSync(b, { force: true });
    }
    reflinkProbes.set(cacheDir, known);
  }
  return known;
}

/** The configured link types minus reflink where it cannot work (see reflinkPossible). */
export function usableLinkTypes(types: readonly LinkType[], cacheDir: string, workspacePath: string): LinkType[] {
  if (!types.includes('reflink') || types.length === 1) return [...types];
  return reflinkPossible(cacheDir, workspacePath) ? [...types] : types.filter((t) => t !== 'reflink');
}

/** Create `dst` (which must not exist) from the object `obj` with one link type. */
export function placeObject(type: LinkType, obj: string, dst: string): void {
  switch (type) {
    case 'reflink':
      copyFileSync(obj, dst, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
      chmodSync(dst, WRITABLE_MODE);
      return;
    case 'copy':
      copyFileSync(obj, dst, constants.COPYFILE_EXCL);
      chmodSync(dst, WRITABLE_MODE);
      return;
    case 'hardlink':
      linkSync(obj, dst);
      return;
    case 'symlink':
      symlinkSync(obj, dst);
      return;
  }
}

/** Create `dst` (which must not exist) holding `bytes`, writable: a copy without re-reading the object. */
export function writeCopy(bytes: Uint8Array, dst: string): void {
  writeFileSync(dst, bytes, { flag: 'wx', mode: WRITABLE_MODE });
}

/**
 * Put a file at `dst` with `create`, atomically replacing what is there when `exists`. A new file is
 * created in place (exclusively: `create` fails with EEXIST rather than overwrite), and removed again
 * if creating it fails half-way (a full disk), so no partial file is left under an output's name.
 */
export function placeAt(dst: string, exists: boolean, create: (target: string) => void): void {
  if (!exists) {
    try {
      create(dst);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') rmSync(dst, { force: true });
      throw e;
    }
    return;
  }
  const tmp = tempSibling(dst);
  try {
    create(tmp);
    renameSync(tmp, dst);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** True when `abs` is a symlink to `obj` or a hardlink of it (so editing it would edit the cache). */
export function isLinkedTo(abs: string, obj: string): boolean {
  const st = lstatSync(abs);
  if (st.isSymbolicLink()) return readlinkSync(abs) === obj;
  if (st.nlink < 2) return false;
  const o = statSync(obj, { throwIfNoEntry: false });
  return o !== undefined && o.ino === st.ino && o.dev === st.dev;
}

/** Turn a hardlinked or symlinked file into an independent writable copy of its content. */
export function unprotectFile(abs: string): boolean {
  const st = lstatSync(abs);
  if (!st.isSymbolicLink() && st.nlink < 2) return false;
  placeAt(abs, true, (tmp) => {
    copyFileSync(abs, tmp); // follows a symlink to its target
    chmodSync(tmp, WRITABLE_MODE);
  });
  return true;
}
