/**
 * The outputs of shared experiments: `exp push` sends the cache objects of the experiments' lock
 * files to the lockstep remote, `exp pull` fetches them, so a teammate can apply the experiment.
 */
import type { Md5 } from '../hash/types.js';
import { lockHashes } from '../pipeline/lockfile.js';
import { openProject } from '../project.js';
import { listExperiments } from './records.js';

export type OutputsMoved =
  | { kind: 'no-remote' }
  | { kind: 'moved'; transferred: number; upToDate: number; missing: number };

export async function moveExperimentOutputs(
  root: string,
  refs: readonly string[],
  direction: 'push' | 'fetch',
  opts: { remote?: string } = {},
): Promise<OutputsMoved> {
  const project = await openProject(root);
  if (!opts.remote && !project.config.core?.remote) return { kind: 'no-remote' };
  const wanted = new Set(refs);
  const hashes = new Set<Md5>();
  for (const record of await listExperiments(root, { allCommits: true })) {
    if (!wanted.has(record.ref)) continue;
    for (const h of lockHashes(record.lock, { outsOnly: true })) hashes.add(h);
  }
  // the remote layer (and the AWS SDK or ssh2 behind it) only when something is moved
  const remote = await import('../remote/index.js');
  const move = direction === 'push' ? remote.pushObjects : remote.fetchObjects;
  const r = await move(project, [...hashes], { remote: opts.remote });
  return { kind: 'moved', transferred: r.transferred, upToDate: r.upToDate, missing: r.missing.length };
}
