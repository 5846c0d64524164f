/**
 * `.dvc` files (DVC's data tracking files), read and written in DVC 3's format:
 *
 *   outs:
 *   - md5: 586af5f0e07a69419d4f36873b206b22.dir
 *     size: 8
 *     nfiles: 2
 *     hash: md5
 *     path: raw
 *
 * `path` is relative to the .dvc file's folder; in memory paths are repo-relative POSIX.
 */
import path from 'node:path';
import { load, YAMLException } from 'js-yaml';
import { LockstepError } from '../errors.js';
import { LOCK_FILES, PIPELINE_FILES } from '../project.js';
import { controlPathClash, projectControlPaths, showPath, unsafeRelPath } from '../util/safe-path.js';
import { isMd5, type Md5 } from '../hash/types.js';
import { dumpRuamel } from '../util/ruamel-yaml.js';

export interface DvcOut {
  /** Repo-relative POSIX path of the tracked data. */
  path: string;
  /** Absent when the data was never added (a .dvc file written by hand, or `dvc add --no-commit`). */
  md5?: Md5;
  size?: number;
  nfiles?: number;
  cache: boolean;
  push: boolean;
  remote?: string;
}

export interface DvcFile {
  /** Repo-relative path of the .dvc file (`data/raw.dvc`). */
  file: string;
  outs: DvcOut[];
  /** Fields lockstep does not interpret (md5 of the file, deps of `import`, meta, desc …), kept when rewriting. */
  extra: Record<string, unknown>;
}

const bad = (file: string, why: string) =>
  new LockstepError('config', `${file}: ${why}`, 'Fix the .dvc file, or remove it and run lockstep add again.');

/** Parse a .dvc file's text; `file` is its repo-relative path. Paths outside the repository are refused. */
export function parseDvcFile(file: string, text: string): DvcFile {
  let data: unknown;
  try {
    data = load(text);
  } catch (e) {
    throw bad(file, e instanceof YAMLException ? e.reason : (e as Error).message);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw bad(file, 'not a mapping');
  const { outs, ...extra } = data as Record<string, unknown>;
  if (!Array.isArray(outs) || outs.length === 0) throw bad(file, "no 'outs' list");
  const dir = path.posix.dirname(file);
  const parsed: DvcOut[] = outs.map((o, i) => {
    if (typeof o !== 'object' || o === null) throw bad(file, `outs[${i}] is not a mapping`);
    const r = o as Record<string, unknown>;
    if (typeof r.path !== 'string' || !r.path) throw bad(file, `outs[${i}] has no path`);
    if (path.posix.isAbsolute(r.path) || /^[a-z][a-z0-9+.-]*:\/\//i.test(r.path))
      throw bad(file, `outs[${i}]: external data ('${r.path}') is not supported`);
    const rel = path.posix.normalize(path.posix.join(dir, r.path));
    if (rel === '..' || rel.startsWith('../') || rel === '.')
      throw new LockstepError(
        'path-outside',
        `${file}: outs[${i}] path '${r.path}' is outside the repository`,
        'Track only data inside the repository.',
      );
    // A .dvc file is committed and shared: its path may not hold NUL, go through .git, or name lockstep's files.
    const why =
      unsafeRelPath(rel) ??
      controlPathClash(
        rel,
        projectControlPaths({
          pipelineFiles: PIPELINE_FILES,
          lockFiles: Object.values(LOCK_FILES),
          cacheDirs: ['.cache'],
        }),
      );
    if (why) throw bad(file, `outs[${i}] path ${showPath(r.path)} is unsafe (${why})`);
    const md5 = typeof r.md5 === 'string' ? r.md5 : undefined;
    if (md5 !== undefined && !isMd5(md5)) throw bad(file, `outs[${i}] md5 '${md5}' is not an md5`);
    const out: DvcOut = { path: rel, cache: r.cache !== false, push: r.push !== false };
    if (md5) out.md5 = md5 as Md5;
    if (typeof r.size === 'number') out.size = r.size;
    if (typeof r.nfiles === 'number') out.nfiles = r.nfiles;
    if (typeof r.remote === 'string') out.remote = r.remote;
    return out;
  });
  return { file, outs: parsed, extra };
}

/** The text DVC writes for a .dvc file: keys md5, size, nfiles, hash, path (and the flags it had). */
export function serializeDvcFile(f: DvcFile): string {
  const dir = path.posix.dirname(f.file);
  const outs = f.outs.map((o) => {
    const r: Record<string, unknown> = {};
    if (o.md5) r.md5 = o.md5;
    if (o.size !== undefined) r.size = o.size;
    if (o.nfiles !== undefined) r.nfiles = o.nfiles;
    if (o.md5) r.hash = 'md5';
    r.path = path.posix.relative(dir, o.path);
    if (!o.cache) r.cache = false;
    if (!o.push) r.push = false;
    if (o.remote) r.remote = o.remote;
    return r;
  });
  return dumpRuamel({ outs, ...f.extra });
}
