/** `exp apply` and `exp remove`: the verbs that change the workspace or the refs. */
import path from 'node:path';
import { execa } from 'execa';
import { LockstepError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
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
  checkout: { exitCode: number; log: string };
}

/**
 * Write the experiment's params files, lock file and metrics into the workspace, then restore its
 * outputs from the cache with `lockstep checkout` (the lock now names them).
 */
export async function applyExperiment(
  root: string,
  nameOrSha: string,
  opts: { force?: boolean; bin: string },
): Promise<ApplyResult> {
  const experiment = await resolveExperiment(root, nameOrSha);
  const paths = (await recordFilePaths(root, experiment.sha)).filter((p) => !p.startsWith('.lockstep/'));
  const contents = await readRecordFiles(root, experiment.sha, paths);
  for (const [rel, buf] of contents) await writeFileAtomic(path.join(root, rel), buf);
  const r = await execa(process.execPath, [opts.bin, 'checkout', ...(opts.force ? ['--force'] : [])], {
    cwd: root,
    reject: false,
    all: true,
  });
  return { experiment, files: [...contents.keys()], checkout: { exitCode: r.exitCode ?? 1, log: String(r.all ?? '') } };
}

export interface RemoveOptions {
  names?: string[];
  all?: boolean;
  allCommits?: boolean;
  revs?: string[];
}

/** Remove experiments by name (or all of a baseline); returns the removed ones. Unknown names fail before any removal. */
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
