/**
 * `gc` as a use case: which objects to keep (the roots of an explicit scope, as `dvc gc` has them), then
 * remove the rest from the cache, with no run in progress on that cache (cache/activity.ts). Returns data.
 */
import path from 'node:path';
import { holdCacheForGc } from '../cache/activity.js';
import { collectGarbage } from '../cache/index.js';
import { LockstepError } from '../errors.js';
import type { Md5 } from '../hash/types.js';
import { LOCK_FILES } from '../project.js';
import type { Workspace } from './context.js';
import { parseLockFile } from './lockfile.js';
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

/** Every object hash a lock file references (outs and deps: deps may be another stage's outs). */
export function hashesOf(lock: LockFile): Md5[] {
  const used: Md5[] = [];
  for (const s of Object.values(lock.stages)) {
    for (const p of [...(s.outs ?? []), ...(s.deps ?? [])]) used.push(p.md5);
  }
  return used;
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

/** The git revisions the scope names (commit shas), none outside a git repository. */
async function scopeRevisions(root: string, scope: GcScope): Promise<string[]> {
  if (!scope.allBranches && !scope.allTags && !scope.allCommits) return [];
  const { gitMaybe } = await import('../exp/git.js');
  if ((await gitMaybe(root, ['rev-parse', '--git-dir'])) === null) return [];
  const args = scope.allCommits
    ? ['rev-list', '--branches', '--tags']
    : [
        'for-each-ref',
        '--format=%(objectname) %(*objectname)',
        ...(scope.allBranches ? ['refs/heads'] : []),
        ...(scope.allTags ? ['refs/tags'] : []),
      ];
  const text = (await gitMaybe(root, args)) ?? '';
  // for-each-ref: an annotated tag's commit is the second field
  const shas = text
    .split('\n')
    .map((l) => l.trim().split(' ').filter(Boolean).at(-1))
    .filter((s): s is string => !!s);
  return [...new Set(shas)];
}

/** The lock files of `revs` (where the project's lock exists in them), parsed strictly. */
async function locksAt(root: string, lockName: string, revs: string[]): Promise<LockFile[]> {
  if (revs.length === 0) return [];
  const { catFileBatch, git } = await import('../exp/git.js');
  const prefix = (await git(root, ['rev-parse', '--show-prefix'])).trim();
  const rel = `${prefix}${lockName}`;
  const blobs = await catFileBatch(
    root,
    revs.map((r) => `${r}:${rel}`),
  );
  const locks: LockFile[] = [];
  blobs.forEach((b, i) => {
    if (b?.type === 'blob') locks.push(parseLockFile(b.content.toString('utf8'), `${revs[i]!.slice(0, 7)}:${rel}`));
  });
  return locks;
}

async function experimentLocks(root: string): Promise<LockFile[]> {
  const { gitMaybe } = await import('../exp/git.js');
  if ((await gitMaybe(root, ['rev-parse', '--git-dir'])) === null) return [];
  const { listExperiments } = await import('../exp/records.js');
  const exps = await listExperiments(root, { allCommits: true });
  return exps.map((e) => e.lock).filter((l): l is LockFile => l !== null);
}

/**
 * Remove the cache objects the scope does not keep. Every lock read must parse (a damaged lock stops gc
 * before anything is removed). Fails while a run uses the cache, unless it ends within `waitMs`.
 */
export async function garbageCollect(
  ws: Workspace,
  scope: GcScope,
  opts: { dry: boolean; waitMs: number },
): Promise<GcOutcome> {
  checkScope(scope);
  const root = ws.project.root;
  const release = opts.dry ? async () => {} : await holdCacheForGc(ws.project.cacheDir, opts.waitMs);
  try {
    // roots are read with the cache held, so a run that ended meanwhile has recorded what it wrote
    const used = new Set<Md5>(hashesOf(ws.lock));
    // data tracked by the workspace's .dvc files is a root too (a small hook: .dvc files of other revisions are not read)
    for (const f of ws.dvcFiles) for (const o of f.outs) if (o.md5) used.add(o.md5);
    const revs = await scopeRevisions(root, scope);
    const lockName = path.basename(ws.lockPath) || LOCK_FILES['pipeline.yaml']!;
    for (const lock of await locksAt(root, lockName, revs)) for (const h of hashesOf(lock)) used.add(h);
    const exps = scope.allExperiments ? await experimentLocks(root) : [];
    for (const lock of exps) for (const h of hashesOf(lock)) used.add(h);
    const result = await collectGarbage(ws.store, used, { dry: opts.dry });
    return { dry: opts.dry, ...result, kept: { revisions: revs.length, experiments: exps.length } };
  } finally {
    await release();
  }
}
