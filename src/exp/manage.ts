/** `exp apply` and `exp remove`: the verbs that change the workspace or the refs. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { type CheckoutResult, checkoutFailure, checkoutWorkspace } from '../pipeline/checkout-workspace.js';
import { openWorkspace } from '../pipeline/context.js';
import { acquireRepoLock } from '../pipeline/repo-lock.js';
import { writeFileAtomic } from '../util/atomic.js';
import { catFileBatch, git } from './git.js';
import {
  listExperiments,
  listRefs,
  readRecordFiles,
  recordFilePaths,
  removeRefs,
  resolveExperiment,
  type ListedExperiment,
} from './records.js';

export interface ApplyResult {
  experiment: ListedExperiment;
  files: string[];
  checkout: CheckoutResult;
}

/**
 * The files `apply` would overwrite whose workspace content is an uncommitted change: it differs from
 * HEAD's version (or HEAD has none) and from the experiment's (writing the same bytes loses nothing).
 */
async function uncommittedChanges(root: string, contents: Map<string, Buffer>): Promise<string[]> {
  const prefix = (await git(root, ['rev-parse', '--show-prefix'])).trim();
  const paths = [...contents.keys()];
  const head = await catFileBatch(
    root,
    paths.map((p) => `HEAD:${prefix}${p}`),
  );
  const changed: string[] = [];
  for (const [i, rel] of paths.entries()) {
    const now = await fs.readFile(path.join(root, rel)).catch(() => null);
    if (now === null) continue;
    if (now.equals(contents.get(rel)!)) continue;
    const committed = head[i];
    if (committed?.type === 'blob' && now.equals(committed.content)) continue;
    changed.push(rel);
  }
  return changed;
}

/**
 * Write the experiment's params files, lock file and metrics into the workspace, then restore its
 * outputs from the cache (the checkout use case, in this process), all under the repository lock.
 * Without `force`, refuses before writing anything if a file it would overwrite has uncommitted changes,
 * and keeps outputs whose local changes the cache does not hold (as checkout does).
 */
export async function applyExperiment(
  root: string,
  nameOrSha: string,
  opts: { force?: boolean },
): Promise<ApplyResult> {
  const release = await acquireRepoLock(root, { command: 'lockstep exp apply', waitMs: 0 });
  try {
    const experiment = await resolveExperiment(root, nameOrSha);
    const paths = (await recordFilePaths(root, experiment.sha)).filter((p) => !p.startsWith('.lockstep/'));
    const contents = await readRecordFiles(root, experiment.sha, paths);
    if (!opts.force) {
      const changed = await uncommittedChanges(root, contents);
      if (changed.length)
        throw new LockstepError(
          'usage',
          `exp apply would overwrite uncommitted changes to ` +
            `${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ` (and ${changed.length - 5} more)` : ''}`,
          'Commit or stash them, or run lockstep exp apply --force to discard them.',
        );
    }
    for (const [rel, buf] of contents) await writeFileAtomic(path.join(root, rel), buf);
    const ws = await openWorkspace(root);
    const checkout = await checkoutWorkspace(ws, { targets: [], force: !!opts.force });
    const failure = checkoutFailure(checkout);
    if (failure)
      throw new LockstepError(
        failure.reason,
        `applied ${experiment.name}'s params and lock, but not all outputs: ${failure.message}`,
        failure.hint,
      );
    return { experiment, files: [...contents.keys()], checkout };
  } finally {
    await release();
  }
}

export interface RemoveOptions {
  names?: string[];
  all?: boolean;
  allCommits?: boolean;
  revs?: string[];
}

/**
 * Remove experiments by name (or all of a baseline); returns the removed ones. Unknown names fail before any removal.
 */
export async function removeExperiments(
  root: string,
  opts: RemoveOptions,
): Promise<Array<{ name: string; baseline: string; sha: string }>> {
  let targets: Array<{ ref: string; name: string; baseline: string; sha: string }>;
  if (opts.all) {
    if (opts.allCommits) {
      targets = await listRefs(root);
    } else {
      targets = (await listExperiments(root, { revs: opts.revs ?? [] })).map((r) => ({
        ref: r.ref,
        name: r.name,
        baseline: r.baseline,
        sha: r.sha,
      }));
    }
  } else {
    if (!opts.names?.length)
      throw new LockstepError(
        'usage',
        'exp remove needs experiment names or --all',
        'E.g. lockstep exp remove brisk-otter, or --all.',
      );
    targets = [];
    for (const n of opts.names) {
      const r = await resolveExperiment(root, n);
      targets.push({ ref: r.ref, name: r.name, baseline: r.baseline, sha: r.sha });
    }
  }
  await removeRefs(root, targets);
  return targets.map(({ name, baseline, sha }) => ({ name, baseline, sha }));
}
