/**
 * The roots `gc` keeps beyond the workspace, read from git: the lock files of the revisions a scope
 * names (--all-branches, --all-tags, --all-commits) and of every recorded experiment (refs/exps).
 * It fills the `GcRootSource` port of the gc use case (src/pipeline/gc.ts), which stays below src/exp.
 */
import { load, YAMLException } from 'js-yaml';
import { LockstepError } from '../errors.js';
import { isMd5, type Md5 } from '../hash/types.js';
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

/** Lock files beside any pipeline file, and .dvc files: what a revision records in the cache. */
const isRecordFile = (p: string) => {
  const name = p.slice(p.lastIndexOf('/') + 1);
  return name === 'dvc.lock' || name === 'pipeline.lock' || (name.endsWith('.dvc') && !p.startsWith('.dvc/'));
};

/**
 * What `revs` record under the project's folder: every lock file (the root pipeline's and each
 * sub-pipeline's), parsed strictly, and the md5s of every `.dvc` file. A .dvc file that does not parse stops
 * gc (it cannot say what it keeps); one that parses keeps every md5 it names, whatever else it holds.
 */
async function recordsAt(root: string, revs: string[]): Promise<{ locks: LockFile[]; tracked: Md5[] }> {
  if (revs.length === 0) return { locks: [], tracked: [] };
  const prefix = (await git(root, ['rev-parse', '--show-prefix'])).trim();
  const specs: string[] = [];
  for (const rev of revs) {
    // run in the project's folder, ls-tree lists only what lies under it, relative to it
    const listing = await git(root, ['ls-tree', '-r', '-z', '--name-only', rev]);
    for (const p of listing.split('\0')) if (p && isRecordFile(p)) specs.push(`${rev}:${prefix}${p}`);
  }
  const locks: LockFile[] = [];
  const tracked: Md5[] = [];
  const blobs = await catFileBatch(root, specs);
  blobs.forEach((b, i) => {
    if (b?.type !== 'blob') return;
    const spec = specs[i]!;
    const where = `${spec.slice(0, 7)}:${spec.slice(spec.indexOf(':') + 1)}`;
    const text = b.content.toString('utf8');
    if (spec.endsWith('.lock')) locks.push(parseLockFile(text, where));
    else tracked.push(...dvcFileHashes(text, where));
  });
  return { locks, tracked };
}

function dvcFileHashes(text: string, where: string): Md5[] {
  let data: unknown;
  try {
    data = load(text);
  } catch (e) {
    throw new LockstepError(
      'config',
      `${where}: ${e instanceof YAMLException ? e.reason : (e as Error).message}; gc cannot tell what it keeps`,
      'Run gc with a narrower scope (without that revision), or fix the file in a new commit.',
    );
  }
  const outs = (data as { outs?: unknown } | null)?.outs;
  if (!Array.isArray(outs)) return [];
  return outs
    .map((o) => (o as { md5?: unknown } | null)?.md5)
    .filter((m): m is Md5 => typeof m === 'string' && isMd5(m));
}

async function experimentLocks(root: string): Promise<LockFile[]> {
  if ((await gitMaybe(root, ['rev-parse', '--git-dir'])) === null) return [];
  const exps = await listExperiments(root, { allCommits: true });
  return exps.map((e) => e.lock).filter((l): l is LockFile => l !== null);
}

/** The gc roots of the project at `root` that live in git. */
export function gitGcRoots(root: string): GcRootSource {
  return {
    async revisionRoots(scope) {
      const revs = await scopeRevisions(root, scope);
      return { revisions: revs.length, ...(await recordsAt(root, revs)) };
    },
    experimentLocks: () => experimentLocks(root),
  };
}
