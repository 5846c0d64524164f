/**
 * Isolated experiment workspaces: a temporary folder holding the project's tracked files as they are
 * in the user's working tree (HEAD plus uncommitted changes to tracked files, which is what applying
 * `git diff HEAD` to a checkout of HEAD gives), without a .git and without outputs; repro restores
 * outputs from the shared cache. Copies use reflinks where the file system has them.
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { LOCAL_CONFIG_FILE } from '../project.js';
import type { Pipeline } from '../config/types.js';
import { type ProcessId, stillRunning, thisProcess } from '../util/process-id.js';
import { git } from './git.js';

export interface Workspace {
  dir: string;
  remove(): Promise<void>;
}

/** Tracked files of the project (paths relative to `root`, POSIX), from the index. */
export async function trackedFiles(root: string): Promise<string[]> {
  // run in `root`, ls-files lists only paths below it, relative to it
  return (await git(root, ['ls-files', '-z', '--cached'])).split('\0').filter(Boolean);
}

async function copyEntry(src: string, dst: string): Promise<void> {
  let st: Stats;
  try {
    st = await fs.lstat(src);
  } catch {
    return; // deleted in the working tree: the workspace mirrors that
  }
  if (st.isSymbolicLink()) {
    await fs.symlink(await fs.readlink(src), dst);
  } else if (st.isFile()) {
    await fs.copyFile(src, dst, constants.COPYFILE_FICLONE);
    await fs.chmod(dst, st.mode & 0o777);
  }
  // directories in the index are submodules (gitlinks): not part of the pipeline, skipped
}

/** Run `fn` over `items` with at most `width` in flight. */
async function eachLimited<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/**
 * Names the `exp run` that owns a workspace (pid, start time, host: see util/process-id.ts), so a later
 * run can sweep up after a crash without mistaking a reused pid for a live owner.
 */
const OWNER_FILE = '.lockstep-exp-owner';

function ownerAlive(text: string): boolean | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) return stillRunning({ pid: Number(t) }); // written by an older version
  try {
    const id = JSON.parse(t) as ProcessId;
    return typeof id?.pid === 'number' ? stillRunning(id) : null;
  } catch {
    return null;
  }
}

/**
 * Remove workspaces left by an `exp run` that was killed outright (SIGKILL, power loss): those whose
 * owner process is gone. Returns how many were removed.
 */
export async function removeStaleWorkspaces(parent = process.env.LOCKSTEP_EXP_TMPDIR ?? os.tmpdir()): Promise<number> {
  const entries = await fs.readdir(parent).catch(() => [] as string[]);
  let removed = 0;
  for (const e of entries) {
    if (!e.startsWith('lockstep-exp-')) continue;
    const owner = await fs.readFile(path.join(parent, e, OWNER_FILE), 'utf8').catch(() => null);
    if (owner === null) continue; // not ours, or still being created
    if (ownerAlive(owner) !== false) continue;
    await fs.rm(path.join(parent, e), { recursive: true, force: true }).catch(() => {});
    removed++;
  }
  return removed;
}

/** Past this many siblings, linking them all costs more than the rare `../` path it would serve. */
const MAX_SIBLINGS = 200;

/**
 * Make a workspace under `parent` (default the OS temp folder). `files` is the tracked file list,
 * passed in so a sweep lists it once. The workspace is `<temp>/<project folder name>` and the project's
 * sibling folders are symlinked beside it, so paths that climb out of the project one level (a dataset
 * in `../shared/…`, as params often name it) resolve as they do in the project.
 */
export async function createWorkspace(
  root: string,
  files: string[],
  opts: { links?: string[]; parent?: string } = {},
): Promise<Workspace> {
  const parent = opts.parent ?? process.env.LOCKSTEP_EXP_TMPDIR ?? os.tmpdir();
  await fs.mkdir(parent, { recursive: true });
  const outer = await fs.mkdtemp(path.join(parent, 'lockstep-exp-'));
  const name = path.basename(root) || 'project';
  const dir = path.join(outer, name);
  const ws: Workspace = { dir, remove: () => fs.rm(outer, { recursive: true, force: true, maxRetries: 3 }) };
  try {
    await fs.mkdir(dir);
    await fs.writeFile(path.join(outer, OWNER_FILE), JSON.stringify(thisProcess()));
    const up = path.dirname(root);
    // a project right in / or in the temp folder has no meaningful siblings
    const siblings =
      up === path.parse(up).root || up === os.tmpdir() ? [] : await fs.readdir(up).catch(() => [] as string[]);
    if (siblings.length <= MAX_SIBLINGS) {
      await Promise.all(
        siblings
          .filter((s) => s !== name)
          .map((s) => fs.symlink(path.join(path.dirname(root), s), path.join(outer, s)).catch(() => {})),
      );
    }
    const dirs = new Set<string>();
    for (const f of files) dirs.add(path.dirname(f));
    for (const d of [...dirs].sort()) if (d !== '.') await fs.mkdir(path.join(dir, d), { recursive: true });
    const all = [...files];
    // the git-ignored local config (cache type, remote credentials) belongs to the user's setup, not to HEAD
    if (!files.includes(LOCAL_CONFIG_FILE)) {
      try {
        await fs.access(path.join(root, LOCAL_CONFIG_FILE));
        await fs.mkdir(path.join(dir, path.dirname(LOCAL_CONFIG_FILE)), { recursive: true });
        all.push(LOCAL_CONFIG_FILE);
      } catch {
        // no local config
      }
    }
    await eachLimited(all, 32, (f) => copyEntry(path.join(root, f), path.join(dir, f)));
    for (const rel of opts.links ?? []) {
      await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fs.symlink(path.join(root, rel), path.join(dir, rel));
    }
    return ws;
  } catch (e) {
    await ws.remove();
    throw e;
  }
}

const deferred: Workspace[] = [];
const removals = new Set<Promise<void>>();

/**
 * Leave a workspace for later removal (a queue worker removes it after its job's pushes, which its
 * thousands of unlinks would otherwise queue behind in Node's thread pool); a process that dies first
 * leaves it to removeStaleWorkspaces, like any workspace of a dead owner.
 */
export function removeLater(ws: Workspace): void {
  deferred.push(ws);
}

/** Start removing the workspaces left by removeLater, without waiting. */
export function startDeferredRemovals(): void {
  for (const ws of deferred.splice(0)) {
    const p: Promise<void> = ws
      .remove()
      .catch(() => {})
      .finally(() => removals.delete(p));
    removals.add(p);
  }
}

/** Every workspace left by removeLater, removed. */
export async function deferredRemovals(): Promise<void> {
  startDeferredRemovals();
  await Promise.all([...removals]);
}

/** Untracked folders a workspace needs to run anything, e.g. the packages the stage programs import. */
export const DEFAULT_LINKS = ['node_modules', '.venv', 'venv'];

/**
 * The folders to symlink into workspaces: DEFAULT_LINKS plus the configured ones that exist, are not
 * tracked, and are neither the cache nor a stage output (a stage writing through a link would change
 * the user's files).
 */
export async function linkedFolders(
  root: string,
  pipeline: Pipeline,
  tracked: string[],
  cacheDir: string,
  extra: string[],
): Promise<string[]> {
  const outs = pipeline.stages.flatMap((s) => s.outs.map((o) => o.path));
  const links: string[] = [];
  for (const rel of [...new Set([...DEFAULT_LINKS, ...extra])]) {
    const clean = path.posix.normalize(rel).replace(/\/+$/, '');
    if (outside(clean) || clean === '.' || tracked.some((t) => isUnder(t, clean))) continue;
    if (outs.some((o) => isUnder(o, clean) || isUnder(clean, o))) continue;
    if (path.resolve(root, clean) === cacheDir) continue;
    const st = await fs.stat(path.join(root, clean)).catch(() => null);
    if (st?.isDirectory()) links.push(clean);
  }
  return links;
}

const isUnder = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);
const outside = (p: string): boolean => path.isAbsolute(p) || p === '..' || p.startsWith('../');

/**
 * The pipeline inputs an isolated workspace would lack: deps and params files that are neither
 * tracked by git, nor produced by a stage, nor under one of `dataSources` (paths of committed .dvc
 * files, checked out into the workspace from the cache). Returns `stage: path` strings, empty when all is well.
 */
export async function untrackedInputs(
  root: string,
  pipeline: Pipeline,
  tracked: string[],
  dataSources: readonly string[] = [],
): Promise<string[]> {
  const outs = [...pipeline.stages.flatMap((s) => s.outs.map((o) => o.path)), ...dataSources];
  const trackedSet = new Set(tracked);
  const candidates = new Map<string, string>(); // path -> stage
  for (const stage of pipeline.stages) {
    const inputs = [...stage.deps.map((d) => d.path), ...stage.params.map((p) => p.file)];
    for (const p of inputs) {
      if (outside(p) || candidates.has(p)) continue;
      if (outs.some((o) => isUnder(p, o))) continue; // produced by a stage
      candidates.set(p, stage.name);
    }
  }
  if (candidates.size === 0) return [];
  const problems: string[] = [];
  const pathspecs: string[] = [];
  for (const [p, stage] of candidates) {
    if (trackedSet.has(p)) continue;
    const exists = await fs.lstat(path.join(root, p)).then(
      (st) => st,
      () => null,
    );
    if (!exists) continue; // missing entirely: repro reports the missing dep with its own message
    if (exists.isDirectory()) {
      pathspecs.push(p); // tracked folder: look for untracked files inside
    } else {
      problems.push(`${stage}: ${p}`);
    }
  }
  if (pathspecs.length) {
    const others = (await git(root, ['ls-files', '-z', '--others', '--', ...pathspecs])).split('\0').filter(Boolean);
    for (const f of others) {
      if (outs.some((o) => isUnder(f, o))) continue;
      const dep = pathspecs.find((d) => isUnder(f, d)) as string;
      problems.push(`${candidates.get(dep)}: ${f}`);
    }
  }
  return problems;
}

export function untrackedError(problems: string[]): LockstepError {
  const shown = problems.slice(0, 5).join(', ');
  const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
  return new LockstepError(
    'exp',
    `the workspace cannot be reproduced in isolation: pipeline inputs are not tracked by git: ${shown}${more}`,
    '`git add` them (or make them outputs of a stage), then run the experiment again.',
  );
}
