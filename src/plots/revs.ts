/**
 * Where plot files are read from: the workspace, a git revision, or a recorded experiment. Files a
 * revision's commit does not hold (cached outputs) are read from the cache through that revision's
 * lock file, the way `checkout` would restore them. Read-only; nothing here writes.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LocalObjectStore } from '../cache/object-store.js';
import { LockstepError } from '../errors.js';
import { catFileBatch, gitMaybe } from '../exp/git.js';
import { resolveExperiment } from '../exp/records.js';
import { asMd5 } from '../hash/types.js';
import type { LockFile, LockedPath } from '../pipeline/lockfile-types.js';

export interface RevSource {
  /** What the charts call this run: 'workspace', the revision as given, or the experiment's name. */
  name: string;
  read(file: string): Promise<Buffer | null>;
  /** Files under a folder (repo-relative), or null when `dir` is not a folder there. */
  list(dir: string): Promise<string[] | null>;
}

/** Repo-relative and without `..`: a path read from a file (a manifest, a lock) is checked before use. */
function safeRelative(p: string): boolean {
  return !!p && !path.posix.isAbsolute(p) && !p.split('/').some((s) => s === '..' || s === '');
}

async function walk(abs: string, rel: string, out: string[]): Promise<void> {
  for (const e of await fs.readdir(abs, { withFileTypes: true })) {
    if (e.isDirectory()) await walk(path.join(abs, e.name), `${rel}/${e.name}`, out);
    else if (e.isFile() || e.isSymbolicLink()) out.push(`${rel}/${e.name}`);
  }
}

export function workspaceSource(root: string, name = 'workspace'): RevSource {
  return {
    name,
    async read(file) {
      if (!safeRelative(file)) return null;
      return fs.readFile(path.join(root, file)).catch(() => null);
    },
    async list(dir) {
      if (!safeRelative(dir)) return null;
      const st = await fs.stat(path.join(root, dir)).catch(() => null);
      if (!st?.isDirectory()) return null;
      const out: string[] = [];
      await walk(path.join(root, dir), dir, out);
      return out;
    },
  };
}

/** Outputs recorded in a lock file: path -> its hash entry. */
function lockedOuts(lock: LockFile | null): LockedPath[] {
  return Object.values(lock?.stages ?? {}).flatMap((s) => s.outs ?? []);
}

/** A commit's files, with cached outputs read from the cache through the outputs its locks record. */
function commitSource(
  root: string,
  prefix: string,
  cacheDir: string,
  name: string,
  sha: string,
  outs: LockedPath[],
): RevSource {
  const store = new LocalObjectStore(cacheDir);
  const readObject = async (md5: string) => {
    try {
      return await fs.readFile(store.objectPath(asMd5(md5)));
    } catch {
      return null; // a malformed hash in the lock, or an object this cache lacks: the plot is left out
    }
  };
  const dirOut = (p: string) =>
    outs.find((o) => o.md5.endsWith('.dir') && (p === o.path || p.startsWith(`${o.path}/`)));
  const manifest = async (o: LockedPath) => {
    try {
      return (await store.readManifest(asMd5(o.md5))).filter((e) => safeRelative(e.relpath));
    } catch {
      return null; // not in this cache: the plot of this revision is left out, not failed
    }
  };
  return {
    name,
    async read(file) {
      if (!safeRelative(file)) return null;
      const [blob] = await catFileBatch(root, [`${sha}:${prefix}${file}`]);
      if (blob?.type === 'blob') return Buffer.from(blob.content);
      const out = outs.find((o) => o.path === file && !o.md5.endsWith('.dir'));
      if (out) return readObject(out.md5);
      const d = dirOut(file);
      if (!d) return null;
      const rel = file.slice(d.path.length + 1);
      const entry = (await manifest(d))?.find((e) => e.relpath === rel);
      return entry ? readObject(entry.md5) : null;
    },
    async list(dir) {
      if (!safeRelative(dir)) return null;
      const listed = await gitMaybe(root, ['ls-tree', '-r', '-z', '--name-only', sha, '--', dir]);
      const inGit = (listed ?? '')
        .split('\0')
        .filter((f) => f.startsWith(`${dir}/`))
        .filter(safeRelative);
      const d = dirOut(dir);
      const inCache = d ? ((await manifest(d)) ?? []).map((e) => `${d.path}/${e.relpath}`) : [];
      const all = [...new Set([...inGit, ...inCache])].filter((f) => f.startsWith(`${dir}/`));
      return all.length || d ? all : null;
    },
  };
}

const LOCK_NAMES = new Set(['pipeline.lock', 'dvc.lock']);

/**
 * The outputs every lock file of a commit records (the root pipeline's and each sub-pipeline's, at any depth
 * under the project's folder), their paths made project-relative; null when the commit holds no lock file.
 * A lock that does not parse, or a path that leaves the project, is left out: its plots are not drawn.
 */
async function lockedOutsAt(root: string, prefix: string, sha: string): Promise<LockedPath[] | null> {
  // run in the project's folder, ls-tree lists only what lies under it, relative to it
  const listing = (await gitMaybe(root, ['ls-tree', '-r', '-z', '--name-only', sha])) ?? '';
  const files = listing.split('\0').filter((p) => safeRelative(p) && LOCK_NAMES.has(path.posix.basename(p)));
  if (files.length === 0) return null;
  const blobs = await catFileBatch(
    root,
    files.map((f) => `${sha}:${prefix}${f}`),
  );
  const outs: LockedPath[] = [];
  files.forEach((file, i) => {
    const blob = blobs[i];
    if (blob?.type !== 'blob') return;
    let lock: LockFile | null;
    try {
      lock = (YAML.parse(blob.content.toString('utf8')) as LockFile | null) ?? null;
    } catch {
      return;
    }
    const dir = path.posix.dirname(file);
    for (const o of lockedOuts(lock)) {
      if (typeof o?.path !== 'string' || typeof o.md5 !== 'string') continue;
      const rel = path.posix.normalize(dir === '.' ? o.path : `${dir}/${o.path}`);
      if (safeRelative(rel)) outs.push({ ...o, path: rel });
    }
  });
  return outs;
}

/**
 * One source per name: 'workspace', a git revision (branch, tag, sha, HEAD~1), or an experiment
 * name (or sha prefix) recorded under refs/exps.
 */
export async function openSources(root: string, cacheDir: string, names: string[]): Promise<RevSource[]> {
  const out: RevSource[] = [];
  let prefixOnce: Promise<string> | undefined;
  const prefix = () => {
    prefixOnce ??= gitMaybe(root, ['rev-parse', '--show-prefix']).then((p) => p?.trim() ?? '');
    return prefixOnce;
  };
  for (const name of names) {
    if (name === 'workspace') {
      out.push(workspaceSource(root));
      continue;
    }
    const sha = (await gitMaybe(root, ['rev-parse', '--verify', '--quiet', `${name}^{commit}`]))?.trim();
    if (sha) {
      const pre = await prefix();
      out.push(commitSource(root, pre, cacheDir, name, sha, (await lockedOutsAt(root, pre, sha)) ?? []));
      continue;
    }
    let exp: Awaited<ReturnType<typeof resolveExperiment>>;
    try {
      exp = await resolveExperiment(root, name);
    } catch (e) {
      if (e instanceof LockstepError && /no experiment named/.test(e.message)) {
        throw new LockstepError(
          'usage',
          `'${name}' is neither a git revision nor an experiment of ${root}`,
          'Give a branch, tag, commit or experiment name (`lockstep exp list --all-commits`).',
        );
      }
      throw e;
    }
    // the record's tree holds every lock file; an older record without them still carries the root's copy
    const pre = await prefix();
    const outs = (await lockedOutsAt(root, pre, exp.sha)) ?? lockedOuts(exp.lock).filter((o) => safeRelative(o.path));
    out.push(commitSource(root, pre, cacheDir, exp.name, exp.sha, outs));
  }
  return out;
}
