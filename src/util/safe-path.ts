/**
 * Every path read from a file (pipeline, lock, `.dir` manifest, run-cache entry, remote listing) is
 * untrusted until checked here. Paths are repo-relative POSIX strings; "the project" is always a
 * root passed in by the caller, so a pipeline in a subfolder checks against its own root.
 *
 * - unsafeRelPath: the lexical rules (no absolute path, no `..`/`.`/empty segment, no NUL, no
 *   `.git` segment, no name over 255 bytes);
 * - controlPathClash: a path that is, holds or lies in one of the project's own files;
 * - RealPaths: where a path really lands once symlinked folders are followed.
 */
import { lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { LockstepError, type FailureReason } from '../errors.js';

/** The longest file name most file systems accept, in bytes. */
const NAME_MAX = 255;

/**
 * Paths that pass every rule below at a glance (most of them: `data/train/cat/0001.png`): segments of letters,
 * digits, `_`, `-` and `.` that do not start with a dot, at most 255 characters in all (so no name is longer).
 */
const PLAIN_RE = /^[\w-][\w.-]*(?:\/[\w-][\w.-]*)*\/?$/;

/** Why `p` is not a safe repo-relative POSIX path (a few words), or undefined when it is safe. */
export function unsafeRelPath(p: unknown): string | undefined {
  if (typeof p === 'string' && p.length <= NAME_MAX && PLAIN_RE.test(p)) return undefined;
  if (typeof p !== 'string') return `not a path string (${p === null ? 'null' : typeof p})`;
  if (p === '') return 'an empty path';
  if (p.includes('\0')) return 'a NUL byte';
  if (p.startsWith('/') || p.startsWith('\\') || /^[a-z]:/i.test(p)) return 'an absolute path';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) return 'a URL';
  if (path.sep === '\\' && p.includes('\\')) return 'a backslash';
  // One trailing slash (a folder written as `data/`) is harmless; anything else empty is not.
  const parts = (p.endsWith('/') ? p.slice(0, -1) : p).split('/');
  for (const part of parts) {
    if (part === '') return 'an empty path segment';
    if (part === '..') return "a '..' segment";
    if (part === '.') return "a '.' segment";
    if (part.toLowerCase() === '.git') return "a '.git' segment";
    if (Buffer.byteLength(part) > NAME_MAX) return `a name longer than ${NAME_MAX} bytes`;
  }
  return undefined;
}

/** Show a hostile path in a message without printing control characters (NUL, escapes, newlines). */
export function showPath(p: unknown): string {
  const s = typeof p === 'string' ? p : String(p);
  const shown = JSON.stringify(s.length > 120 ? `${s.slice(0, 117)}...` : s);
  return `'${shown.slice(1, -1).replaceAll("'", "\\'")}'`;
}

/**
 * Throws when `p` is unsafe: `${where}: unsafe path 'p' (why)`. `where` names the file the path came
 * from (`pipeline.lock: stage 'train' outs[0]`, `cache object files/md5/ab/cd….dir`).
 */
export function assertSafeRelPath(p: unknown, where: string, reason: FailureReason, hint: string): asserts p is string {
  const why = unsafeRelPath(p);
  if (why) throw new LockstepError(reason, `${where}: unsafe path ${showPath(p)} (${why})`, hint);
}

/** A stage path (after wdir) that stays inside the root: normalized, relative, POSIX. */
export function isInsideRel(rel: string): boolean {
  return rel !== '..' && !rel.startsWith('../') && !path.posix.isAbsolute(rel);
}

/** The project's own files and folders, repo-relative; an output may not be, hold or lie in any of them. */
export interface ControlPaths {
  /** Folders (anything inside them is theirs too): `.lockstep`, the cache folder, `.dvc`. */
  dirs: string[];
  /** Files: pipeline files, lock files, params files. */
  files: string[];
}

export function projectControlPaths(opts: {
  /** Where the pipeline file lives, repo-relative ('.' for the root). */
  pipelineDir?: string;
  pipelineFiles: readonly string[];
  lockFiles: readonly string[];
  /** The cache folder, repo-relative when it lies inside the root (else ignored). */
  cacheDirs?: readonly string[];
  paramsFiles?: Iterable<string>;
}): ControlPaths {
  const at = (p: string) => (!opts.pipelineDir || opts.pipelineDir === '.' ? p : `${opts.pipelineDir}/${p}`);
  const dirs = ['.lockstep', '.dvc', ...(opts.cacheDirs ?? [])].filter((d) => d && d !== '.' && isInsideRel(d));
  const files = [...opts.pipelineFiles.map(at), ...opts.lockFiles.map(at), ...(opts.paramsFiles ?? [])];
  return { dirs: [...new Set(dirs)], files: [...new Set(files)] };
}

/** A `.git` segment, in any case. */
const GIT_SEGMENT_RE = /(?:^|\/)\.git(?:\/|$)/i;
const GIT_LAST_RE = /(?:^|\/)\.git$/i;

const under = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}/`);

/**
 * How `rel` (a repo-relative output) collides with the project's control paths, as words for a
 * message ("is the lock file 'pipeline.lock'", "lies inside '.git'", "contains 'params.yaml'"), or
 * undefined when it does not.
 */
export function controlPathClash(rel: string, controls: ControlPaths): string | undefined {
  if (GIT_SEGMENT_RE.test(rel)) return GIT_LAST_RE.test(rel) ? "is git's folder '.git'" : "lies inside '.git'";
  for (const d of controls.dirs) {
    if (rel === d) return `is the project's folder '${d}'`;
    if (under(rel, d)) return `lies inside the project's folder '${d}'`;
    if (under(d, rel)) return `contains the project's folder '${d}'`;
  }
  for (const f of controls.files) {
    if (rel === f) return `is the project's file '${f}'`;
    if (under(f, rel)) return `contains the project's file '${f}'`;
  }
  return undefined;
}

export type RealPath =
  | { inside: true /** repo-relative path once symlinks are followed */; real: string }
  | { inside: false /** the symlink (repo-relative) through which it leaves */; via: string; real: string };

/**
 * Follows symlinked folders on the way to repo-relative paths, with lstat results shared between
 * calls (outputs of one folder cost one lstat per folder). `self` also follows the last component
 * (for inputs; an output may itself be a link into the cache). Missing folders end the walk: nothing
 * below them can be a link yet.
 */
export class RealPaths {
  private readonly realRoot: string | undefined;
  /** Repo-relative prefix -> its real repo-relative path, or an escape, or null when missing. */
  private readonly memo = new Map<string, RealPath | null>();

  constructor(
    readonly root: string,
    /** Real folders outside the root that a final link may point into (the cache). */
    private readonly allowed: readonly string[] = [],
  ) {
    try {
      this.realRoot = realpathSync.native(root);
    } catch {
      this.realRoot = undefined;
    }
  }

  resolve(rel: string, self: boolean): RealPath {
    if (!this.realRoot) return { inside: true, real: rel };
    const parts = rel.split('/');
    const upto = self ? parts.length : parts.length - 1;
    let known: RealPath = { inside: true, real: '' };
    let i = 0;
    for (; i < upto; i++) {
      const prefix = parts.slice(0, i + 1).join('/');
      const r = this.prefix(prefix, known);
      if (r === null) break;
      known = r;
      if (!r.inside) {
        if (i === parts.length - 1 && this.allowed.some((a) => under(r.real, a))) known = { inside: true, real: rel };
        return known;
      }
    }
    const rest = parts.slice(i);
    const real = known.inside ? [known.real, ...rest].filter(Boolean).join('/') : rel;
    return { inside: true, real };
  }

  private prefix(prefix: string, parent: RealPath): RealPath | null {
    const hit = this.memo.get(prefix);
    if (hit !== undefined) return hit;
    // `prefix` is a normalized repo-relative path (no `.`, `..` or empty segment): no path.join needed
    const abs = `${this.root}${path.sep}${prefix}`;
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(abs, { throwIfNoEntry: false });
    } catch (e) {
      // a file where a folder of the path should be: the path does not exist (as ENOENT)
      if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
    }
    let r: RealPath | null;
    if (!st) r = null;
    else if (!st.isSymbolicLink()) {
      const name = prefix.slice(prefix.lastIndexOf('/') + 1);
      r = parent.inside ? { inside: true, real: parent.real ? `${parent.real}/${name}` : name } : parent;
    } else {
      let real: string | undefined;
      try {
        real = realpathSync.native(abs);
      } catch {
        real = undefined; // dangling: writing through it fails later, reading finds nothing
      }
      if (real === undefined) r = null;
      else {
        const relReal = path.relative(this.realRoot as string, real);
        r =
          relReal === '' || !isInsideRel(relReal.split(path.sep).join('/'))
            ? relReal === ''
              ? { inside: true, real: '' }
              : { inside: false, via: prefix, real }
            : { inside: true, real: relReal.split(path.sep).join('/') };
      }
    }
    this.memo.set(prefix, r);
    return r;
  }
}
