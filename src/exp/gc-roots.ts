/**
 * The roots `gc` keeps beyond the workspace, read from git: the lock files of the revisions a scope
 * names (--all-branches, --all-tags, --all-commits) and of every recorded experiment (refs/exps).
 * It fills the `GcRootSource` port of the gc use case (src/pipeline/gc.ts), which stays below src/exp.
 */
import type { GcRootSource, GcScope } from '../pipeline/gc.js';
import { parseLockFile } from '../pipeline/lockfile.js';
import type { LockFile } from '../pipeline/lockfile-types.js';
import { catFileBatch, git, gitMaybe } from './git.js';
import { listExperiments } from './records.js';

/** The git revisions the scope names (commit shas), none outside a git repository. */
async function scopeRevisions(root: string, scope: GcScope): Promise<string[]> {
  if (!scope.allBranches && !scope.allTags && !scope.allCommits) return [];
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
  if ((await gitMaybe(root, ['rev-parse', '--git-dir'])) === null) return [];
  const exps = await listExperiments(root, { allCommits: true });
  return exps.map((e) => e.lock).filter((l): l is LockFile => l !== null);
}

/** The gc roots of the project at `root` that live in git. */
export function gitGcRoots(root: string): GcRootSource {
  return {
    async revisionLocks(scope, lockName) {
      const revs = await scopeRevisions(root, scope);
      return { revisions: revs.length, locks: await locksAt(root, lockName, revs) };
    },
    experimentLocks: () => experimentLocks(root),
  };
}
