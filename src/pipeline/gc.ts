/**
 * `gc` as a use case: which objects to keep (the roots of an explicit scope, as `dvc gc` has them), then
 * remove the rest from the cache, with no run in progress on that cache (cache/activity.ts). Returns data.
 */
import { holdCacheForGc } from '../cache/activity.js';
import { collectGarbage } from '../cache/index.js';
import { LockstepError } from '../errors.js';
import type { Md5 } from '../hash/types.js';
import type { Workspace } from './context.js';
import { lockHashes } from './lockfile.js';
import type { LockFile } from './lockfile-types.js';

export interface GcScope {
  /** The workspace's lock file (always kept when any scope is given, as in DVC). */
  workspace: boolean;
  allBranches: boolean;
  allTags: boolean;
  allCommits: boolean;
  /** Every recorded experiment (refs/exps). */
  allExperiments: boolean;
}

export interface GcOutcome {
  dry: boolean;
  removed: Md5[];
  bytes: number;
  /** What was kept: git revisions whose lock files were read, experiments whose locks were read. */
  kept: { revisions: number; experiments: number };
}

/** A gc with no scope would keep nothing: like `dvc gc`, refuse it. */
export function checkScope(scope: GcScope): void {
  if (Object.values(scope).some(Boolean)) return;
  throw new LockstepError(
    'usage',
    'gc needs a scope: what to keep besides nothing',
    'Say --workspace (-w), --all-branches (-a), --all-tags (-T), --all-commits (-A) and/or --all-experiments.',
  );
}

/**
 * Where the roots beyond the workspace come from: the lock files of git revisions and of recorded
 * experiments. A port the caller fills (src/exp/gc-roots.ts reads them with git), so this use case
 * stays below src/exp. Called with the cache held, so a run that ended meanwhile has recorded its lock.
 */
export interface GcRootSource {
  /**
   * What the revisions the scope names record, and how many revisions were read: every pipeline's lock file
   * (the root's and each sub-pipeline's) and the md5s of every `.dvc` file.
   */
  revisionRoots(scope: GcScope): Promise<{ revisions: number; locks: LockFile[]; tracked: Md5[] }>;
  /** The locks of every recorded experiment (refs/exps). */
  experimentLocks(): Promise<LockFile[]>;
}

/**
 * Remove the cache objects the scope does not keep. Every lock read must parse (a damaged lock stops gc
 * before anything is removed). Fails while a run uses the cache, unless it ends within `waitMs`.
 */
export async function garbageCollect(
  ws: Workspace,
  scope: GcScope,
  roots: GcRootSource,
  opts: { dry: boolean; waitMs: number },
): Promise<GcOutcome> {
  checkScope(scope);
  const release = opts.dry ? async () => {} : await holdCacheForGc(ws.project.cacheDir, opts.waitMs);
  try {
    // roots are read with the cache held, so a run that ended meanwhile has recorded what it wrote
    const used = new Set<Md5>(lockHashes(ws.lock));
    // data tracked by the workspace's .dvc files is a root too, and so is that of other revisions' .dvc files
    for (const f of ws.dvcFiles) for (const o of f.outs) if (o.md5) used.add(o.md5);
    const revs = await roots.revisionRoots(scope);
    for (const lock of revs.locks) for (const h of lockHashes(lock)) used.add(h);
    for (const h of revs.tracked) used.add(h);
    const exps = scope.allExperiments ? await roots.experimentLocks() : [];
    for (const lock of exps) for (const h of lockHashes(lock)) used.add(h);
    const result = await collectGarbage(ws.store, used, { dry: opts.dry });
    return { dry: opts.dry, ...result, kept: { revisions: revs.revisions, experiments: exps.length } };
  } finally {
    await release();
  }
}
