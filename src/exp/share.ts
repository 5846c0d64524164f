/**
 * `exp push` / `exp pull`: experiment refs to and from a git remote. Outputs (cache objects named by
 * each record's pipeline.lock) travel with `lockstep push`/`pull` of the remote store.
 * Porcelain (remote, push, ls-remote, fetch) goes through simple-git; the records' plumbing, which feeds
 * git on stdin, stays in git.ts.
 */
import { type SimpleGit, simpleGit } from 'simple-git';
import { LockstepError } from '../errors.js';
import { listExperiments, REF_PREFIX, resolveExperiment } from './records.js';

/**
 * git in `root`, never prompting for credentials (a prompt would hang a command nobody watches). simple-git 4
 * drops the caller's GIT_* variables unless each is allowed; experiment refs must travel as the user's own
 * `git push` would (GIT_SSH_COMMAND, GIT_SSL_CAINFO, ...), so the whole environment is passed on as it is.
 */
function gitIn(root: string): SimpleGit {
  const env = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
  return simpleGit({ baseDir: root, allowEnvironment: Object.keys(env) }).env(env);
}

/** git's own first line of complaint, for the message. */
const why = (e: unknown): string => ((e as Error).message ?? '').trim().split('\n')[0] ?? '';

export interface ShareOptions {
  names?: string[];
  all?: boolean;
  allCommits?: boolean;
}

async function checkRemote(root: string, remote: string): Promise<void> {
  const remotes = (await gitIn(root).getRemotes()).map((r) => r.name);
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
  try {
    await gitIn(root).push(
      remote,
      undefined,
      refs.map((r) => `${r}:${r}`),
    );
  } catch (e) {
    throw new LockstepError(
      'remote',
      `git push of ${refs.length} experiment ref(s) to '${remote}' failed: ${why(e)}`,
      'Check access and network; a ref that exists there with another commit is not overwritten.',
    );
  }
  return refs;
}

/** Fetch experiment refs (by name, or all) from a git remote; returns the refs fetched. */
export async function pullExperiments(root: string, remote: string, opts: ShareOptions): Promise<string[]> {
  await checkRemote(root, remote);
  let listing: string;
  try {
    listing = await gitIn(root).listRemote([remote, `${REF_PREFIX}*`]);
  } catch (e) {
    throw new LockstepError(
      'remote',
      `cannot list experiment refs of '${remote}': ${why(e)}`,
      'Check the remote URL and your access with `git ls-remote`.',
    );
  }
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
  try {
    // `git fetch <remote> <refspec>…`: simple-git passes a list of options through in order
    await gitIn(root).fetch([remote, ...refs.map((r) => `+${r}:${r}`)]);
  } catch (e) {
    throw new LockstepError(
      'remote',
      `git fetch of ${refs.length} experiment ref(s) from '${remote}' failed: ${why(e)}`,
      'Check the remote URL and your access with `git fetch`.',
    );
  }
  return refs;
}
