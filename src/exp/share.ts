/**
 * `exp push` / `exp pull`: experiment refs to and from a git remote. Outputs (cache objects named by
 * each record's pipeline.lock) travel with `lockstep push`/`pull` of the remote store.
 */
import { LockstepError } from '../errors.js';
import { git, gitMaybe } from './git.js';
import { listExperiments, REF_PREFIX, resolveExperiment } from './records.js';

export interface ShareOptions {
  names?: string[];
  all?: boolean;
  allCommits?: boolean;
}

async function checkRemote(root: string, remote: string): Promise<void> {
  const remotes = (await git(root, ['remote'])).split('\n').filter(Boolean);
  if (!remotes.includes(remote) && !/[:/]/.test(remote)) {
    throw new LockstepError(
      'remote',
      `'${remote}' is not a git remote of ${root}; remotes: ${remotes.join(', ') || 'none'}`,
      'Add it with `git remote add NAME URL`, or give a URL.',
    );
  }
}

/** Push experiment refs (by name, or all of HEAD / of every baseline); returns the refs pushed. */
export async function pushExperiments(root: string, remote: string, opts: ShareOptions): Promise<string[]> {
  await checkRemote(root, remote);
  let refs: string[];
  if (opts.names?.length) {
    refs = [];
    for (const n of opts.names) refs.push((await resolveExperiment(root, n)).ref);
  } else if (opts.all || opts.allCommits) {
    refs = (await listExperiments(root, { allCommits: opts.allCommits ?? false })).map((r) => r.ref);
  } else {
    throw new LockstepError(
      'usage',
      'exp push needs experiment names or --all',
      'E.g. lockstep exp push origin brisk-otter.',
    );
  }
  if (refs.length === 0) return [];
  // the record commits' parents are baselines: git pushes those too if the remote lacks them
  const res = await gitMaybe(root, ['push', '--quiet', remote, ...refs.map((r) => `${r}:${r}`)]);
  if (res === null)
    throw new LockstepError(
      'remote',
      `git push of ${refs.length} experiment ref(s) to '${remote}' failed`,
      'Run `git push` by hand to see why (access, network, a ref that exists there with another commit).',
    );
  return refs;
}

/** Fetch experiment refs (by name, or all) from a git remote; returns the refs fetched. */
export async function pullExperiments(root: string, remote: string, opts: ShareOptions): Promise<string[]> {
  await checkRemote(root, remote);
  const listing = await gitMaybe(root, ['ls-remote', remote, `${REF_PREFIX}*`]);
  if (listing === null)
    throw new LockstepError(
      'remote',
      `cannot list experiment refs of '${remote}'`,
      'Check the remote URL and your access with `git ls-remote`.',
    );
  let refs = listing
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[1] as string);
  if (opts.names?.length) {
    const wanted = new Set(opts.names);
    refs = refs.filter((r) => wanted.has(r.slice(r.lastIndexOf('/') + 1)));
    const missing = opts.names.filter((n) => !refs.some((r) => r.endsWith(`/${n}`)));
    if (missing.length)
      throw new LockstepError(
        'exp',
        `no experiment named ${missing.map((m) => `'${m}'`).join(', ')} on '${remote}'`,
        'List them with `git ls-remote REMOTE refs/exps/*`.',
      );
  } else if (!opts.all && !opts.allCommits) {
    throw new LockstepError(
      'usage',
      'exp pull needs experiment names or --all',
      'E.g. lockstep exp pull origin brisk-otter.',
    );
  }
  if (refs.length === 0) return [];
  const res = await gitMaybe(root, ['fetch', '--quiet', remote, ...refs.map((r) => `+${r}:${r}`)]);
  if (res === null)
    throw new LockstepError(
      'remote',
      `git fetch of ${refs.length} experiment ref(s) from '${remote}' failed`,
      'Run `git fetch` by hand to see why.',
    );
  return refs;
}
