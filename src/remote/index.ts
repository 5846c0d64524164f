/**
 * Public API of the remote store: push / fetch / pull of the lock file's outputs (pull = fetch + the
 * workspace checkout, in ./pull.ts), raw object
 * transfer for experiments (pushObjects / fetchObjects), and the data of `status --cloud`.
 * Everything returns data or emits typed events; src/cli/* renders.
 */
import { isDirHash, type Md5 } from '../hash/types.js';
import type { MissingFetcher } from '../pipeline/execute.js';
import type { LockedStage } from '../pipeline/lockfile-types.js';
import type { Project } from '../project.js';
import { readTrackedOutputs, selectOutputs, type TrackedOutput } from './objects.js';
import { defaultJobs, openRemote, remoteKindOf, resolveRemote } from './open.js';
import { fetchRunCache, pushRunCache, runCacheKeyPrefix } from './runcache.js';
import { removeStaleTemps, type TempSweep } from './stale-temps.js';
import { pushStagesTo, type OutputFlags, type StagesPushed } from './stage-push.js';
import { openSweepGate } from './sweep-gate.js';
import {
  fetchObjectsFrom,
  pushObjectsTo,
  type LocalObjects,
  type PushSource,
  type TransferEvent,
  type TransferResult,
} from './transfer.js';
import type { Remote } from './types.js';

export type { Remote } from './types.js';
export type { TransferEvent, TransferResult } from './transfer.js';
export type { TrackedOutput } from './objects.js';
export type { StagesPushed } from './stage-push.js';
export { cloudStatus, type CloudStatus, type OutputCloudStatus } from './status.js';
export { pull, type PullOptions, type PullResult } from './pull.js';

export type RemoteEvent =
  | TransferEvent
  | { type: 'remote'; name: string; display: string; direction: 'push' | 'fetch' };

export interface SyncOptions {
  /** Stage names; all stages of the lock file when empty. */
  targets?: string[];
  /** Remote for outputs without their own `remote:`; default `core.remote`. */
  remote?: string;
  jobs?: number;
  /** Also mirror the run-cache (`<cache>/runs/`). */
  runCache?: boolean;
  onEvent?: (e: RemoteEvent) => void;
}

export interface RemoteSyncResult extends TransferResult {
  name: string;
  display: string;
  /** Outputs that had at least one missing object (`stage:path`). */
  incompleteOutputs: string[];
  runCache?: TransferResult;
  /** push only: temp files of killed uploads removed from the remote. */
  staleTemps?: TempSweep;
}

export interface SyncSummary {
  remotes: RemoteSyncResult[];
}

export async function openStore(project: Project): Promise<PushSource> {
  const { openObjectStore } = await import('../cache/index.js');
  return openObjectStore(project.cacheDir);
}

/** Open the named (or default) remote for a caller that transfers on its own (exp push/pull). */
export async function openNamedRemote(
  project: Project,
  name: string | undefined,
  jobs?: number,
): Promise<{ remote: Remote; jobs: number }> {
  const resolved = resolveRemote(project, name);
  const j = jobs ?? defaultJobs(remoteKindOf(resolved.config.url), resolved.config.jobs);
  return { remote: await openRemote(project, resolved, j), jobs: j };
}

/** Group outputs by the remote they travel to: their own `remote:`, else the chosen default. */
function byRemote(
  outs: readonly TrackedOutput[],
  fallback: string | undefined,
): Map<string | undefined, TrackedOutput[]> {
  const groups = new Map<string | undefined, TrackedOutput[]>();
  for (const o of outs) {
    const key = o.remote ?? fallback;
    const list = groups.get(key) ?? [];
    list.push(o);
    groups.set(key, list);
  }
  return groups;
}

async function withRemote<T>(
  project: Project,
  name: string | undefined,
  opts: SyncOptions,
  direction: 'push' | 'fetch',
  fn: (remote: Remote, jobs: number) => Promise<T>,
): Promise<T> {
  const { remote, jobs } = await openNamedRemote(project, name, opts.jobs);
  opts.onEvent?.({ type: 'remote', name: remote.name, display: remote.display, direction });
  try {
    return await fn(remote, jobs);
  } finally {
    await remote.close();
  }
}

/**
 * Run a push with the sweep of abandoned temps beside its uploads, when the gate says one is due
 * (sweep-gate.ts). The sweep never fails the push, and keeps this push's own temps: their writer is alive.
 */
async function withSweep<T>(
  project: Project,
  remote: Remote,
  fn: (sweep: Promise<TempSweep>) => Promise<T>,
): Promise<T> {
  const gate = await openSweepGate(project.cacheDir, remote.display);
  const sweep = gate.needed ? removeStaleTemps(remote) : Promise.resolve<TempSweep>({ removed: [] });
  try {
    return await fn(sweep);
  } finally {
    const s = await sweep;
    await gate.done(gate.needed && !s.error);
  }
}

/** The outputs (`stage:path`) with a missing object: the output's own, or a file of its directory. */
async function incomplete(
  store: LocalObjects,
  outs: readonly TrackedOutput[],
  missing: readonly Md5[],
): Promise<string[]> {
  if (missing.length === 0) return [];
  const m = new Set<string>(missing);
  const found: string[] = [];
  for (const o of outs) {
    let hit = m.has(o.md5);
    if (!hit && isDirHash(o.md5) && (await store.has(o.md5))) {
      hit = (await store.readManifest(o.md5).catch(() => [])).some((e) => m.has(e.md5));
    }
    if (hit) found.push(`${o.stage}:${o.path}`);
  }
  return found;
}

async function lockOutputs(project: Project, targets: readonly string[]): Promise<TrackedOutput[]> {
  const { lock, flags } = await readTrackedOutputs(project.root);
  return selectOutputs(lock, targets, flags);
}

/** Upload the objects of the lock file's outputs (those not marked `push: false`) to their remotes. */
export async function push(project: Project, opts: SyncOptions = {}): Promise<SyncSummary> {
  const outs = (await lockOutputs(project, opts.targets ?? [])).filter((o) => o.push);
  const store = await openStore(project);
  const remotes: RemoteSyncResult[] = [];
  const groups = byRemote(outs, opts.remote);
  if (groups.size === 0) groups.set(opts.remote, []);
  let runCacheDone = false;
  for (const [name, group] of groups) {
    remotes.push(
      await withRemote(project, name, opts, 'push', async (remote, jobs) =>
        withSweep(project, remote, async (sweep) => {
          const res = await pushObjectsTo(
            store,
            remote,
            group.map((o) => o.md5),
            { jobs, onEvent: opts.onEvent },
          );
          const runCache =
            opts.runCache && name === opts.remote && !runCacheDone
              ? await pushRunCache(project.cacheDir, remote, { jobs }, store)
              : undefined;
          if (runCache) runCacheDone = true;
          return {
            ...res,
            name: remote.name,
            display: remote.display,
            incompleteOutputs: await incomplete(store, group, res.missing),
            runCache,
            staleTemps: await sweep,
          };
        }),
      ),
    );
  }
  if (opts.runCache && !runCacheDone) {
    remotes.push(
      await withRemote(project, opts.remote, opts, 'push', async (remote, jobs) => ({
        transferred: 0,
        bytes: 0,
        upToDate: 0,
        missing: [],
        name: remote.name,
        display: remote.display,
        incompleteOutputs: [],
        runCache: await pushRunCache(project.cacheDir, remote, { jobs }, store),
      })),
    );
  }
  return { remotes };
}

/**
 * Download the objects of the lock file's outputs that the cache lacks, verified. Outputs marked
 * `push: false` are never on a remote, so they are not asked for (repro rebuilds them).
 */
export async function fetch(project: Project, opts: SyncOptions = {}): Promise<SyncSummary> {
  const outs = (await lockOutputs(project, opts.targets ?? [])).filter((o) => o.push);
  return { remotes: await fetchOutputs(project, outs, opts) };
}

async function fetchOutputs(
  project: Project,
  outs: readonly TrackedOutput[],
  opts: SyncOptions,
): Promise<RemoteSyncResult[]> {
  const store = await openStore(project);
  const remotes: RemoteSyncResult[] = [];
  const groups = byRemote(outs, opts.remote);
  if (groups.size === 0 && opts.runCache) groups.set(opts.remote, []);
  let runCacheDone = false;
  for (const [name, group] of groups) {
    remotes.push(
      await withRemote(project, name, opts, 'fetch', async (remote, jobs) => {
        const expected = group.reduce((s, o) => s + o.size, 0);
        const res = await fetchObjectsFrom(
          store,
          remote,
          group.map((o) => o.md5),
          { jobs, onEvent: opts.onEvent },
          expected,
        );
        const runCache =
          opts.runCache && !runCacheDone && name === opts.remote
            ? await fetchRunCache(project.cacheDir, remote, { jobs })
            : undefined;
        if (runCache) runCacheDone = true;
        return {
          ...res,
          name: remote.name,
          display: remote.display,
          incompleteOutputs: await incomplete(store, group, res.missing),
          runCache,
        };
      }),
    );
  }
  return remotes;
}

/**
 * Push raw objects (file hashes or `.dir` hashes, expanded) to a remote: for `exp push` and other
 * callers that track outputs outside pipeline.lock.
 */
export async function pushObjects(
  project: Project,
  hashes: readonly Md5[],
  opts: Omit<SyncOptions, 'targets'> = {},
): Promise<TransferResult> {
  const store = await openStore(project);
  return withRemote(project, opts.remote, opts, 'push', async (remote, jobs) => {
    return withSweep(project, remote, async () => {
      const res = await pushObjectsTo(store, remote, hashes, { jobs, onEvent: opts.onEvent });
      if (opts.runCache) await pushRunCache(project.cacheDir, remote, { jobs }, store);
      return res;
    });
  });
}

/**
 * A queue job's push: the outputs of `stages` (lock entries by address, paths repo-relative) that the
 * remote lacks, then their run-cache entries (stage-push.ts), to the default or named remote.
 */
export async function pushStages(
  project: Project,
  stages: Readonly<Record<string, LockedStage>>,
  opts: Omit<SyncOptions, 'targets' | 'runCache'> & { flags?: OutputFlags } = {},
): Promise<StagesPushed> {
  const store = await openStore(project);
  return withRemote(project, opts.remote, opts, 'push', (remote, jobs) =>
    withSweep(project, remote, () =>
      pushStagesTo(store, remote, project.cacheDir, stages, { jobs, onEvent: opts.onEvent, flags: opts.flags }),
    ),
  );
}

/** Fetch raw objects (expanded through their manifests) into the cache: for `exp pull`. */
export async function fetchObjects(
  project: Project,
  hashes: readonly Md5[],
  opts: Omit<SyncOptions, 'targets'> = {},
): Promise<TransferResult> {
  const store = await openStore(project);
  return withRemote(project, opts.remote, opts, 'fetch', async (remote, jobs) => {
    const res = await fetchObjectsFrom(store, remote, hashes, { jobs, onEvent: opts.onEvent });
    if (opts.runCache) await fetchRunCache(project.cacheDir, remote, { jobs });
    return res;
  });
}

/**
 * What `repro --pull` hands the engine: run-cache entries and objects fetched from the named (or
 * default) remote, opened on first use only, so a repro that needs nothing never connects.
 */
export function missingFetcher(
  project: Project,
  name: string | undefined,
): MissingFetcher & { close(): Promise<void> } {
  let opened: Promise<{ remote: Remote; jobs: number; store: LocalObjects }> | null = null;
  const open = () =>
    (opened ??= (async () => ({ ...(await openNamedRemote(project, name)), store: await openStore(project) }))());
  return {
    async runCacheEntries(key) {
      const { remote, jobs } = await open();
      await fetchRunCache(project.cacheDir, remote, { jobs }, runCacheKeyPrefix(key));
    },
    async objects(hashes) {
      const { remote, jobs, store } = await open();
      await fetchObjectsFrom(store, remote, hashes, { jobs });
    },
    async close() {
      if (opened) await (await opened.catch(() => null))?.remote.close();
    },
  };
}
