/**
 * `lockstep worker`: takes queued jobs and runs each in a git worktree of this clone (kept from job to
 * job, worktrees.ts) at the job's baseline (fetched from the git remote when this clone is behind),
 * sharing this clone's cache.
 * An experiment runs as `exp run` does (its stages restored from the lockstep remote when it has them:
 * `repro --pull`); then its record goes to the git remote and its outputs and run-cache entries to the
 * lockstep remote. A warm-up job reproduces shared stages and pushes them, so other workers restore
 * them instead of running them again. A job whose record already exists on the git remote (a worker
 * died after pushing it) completes without running again: exactly one record per job.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { LockstepError } from '../errors.js';
import { gitMaybe } from '../exp/git.js';
import { expRef, resolveExperiment } from '../exp/records.js';
import type { ParamOverride } from '../exp/sweep.js';
import { applyAssignments } from '../exp/params-edit.js';
import { readReproOutput, type StageCounts } from '../exp/repro-log.js';
import { loadPipeline } from '../config/load.js';
import type { Pipeline } from '../config/types.js';
import { readProjectLock } from '../pipeline/lock-set.js';
import { lockToRepoPaths } from '../pipeline/lockfile.js';
import type { LockedStage } from '../pipeline/lockfile-types.js';
import type { Project } from '../project.js';
import { canSupervise, killGroup, supervised } from '../util/supervise.js';
import { openQueue, loadQueueConfig } from './open.js';
import type { JobContext, JobOutcome, JobSpec, QueueBackend } from './types.js';
import { WorktreePool } from './worktrees.js';

const WAIT_POLL_MS = 500;

export type WorkerEvent =
  | { type: 'ready'; worker: string; queue: string }
  | { type: 'job'; worker: string; name: string; kind: string; attempt: number }
  | { type: 'done'; worker: string; name: string; state: string; error?: string };

export interface WorkerOptions {
  name: string;
  concurrency: number;
  bin: string;
  signal: AbortSignal;
  untilEmpty?: boolean;
  onEvent?: (e: WorkerEvent) => void;
}

/**
 * When a job's phases began (ms since the epoch): taken by this worker, its ref and baseline checked
 * against the git remote, shared stages ready, its worktree checked out, the experiment planned and
 * started (or the warm-up repro started), its first stage started, it was recorded (ended), its workspace
 * removed (returned), its outputs pushed, its ref pushed, its worktree removed. Logged as one `timing`
 * line per job, from which bench/queue-sweep.ts computes the queue's overhead per job and its parts.
 */
interface JobTimes {
  taken: number;
  checked?: number;
  ready?: number;
  worktree?: number;
  planned?: number;
  start?: number;
  firstStage?: number;
  end?: number;
  returned?: number;
  pushed?: number;
  refPushed?: number;
  cleaned?: number;
}

const timingLine = (t: JobTimes): string =>
  `timing ${Object.entries(t)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;

const stagesLine = (s: StageCounts): string =>
  `stages ran: ${s.ran.join(', ') || '-'}; restored: ${s.restored.join(', ') || '-'}`;

const toOverrides = (spec: JobSpec): ParamOverride[] =>
  spec.assignments.map((a) => ({ file: a.file, key: a.key, values: [a.value], source: `${a.key}=${String(a.value)}` }));

async function ensureBaseline(root: string, spec: JobSpec, ctx: JobContext): Promise<void> {
  if ((await gitMaybe(root, ['cat-file', '-e', `${spec.baseline}^{commit}`])) !== null) return;
  await ctx.log(`fetching ${spec.baseline.slice(0, 7)} from ${spec.gitRemote}`);
  await gitMaybe(root, ['fetch', '--quiet', spec.gitRemote]);
  if ((await gitMaybe(root, ['cat-file', '-e', `${spec.baseline}^{commit}`])) === null)
    await gitMaybe(root, ['fetch', '--quiet', spec.gitRemote, spec.baseline]);
  if ((await gitMaybe(root, ['cat-file', '-e', `${spec.baseline}^{commit}`])) === null)
    throw new LockstepError(
      'exp',
      `baseline ${spec.baseline.slice(0, 7)} is not on ${spec.gitRemote}`,
      'Push the baseline commit, then queue again.',
    );
}

/** Run `fn` in a worktree of the pool at the job's baseline (worktrees.ts), given back afterwards. */
async function withWorktree<T>(
  pool: WorktreePool,
  spec: JobSpec,
  times: JobTimes,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await pool.take(spec.baseline);
  times.worktree = Date.now();
  try {
    return await fn(dir);
  } finally {
    pool.give(dir);
    times.cleaned = Date.now();
  }
}

function hasRemoteStore(project: Project): boolean {
  return Object.keys(project.config.remote ?? {}).length > 0;
}

/**
 * Push a job's results: of the stages in its lock (all pipeline files'), the outputs the lockstep remote
 * lacks and their run-cache entries (remote/stage-push.ts), so the remote holds every object an entry
 * or the experiment's record names before the record is pushed. Outputs restored from the remote are
 * asked about by their root object only, not file by file.
 */
async function pushResults(
  project: Project,
  pipeline: Pipeline,
  stages: Record<string, LockedStage>,
  ctx: JobContext,
): Promise<void> {
  if (!hasRemoteStore(project)) return;
  const flags = new Map(pipeline.stages.flatMap((st) => st.outs.map((o) => [`${st.name}\0${o.path}`, o] as const)));
  const { pushStages } = await import('../remote/index.js');
  const r = await pushStages(project, stages, { flags: (stage, p) => flags.get(`${stage}\0${p}`) });
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  await ctx.log(
    `pushed to the lockstep remote: ${r.pushed.join(', ') || '-'} ` +
      `(asked ${plural(r.questions, 'question', 'questions')}, ` +
      `${plural(r.objects, 'object', 'objects')}, ${plural(r.entries, 'run-cache entry', 'run-cache entries')}); ` +
      `already there: ${r.present.join(', ') || '-'}`,
  );
  // the record must not name objects the remote lacks (exp pull and other workers rely on it)
  if (r.missing.length > 0)
    throw new LockstepError(
      'remote',
      `this worker's cache lacks ${r.missing.length} object(s) of the job's outputs (${r.missing[0]}), so the ` +
        'lockstep remote lacks them too; the record was not pushed',
      'Check the cache of this worker (lockstep status), then queue the experiment again.',
    );
}

/** Wait until the warm-ups a job needs are done (completed, or failed: then the job runs them itself). */
async function waitForDeps(queue: QueueBackend, spec: JobSpec, ctx: JobContext): Promise<void> {
  if (!spec.after?.length) return;
  await ctx.progress(`waiting for shared stages (${spec.after.length} warm-up job(s))`);
  for (;;) {
    if (ctx.signal.aborted) throw new LockstepError('interrupted', 'stopped while waiting for shared stages');
    const states = new Map((await queue.list()).map((j) => [j.spec.id, j.state]));
    if (
      spec.after.every((id) => {
        const s = states.get(id);
        return s === undefined || s === 'completed' || s === 'failed';
      })
    )
      return;
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

async function runWarmup(
  project: Project,
  spec: JobSpec,
  dir: string,
  opts: WorkerOptions,
  ctx: JobContext,
  times: JobTimes,
): Promise<JobOutcome> {
  // The experiment's params, for the stages it shares with others.
  for (const file of new Set(spec.assignments.map((a) => a.file))) {
    const abs = path.join(dir, file);
    const text = await fs.readFile(abs, 'utf8');
    await fs.writeFile(
      abs,
      applyAssignments(
        file,
        text,
        spec.assignments.filter((a) => a.file === file),
      ),
    );
  }
  const pull = hasRemoteStore(project) ? ['--pull'] : [];
  await ctx.progress(`warm-up: ${spec.stages?.join(', ')}`);
  // Supervised as exp run's repro is (util/supervise.ts): the repro and its stages die with this worker,
  // kill -9 included; detached, so a cancelled job stops the whole tree.
  const argv = [process.execPath, opts.bin, 'repro', '--json', ...pull, ...(spec.stages ?? [])];
  const sup = canSupervise ? supervised(argv) : null;
  const child = execa(sup?.file ?? argv[0]!, sup?.args ?? argv.slice(1), {
    cwd: dir,
    reject: false,
    detached: true,
    stdio: sup?.stdio ?? ['ignore', 'pipe', 'pipe'],
    env: { LOCKSTEP_CACHE_DIR: project.cacheDir },
  });
  const stop = () => {
    killGroup(child.pid, 'SIGTERM'); // repro stops its stages and forgets their lock entries
    setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3000).unref();
  };
  ctx.signal.addEventListener('abort', stop, { once: true });
  times.start = Date.now();
  const r = await child.finally(() => ctx.signal.removeEventListener('abort', stop));
  times.end = Date.now();
  const { log, stages } = readReproOutput(String(r.stdout ?? ''), String(r.stderr ?? ''));
  await ctx.log(log);
  await ctx.log(stagesLine(stages));
  if (r.exitCode !== 0) return { state: 'failed', error: log.trim().split('\n').at(-1) || 'warm-up failed' };
  // every pipeline file's lock (a shared stage may be a sub-pipeline's), as the record collects them
  const pipeline = await loadPipeline(dir, { cacheDir: project.cacheDir });
  const lock = await readProjectLock(dir, pipeline, pipeline.stages);
  const wanted = new Set(spec.stages ?? Object.keys(lock.stages));
  const shared = Object.fromEntries(Object.entries(lock.stages).filter(([n]) => wanted.has(n)));
  await pushResults(project, pipeline, shared, ctx);
  times.pushed = Date.now();
  return { state: 'success' };
}

async function runExperimentJob(
  project: Project,
  spec: JobSpec,
  dir: string,
  ctx: JobContext,
  push: boolean,
  times: JobTimes,
): Promise<JobOutcome> {
  const { runExperiments } = await import('../exp/run.js');
  const results = await runExperiments({
    cwd: dir,
    overrides: toOverrides(spec),
    name: spec.name,
    signal: ctx.signal,
    pull: hasRemoteStore(project),
    // its scratch copy goes after the pushes, while the job completes and the next one starts
    removeWorkspaces: 'later',
    onEvent: (e) => {
      if (e.type === 'planned') times.planned = Date.now();
      if (e.type === 'start') {
        times.start = Date.now();
        void ctx.progress(`running ${e.name}`);
      }
      if (e.type === 'progress') {
        times.firstStage ??= Date.now();
        // what exp show and exp queue list show for a running job: the stage, and the epoch when training
        void ctx.progress(`${e.stage}${e.epoch && e.epochs ? ` epoch ${e.epoch}/${e.epochs}` : ''}`);
      }
      if (e.type === 'done') {
        times.end = Date.now();
        void ctx.log(`${e.result.name}: ${e.result.state}${e.result.error ? `\n${e.result.error}` : ''}`);
        void ctx.log(stagesLine(e.result.stages));
      }
    },
  });
  times.returned = Date.now();
  try {
    const result = results[0];
    if (!result) return { state: 'failed', error: 'the experiment did not run' };
    const record = await resolveExperiment(project.root, result.sha);
    if (record.lock) {
      // a sub-pipeline's entries are relative to their wdir in its lock; the run-cache keys them repo-relative
      const pipeline = await loadPipeline(dir, { cacheDir: project.cacheDir });
      const wdirs = new Map(pipeline.stages.filter((s) => s.wdir !== '.').map((s) => [s.name, s.wdir]));
      await pushResults(project, pipeline, lockToRepoPaths(record.lock, wdirs).stages, ctx);
    }
    times.pushed = Date.now();
    if (push) {
      const { pushExperiments } = await import('../exp/share.js');
      await pushExperiments(project.root, spec.gitRemote, { names: [result.sha] });
    }
    times.refPushed = Date.now();
    return { state: result.state, sha: result.sha, ...(result.error ? { error: result.error } : {}) };
  } finally {
    // the experiment's scratch workspace goes now, while the job completes and the next one starts
    (await import('../exp/workspace.js')).startDeferredRemovals();
  }
}

export async function runWorker(project: Project, opts: WorkerOptions): Promise<void> {
  const cfg = await loadQueueConfig(project.root);
  const queue = await openQueue(project.root, cfg);
  const worktrees = new WorktreePool(project.root);
  const remoteWorkers = !!cfg.url; // with the local queue, workers share this clone's refs
  // Every worktree shares this clone's cache: outputs restored or produced once serve every job.
  process.env.LOCKSTEP_CACHE_DIR ??= project.cacheDir;
  opts.onEvent?.({ type: 'ready', worker: opts.name, queue: queue.display });
  try {
    await queue.work({
      name: opts.name,
      concurrency: opts.concurrency,
      signal: opts.signal,
      ...(opts.untilEmpty ? { untilEmpty: true } : {}),
      handler: async (spec, ctx) => {
        opts.onEvent?.({
          type: 'job',
          worker: opts.name,
          name: spec.name,
          kind: spec.kind ?? 'experiment',
          attempt: ctx.attempt,
        });
        let outcome: JobOutcome;
        const times: JobTimes = { taken: Date.now() };
        try {
          if (spec.kind !== 'warmup' && remoteWorkers) {
            // A worker that died after pushing the record: take the record, do not run it twice.
            const ref = expRef(spec.baseline, spec.name);
            const there = await gitMaybe(project.root, ['ls-remote', spec.gitRemote, ref]);
            if (there?.trim()) {
              await gitMaybe(project.root, ['fetch', '--quiet', spec.gitRemote, `${ref}:${ref}`]);
              const rec = await resolveExperiment(project.root, there.split('\t')[0]!.trim());
              outcome = { state: rec.state, sha: rec.sha };
              opts.onEvent?.({ type: 'done', worker: opts.name, name: spec.name, state: outcome.state });
              return outcome;
            }
          }
          await ensureBaseline(project.root, spec, ctx);
          times.checked = Date.now();
          await waitForDeps(queue, spec, ctx);
          times.ready = Date.now();
          outcome = await withWorktree(worktrees, spec, times, (dir) =>
            spec.kind === 'warmup'
              ? runWarmup(project, spec, dir, opts, ctx, times)
              : runExperimentJob(project, spec, dir, ctx, remoteWorkers, times),
          );
          await ctx.log(timingLine(times));
        } catch (e) {
          outcome = { state: 'failed', error: e instanceof Error ? e.message : String(e) };
        }
        opts.onEvent?.({
          type: 'done',
          worker: opts.name,
          name: spec.name,
          state: outcome.state,
          ...(outcome.error ? { error: outcome.error } : {}),
        });
        return outcome;
      },
    });
  } finally {
    await queue.close();
    await worktrees.close();
    await (await import('../exp/workspace.js')).deferredRemovals();
  }
}
