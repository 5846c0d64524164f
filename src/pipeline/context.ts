import path from 'node:path';
import { existsSync } from 'node:fs';
import { ParamsCache, loadPipeline, pipelineWalkReads } from '../config/index.js';
import type { Pipeline } from '../config/types.js';
import { openHasher, type Hasher } from '../hash/index.js';
import { type LocalObjectStore, openObjectStore } from '../cache/index.js';
import { findProjectRoot, openProject, type OpenProjectOptions, type Project } from '../project.js';
import { ignoreProjectFiles } from './gitignore.js';
import { acquireRepoLock, type LockHolder } from './repo-lock.js';
import { buildGraph, type Graph } from './graph.js';
import type { LockFile } from './lockfile.js';
import { lockTargets, readProjectLock, type LockTarget } from './lock-set.js';
import { collectDvcFiles, dvcWalkReads } from '../dvcfile/collect.js';
import type { DvcFile } from '../dvcfile/format.js';
import { DirListings } from '../util/dir-listings.js';
import { resolveUnder } from '../util/normal-path.js';

/** Everything a verb needs about one workspace, loaded once. */
export interface Workspace {
  project: Project;
  pipeline: Pipeline;
  graph: Graph;
  /** The root pipeline's lock file (absolute). */
  lockPath: string;
  /** Every pipeline file's lock (the root's first); `lock` merges them, keyed by stage address. */
  lockTargets: LockTarget[];
  lock: LockFile;
  /** Where the command was run, repo-relative ('.' at the root): stage targets are read relative to it. */
  cwd: string;
  hasher: Hasher;
  store: LocalObjectStore;
  /** Params files read once per command; cleared after a stage runs (it may write one). */
  params: ParamsCache;
  /** Data tracked outside the pipeline by `.dvc` files (`lockstep add`, or a DVC repository's). */
  dvcFiles: DvcFile[];
}

export async function openWorkspace(cwd: string = process.cwd(), opts: OpenProjectOptions = {}): Promise<Workspace> {
  const project = await openProject(cwd, opts);
  // Both walks below list every folder that is not an output: each folder is read once, and a big one
  // whose stamp is unchanged since an earlier command not at all (what both walks read of it is kept).
  const listings = new DirListings({
    file: path.join(project.cacheDir, 'tmp', 'listings.json'),
    keep: (name, kind) => pipelineWalkReads(name, kind) || dvcWalkReads(name, kind),
  });
  const pipeline = await loadPipeline(project.root, { cacheDir: project.cacheDir, listings });
  const graph = buildGraph(pipeline.stages);
  if (!graph.ok) throw graph.error;
  const targets = lockTargets(pipeline);
  // Stage outputs are data folders: never searched for .dvc files.
  const outDirs = pipeline.stages.flatMap((s) => s.outs.map((o) => o.path));
  const [lock, hasher, dvcFiles] = await Promise.all([
    readProjectLock(project.root, pipeline, pipeline.stages, project.cacheDir),
    openHasher(project.cacheDir),
    collectDvcFiles(project.root, outDirs, listings),
  ]);
  await listings.close();
  const rel = path.relative(project.root, path.resolve(cwd)).split(path.sep).join('/');
  return {
    project,
    pipeline,
    graph: graph.value,
    lockPath: path.join(project.root, targets[0]!.lockFile),
    lockTargets: targets,
    lock,
    cwd: rel && !rel.startsWith('..') ? rel : '.',
    hasher,
    store: openObjectStore(project.cacheDir),
    params: new ParamsCache(project.root),
    dvcFiles,
  };
}

/** The stages that run in a wdir other than the root: their lock entries are written relative to it. */
export function stageWdirs(graph: Graph): Map<string, string> {
  return new Map(graph.stages.filter((s) => s.wdir !== '.').map((s) => [s.name, s.wdir]));
}

export function absPath(ws: Workspace, rel: string): string {
  return resolveUnder(ws.project.root, rel);
}

export function exists(ws: Workspace, rel: string): boolean {
  return existsSync(absPath(ws, rel));
}

/**
 * Take the repository lock first, then read the workspace, so what we read (the lock file above all)
 * cannot change under us. `lock: null` for read-only commands.
 */
export async function openLockedWorkspace(
  lock: { command: string; waitMs: number; onWait?: (holder: LockHolder) => void } | null,
  cwd: string = process.cwd(),
  opts: OpenProjectOptions = {},
): Promise<{ ws: Workspace; release: () => Promise<void> }> {
  if (!lock) return { ws: await openWorkspace(cwd, opts), release: async () => {} };
  const release = await acquireRepoLock(findProjectRoot(cwd), lock);
  try {
    const ws = await openWorkspace(cwd, opts);
    await ignoreProjectFiles(ws.project.root, ws.project.cacheDir);
    return { ws, release };
  } catch (e) {
    await release();
    throw e;
  }
}
