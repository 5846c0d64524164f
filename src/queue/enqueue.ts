/**
 * `exp run --queue`: plan the sweep exactly as `exp run` would (same checks, names, shared stages),
 * then hand it to the queue instead of running it. Stages that several experiments share become one
 * warm-up job each, which the experiments that need them wait for: across all workers, a shared stage
 * runs once, and the others restore it from the lockstep remote's run-cache (`repro --pull`).
 */
import { randomUUID } from 'node:crypto';
import { LockstepError } from '../errors.js';
import { git, gitMaybe } from '../exp/git.js';
import { planExperimentRun } from '../exp/run.js';
import type { ParamOverride } from '../exp/sweep.js';
import { loadQueueConfig, openQueue } from './open.js';
import type { JobSpec } from './types.js';

export interface EnqueueResult {
  queue: string;
  baseline: string;
  jobs: JobSpec[];
}

/** The baseline must be reachable from the git remote, or workers elsewhere cannot check it out. */
async function checkReachable(root: string, remote: string, sha: string): Promise<void> {
  const remotes = (await git(root, ['remote'])).split('\n').filter(Boolean);
  if (!remotes.includes(remote))
    throw new LockstepError(
      'remote',
      `'${remote}' is not a git remote of ${root} (queue.git_remote); remotes: ${remotes.join(', ') || 'none'}`,
      'Add it with `git remote add`, or set queue.git_remote in .lockstep/config.yaml.',
    );
  if ((await gitMaybe(root, ['fetch', '--quiet', remote])) === null)
    throw new LockstepError('remote', `git fetch from '${remote}' failed`, 'Check the remote (git fetch by hand).');
  const containing = await git(root, ['branch', '-r', '--contains', sha, '--list', `${remote}/*`]);
  if (!containing.trim())
    throw new LockstepError(
      'exp',
      `the baseline ${sha.slice(0, 7)} is not on '${remote}', so workers could not check it out`,
      'Push it first (git push), then queue again.',
    );
}

export async function enqueueExperiments(
  cwd: string,
  opts: { overrides: ParamOverride[]; name?: string },
): Promise<EnqueueResult> {
  const ctx = await planExperimentRun({ cwd, overrides: opts.overrides, ...(opts.name ? { name: opts.name } : {}) });
  const dirty = await git(ctx.root, ['status', '--porcelain', '--untracked-files=no']);
  if (dirty.trim())
    throw new LockstepError(
      'exp',
      `uncommitted changes in ${dirty.trim().split('\n').length} tracked file(s); queued experiments run from the ` +
        `commit`,
      'Commit and push them, or run here with `lockstep exp run` (which takes uncommitted changes).',
    );
  const cfg = await loadQueueConfig(ctx.root);
  const queue = await openQueue(ctx.root, cfg);
  try {
    const queued = await queue.list();
    if (cfg.url) await checkReachable(ctx.root, cfg.gitRemote, ctx.baseline);
    const taken = new Set(
      queued.filter((j) => j.spec.baseline === ctx.baseline && j.state !== 'failed').map((j) => j.spec.name),
    );
    const clash = ctx.experiments.find((e) => taken.has(e.name));
    if (clash)
      throw new LockstepError(
        'exp',
        `experiment name '${clash.name}' is already queued on this baseline`,
        'Pick another name with -n.',
      );
    // Warm-ups first in the queue's order (by creation time), then the experiments that wait for them.
    const now = Date.now();
    const created = new Date(now + 1).toISOString();
    const base = { baseline: ctx.baseline, gitRemote: cfg.gitRemote, created };
    const ids = ctx.experiments.map(() => randomUUID());
    const warmups = new Map<number, JobSpec>();
    ctx.plan.warmup.forEach((stages, i) => {
      if (!stages.length) return;
      const e = ctx.experiments[i]!;
      warmups.set(i, {
        ...base,
        id: randomUUID(),
        name: `${e.name}.warmup`,
        assignments: e.assignments,
        kind: 'warmup',
        stages,
      });
    });
    for (const [i, w] of warmups) {
      const after = (ctx.plan.waitFor[i] ?? []).flatMap((j) => (warmups.get(j) ? [warmups.get(j)!.id] : []));
      if (after.length) w.after = after;
    }
    const jobs: JobSpec[] = ctx.experiments.map((e, i) => {
      const after = [...(ctx.plan.waitFor[i] ?? []), ...(warmups.has(i) ? [i] : [])].flatMap((j) =>
        warmups.get(j) ? [warmups.get(j)!.id] : [],
      );
      return { ...base, id: ids[i]!, name: e.name, assignments: e.assignments, ...(after.length ? { after } : {}) };
    });
    const all = [...warmups.values(), ...jobs];
    await queue.add(all);
    return { queue: queue.display, baseline: ctx.baseline, jobs: all };
  } finally {
    await queue.close();
  }
}
