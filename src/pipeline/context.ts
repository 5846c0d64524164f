import path from 'node:path';
import { existsSync } from 'node:fs';
import { ParamsCache, loadPipeline } from '../config/index.js';
import type { Pipeline } from '../config/types.js';
import { openHasher, type Hasher } from '../hash/index.js';
import { type LocalObjectStore, openObjectStore } from '../cache/index.js';
import { LOCK_FILES, findProjectRoot, openProject, type Project } from '../project.js';
import { ignoreProjectFiles } from './gitignore.js';
import { acquireRepoLock, type LockHolder } from './repo-lock.js';
import { buildGraph, type Graph } from './graph.js';
import { lockToRepoPaths, readLockFile, type LockFile } from './lockfile.js';
import { collectDvcFiles } from '../dvcfile/collect.js';
import type { DvcFile } from '../dvcfile/format.js';

/** Everything a verb needs about one workspace, loaded once. */
export interface Workspace {
  project: Project;
  pipeline: Pipeline;
  graph: Graph;
  lockPath: string;
  lock: LockFile;
  hasher: Hasher;
  store: LocalObjectStore;
  /** Params files read once per command; cleared after a stage runs (it may write one). */
  params: ParamsCache;
  /** Data tracked outside the pipeline by `.dvc` files (`lockstep add`, or a DVC repository's). */
  dvcFiles: DvcFile[];
}

export async function openWorkspace(cwd: string = process.cwd()): Promise<Workspace> {
  const project = await openProject(cwd);
  const pipeline = await loadPipeline(project.root, { cacheDir: project.cacheDir });
  const graph = buildGraph(pipeline.stages);
  if (!graph.ok) throw graph.error;
  const lockPath = path.join(project.root, LOCK_FILES[pipeline.file] ?? 'pipeline.lock');
  // Stage outputs are data folders: never searched for .dvc files.
  const outDirs = pipeline.stages.flatMap((s) => s.outs.map((o) => o.path));
  const [onDisk, hasher, dvcFiles] = await Promise.all([
    readLockFile(lockPath),
    openHasher(project.cacheDir),
    collectDvcFiles(project.root, outDirs),
  ]);
  const lock = lockToRepoPaths(onDisk, stageWdirs(graph.value), {
    file: path.basename(lockPath),
    stages: new Set(graph.value.byName.keys()),
  });
  return {
    project,
    pipeline,
    graph: graph.value,
    lockPath,
    lock,
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
  return path.resolve(ws.project.root, rel);
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
): Promise<{ ws: Workspace; release: () => Promise<void> }> {
  if (!lock) return { ws: await openWorkspace(cwd), release: async () => {} };
  const release = await acquireRepoLock(findProjectRoot(cwd), lock);
  try {
    const ws = await openWorkspace(cwd);
    await ignoreProjectFiles(ws.project.root, ws.project.cacheDir);
    return { ws, release };
  } catch (e) {
    await release();
    throw e;
  }
}
