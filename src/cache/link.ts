/**
 * Placing cache objects in the workspace with the first link type that works.
 *
 * reflink and copy give the workspace an independent, writable file. hardlink and symlink make the
 * workspace file BE the cache object, which is read-only (0444): editing it in place fails for a
 * normal user, and for root (who ignores permissions) the edit would change the object, which the
 * next checkout detects as a corrupt object (its stat no longer matches the verified mark). Like
 * DVC's `unprotect`, `unprotectOutput` turns linked files back into independent copies before editing.
 */
import { constants, promises as fs } from 'node:fs';
import type { LinkType } from './types.js';
import { tempSibling } from '../util/atomic.js';

/** Errors meaning "this link type does not work here", as opposed to real failures (ENOENT, ENOSPC). */
const UNSUPPORTED = new Set(['EXDEV', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EPERM', 'EMLINK', 'EINVAL', 'ENOTTY', 'EACCES']);

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
 * not each retry a reflink that the file system cannot do. Safe with concurrent attempts.
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

  async run<T>(attempt: (type: LinkType) => Promise<T>): Promise<T> {
    for (let i = this.index; ; ) {
      const type = this.types[i] as LinkType;
      try {
        return await attempt(type);
      } catch (e) {
        if (i >= this.types.length - 1 || !isUnsupported(e)) throw e;
        if (this.index === i) this.index = i + 1;
        i = Math.max(i + 1, this.index);
      }
    }
  }
}

/** Create `dst` (which must not exist) from the object `obj` with one link type. */
export async function placeObject(type: LinkType, obj: string, dst: string): Promise<void> {
  switch (type) {
    case 'reflink':
      await fs.copyFile(obj, dst, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
      await fs.chmod(dst, WRITABLE_MODE);
      return;
    case 'copy':
      await fs.copyFile(obj, dst, constants.COPYFILE_EXCL);
      await fs.chmod(dst, WRITABLE_MODE);
      return;
    case 'hardlink':
      await fs.link(obj, dst);
      return;
    case 'symlink':
      await fs.symlink(obj, dst);
      return;
  }
}

/** Replace whatever file is at `dst` with the object, atomically (temp sibling + rename). */
export async function replaceWithObject(type: LinkType, obj: string, dst: string): Promise<void> {
  const tmp = tempSibling(dst);
  try {
    await placeObject(type, obj, tmp);
    await fs.rename(tmp, dst);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** True when `abs` is a symlink, or a hardlink of `obj` (so editing it would edit the cache). */
export async function isLinkedTo(abs: string, obj: string): Promise<boolean> {
  const st = await fs.lstat(abs);
  if (st.isSymbolicLink()) return true;
  if (st.nlink < 2) return false;
  const o = await fs.stat(obj).catch(() => undefined);
  return o !== undefined && o.ino === st.ino && o.dev === st.dev;
}

/** Turn a hardlinked or symlinked file into an independent writable copy of its content. */
export async function unprotectFile(abs: string): Promise<boolean> {
  const st = await fs.lstat(abs);
  if (!st.isSymbolicLink() && st.nlink < 2) return false;
  const tmp = tempSibling(abs);
  try {
    await fs.copyFile(abs, tmp); // follows a symlink to its target
    await fs.chmod(tmp, WRITABLE_MODE);
    await fs.rename(tmp, abs);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  return true;
}
