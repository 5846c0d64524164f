/**
 * What a queue job pushes: the results of the stages in its lock that the remote lacks, and their
 * run-cache entries, without asking about every file of the outputs the job only restored.
 *
 * The remote's invariant, which other workers and `exp pull` rely on: every object a run-cache entry or
 * an experiment's lock on the remote names is on the remote too. So:
 * - each output's root object (a file, or a directory's `.dir` manifest) is asked about once. Present:
 *   it stays, and so do a directory's files, since a manifest is uploaded only after all of its files
 *   (transfer.ts). Absent (the stage ran here, or was restored from this machine's cache only): the
 *   output is pushed as `lockstep push` pushes, every file of it asked about.
 * - a stage's run-cache entry goes up after its objects, and only when every object it names is then on
 *   the remote; this machine's other entries (other params, other experiments) stay here.
 * `lockstep push` keeps asking about every file under a present manifest (it repairs a remote whose
 * files were deleted behind one); a job is not a repair and trusts the manifest.
 */
import path from 'node:path';
import { isDirHash, type Md5 } from '../hash/types.js';
import type { LockedStage } from '../pipeline/lockfile-types.js';
import { readRunCacheEntries, runCacheKey } from '../pipeline/run-cache.js';
import { objectKey, RUNS_PREFIX } from './keys.js';
import { dirComplete, runCacheKeyPrefix } from './runcache.js';
import { forEachConcurrent, pushObjectsTo, retryingOp, type PushSource, type TransferOptions } from './transfer.js';
import type { Remote } from './types.js';

export interface StagesPushed {
  /** Stages (addresses) with at least one output the remote lacked, pushed now. */
  pushed: string[];
  /** Stages whose outputs were all on the remote already. */
  present: string[];
  /** Questions asked of the remote (existence checks and listings), uploads not counted. */
  questions: number;
  /** Objects uploaded (files and manifests). */
  objects: number;
  /** Run-cache entries uploaded. */
  entries: number;
  /** Objects the local cache lacks, so the remote lacks them too (their stages' entries stay here). */
  missing: Md5[];
}

/** How the pipeline file declares an output (absent: a cached output, pushed). */
export type OutputFlags = (
  stage: string,
  path: string,
) => { cache: boolean; persist: boolean; push: boolean } | undefined;

/**
 * `stages`: lock entries by stage address, their paths repo-relative (as the run-cache keys them). Outputs
 * marked `push: false` and auxiliary ones (persist without cache) stay here; uncached ones (metrics) go
 * when the cache has them (the run-cache keeps a copy, and its entries name them).
 */
export async function pushStagesTo(
  store: PushSource,
  remote: Remote,
  cacheDir: string,
  stages: Readonly<Record<string, LockedStage>>,
  opts: TransferOptions & { flags?: OutputFlags },
): Promise<StagesPushed> {
  const outsOf = new Map<string, Md5[]>();
  for (const [address, s] of Object.entries(stages)) {
    const outs: Md5[] = [];
    for (const o of s.outs ?? []) {
      const f = opts.flags?.(address, o.path);
      if (f && (!f.push || (f.persist && !f.cache))) continue;
      if (f && !f.cache && !(await store.has(o.md5))) continue;
      outs.push(o.md5);
    }
    outsOf.set(address, outs);
  }
  const roots = [...new Set([...outsOf.values()].flat())];
  let questions = 0;
  const there = new Set<Md5>();
  await forEachConcurrent(roots, opts.jobs, async (h) => {
    questions++;
    if (await retryingOp(remote, objectKey(h), opts, () => remote.exists(objectKey(h)))) there.add(h);
  });
  const absent = roots.filter((h) => !there.has(h));
  const res =
    absent.length > 0
      ? await pushObjectsTo(store, remote, absent, {
          ...opts,
          onEvent: (e) => {
            if (e.type === 'query') questions += e.objects; // an upper bound when it listed instead
            opts.onEvent?.(e);
          },
        })
      : { transferred: 0, upToDate: 0, bytes: 0, missing: [] as Md5[] };
  const missing = new Set(res.missing);
  // on the remote now: what was there, and what went up whole (a directory only with all of its files)
  const onRemote = new Set<Md5>(there);
  for (const h of absent) {
    if (missing.has(h)) continue;
    if (isDirHash(h) && missing.size > 0 && !(await dirComplete(store, h, missing))) continue;
    onRemote.add(h);
  }

  const pushed: string[] = [];
  const present: string[] = [];
  const uploads: { file: string; key: string }[] = [];
  for (const [address, s] of Object.entries(stages)) {
    const outs = outsOf.get(address) ?? [];
    (outs.every((h) => there.has(h)) ? present : pushed).push(address);
    const key = runCacheKey(s.cmd, s.deps ?? [], s.params ?? {});
    const lockOuts = new Map((s.outs ?? []).map((o) => [o.path, o.md5]));
    for (const { name, entry } of await readRunCacheEntries(cacheDir, key)) {
      // this run's entry: the outputs the lock records (an entry omits uncached auxiliary files)
      const ents = entry.outs ?? [];
      if (!ents.every((o) => lockOuts.get(o.path) === o.md5 && onRemote.has(o.md5))) continue;
      const rel = `${runCacheKeyPrefix(key)}${name}`;
      uploads.push({ file: path.join(cacheDir, 'runs', ...rel.split('/')), key: RUNS_PREFIX + rel });
    }
  }
  let entries = 0;
  await forEachConcurrent(uploads, opts.jobs, async (u) => {
    questions++;
    if (await retryingOp(remote, u.key, opts, () => remote.exists(u.key))) return;
    await retryingOp(remote, u.key, opts, () => remote.upload(u.file, u.key));
    entries++;
  });
  return { pushed, present, questions, objects: res.transferred, entries, missing: [...missing] };
}
