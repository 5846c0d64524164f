/**
 * What `exp diff` compares, as DVC resolves it: each side is an experiment (name or sha), a git
 * revision (HEAD, a branch, a tag, a sha) or `workspace`. No argument: HEAD against the workspace; one:
 * that experiment or revision against the workspace. A use case: reads git and files, returns data.
 */
import type { Pipeline } from '../config/types.js';
import { LockstepError } from '../errors.js';
import { paramsFilesOf } from './collect.js';
import { gitMaybe } from './git.js';
import { listExperiments, resolveExperiment } from './records.js';
import { cacheAccess } from './show-rows.js';
import { readSnapshot, snapshotFiles, type Snapshot } from './snapshot.js';

export interface DiffSide extends Snapshot {
  /** How the table names this side: the experiment's name, the revision as given, or `workspace`. */
  label: string;
  kind: 'experiment' | 'commit' | 'workspace';
}

type Spec = { kind: 'experiment'; label: string; snap: Snapshot } | { kind: 'commit'; label: string; sha: string };

async function resolveSpec(root: string, spec: string): Promise<Spec | { kind: 'workspace' }> {
  if (spec === 'workspace') return { kind: 'workspace' };
  const found = await listExperiments(root, { allCommits: true, names: [spec] });
  if (found.length) {
    const r = await resolveExperiment(root, spec);
    return { kind: 'experiment', label: r.name, snap: { params: r.params, metrics: r.metrics } };
  }
  const sha = (await gitMaybe(root, ['rev-parse', '--verify', '--quiet', `${spec}^{commit}`]))?.trim();
  if (!sha)
    throw new LockstepError(
      'exp',
      `'${spec}' is neither an experiment nor a git revision`,
      'Name an experiment (lockstep exp list), a commit, branch or tag, or `workspace`.',
    );
  return { kind: 'commit', label: spec, sha };
}

export async function diffSides(
  root: string,
  a: string | undefined,
  b: string | undefined,
  pipeline: Pipeline | null,
): Promise<[DiffSide, DiffSide]> {
  const specs = await Promise.all([resolveSpec(root, a ?? 'HEAD'), resolveSpec(root, b ?? 'workspace')]);
  const recorded = specs.flatMap((s) => (s.kind === 'experiment' ? [s.snap] : []));
  const files = snapshotFiles(pipeline, recorded, pipeline ? paramsFilesOf(pipeline) : []);
  const access = pipeline ? await cacheAccess(root, pipeline) : undefined;
  const side = async (s: (typeof specs)[number]): Promise<DiffSide> => {
    if (s.kind === 'experiment') return { label: s.label, kind: 'experiment', ...s.snap };
    if (s.kind === 'commit')
      return { label: s.label, kind: 'commit', ...(await readSnapshot(root, s.sha, files, access)) };
    return { label: 'workspace', kind: 'workspace', ...(await readSnapshot(root, null, files)) };
  };
  return [await side(specs[0]), await side(specs[1])];
}
