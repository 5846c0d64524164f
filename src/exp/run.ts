/**
 * `exp run`: validate everything first (params keys, names, untracked inputs), then reproduce each
 * experiment of the sweep in its own workspace sharing the project's cache (in this process:
 * workspace-repro.ts), record it under refs/exps, and remove the workspace. Emits typed events; never prints.
 */
import { markRunning } from './running.js';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import YAML from 'yaml';
import { LockstepError } from '../errors.js';
import { LOCAL_CONFIG_FILE, openProject } from '../project.js';
import type { LinkType } from '../cache/types.js';
import type { Pipeline } from '../config/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { registerRun } from '../cache/activity.js';
import { forgetStatsUnder } from '../hash/index.js';
import { checkChoices, loadExpConfig } from './exp-config.js';
import { collectRecordFiles, paramsFilesOf } from './collect.js';
import { checkoutTrackedData, safeLinkTypes, trackedDataFiles } from './workspace-data.js';
import { gitMaybe } from './git.js';
import { planNames } from './names.js';
import { progressOf, type StageCounts } from './repro-log.js';
import { reproInWorkspace } from './workspace-repro.js';
import { applyAssignments, parseParamsText } from './params-edit.js';
import { expRef, META_PATH, takenNames, writeRecord, type RecordMeta } from './records.js';
import { planSweep, stageSignatures } from './schedule.js';
import { expandSweep, type Assignment, type ParamOverride } from './sweep.js';
import {
  createWorkspace,
  removeLater,
  linkedFolders,
  removeStaleWorkspaces,
  trackedFiles,
  untrackedError,
  untrackedInputs,
  type Workspace,
} from './workspace.js';

/** bin/lockstep.js of this installation: above dist/src/exp/run.js, or above dist/bundle/ when bundled. */
export const DEFAULT_BIN = launcherPath(path.dirname(fileURLToPath(import.meta.url)));

function launcherPath(here: string): string {
  for (let dir = here; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const bin = path.join(dir, 'bin', 'lockstep.js');
    if (existsSync(bin)) return bin;
  }
  return path.resolve(here, '../../../bin/lockstep.js');
}
const LOG_TAIL_LINES = 40;
const LOG_KEEP_BYTES = 256 * 1024;

export interface ExpRunOptions {
  cwd: string;
  overrides: ParamOverride[];
  name?: string;
  jobs?: number;
  signal?: AbortSignal;
  onEvent?: (e: ExpEvent) => void;
  /** `--no-run-cache`: every stage runs, none is restored from the run-cache (default true). */
  runCache?: boolean;
  /** Restores that lack objects ask the project's default remote first, as `repro --pull` (a queue worker). */
  pull?: boolean;
  /** Injected for tests; default the config layer's loadPipeline. */
  loadPipeline?: (root: string) => Promise<Pipeline>;
  /**
   * `later`: a finished experiment's workspace is left for the caller to remove (a queue worker, after its
   * job's pushes): startDeferredRemovals() and deferredRemovals() in exp/workspace.ts.
   */
  removeWorkspaces?: 'now' | 'later';
}

export interface PlannedExperiment {
  name: string;
  assignments: Assignment[];
}

export interface ExperimentResult {
  name: string;
  state: 'success' | 'failed';
  sha: string;
  durationMs: number;
  assignments: Assignment[];
  /** Stages that ran and stages restored from the run-cache in this experiment. */
  stages: StageCounts;
  /** Flattened metrics of every metrics file (as recorded). */
  metrics: Record<string, Record<string, unknown>>;
  error?: string;
}

export type ExpEvent =
  | { type: 'planned'; baseline: string; experiments: PlannedExperiment[]; jobs: number }
  | { type: 'start'; name: string; assignments: Assignment[] }
  | { type: 'warmup'; name: string; stages: string[] }
  | { type: 'progress'; name: string; stage: string; epoch?: number; epochs?: number }
  | { type: 'done'; result: ExperimentResult };

export function logTail(log: string, lines = LOG_TAIL_LINES): string {
  const all = log
    .replace(/\r/g, '\n')
    .split('\n')
    .filter((l) => l.trim() !== '');
  return all.slice(-lines).join('\n');
}

/**
 * Everything checked before anything runs; a bad input never leaves a workspace or a ref behind.
 * Exported for `exp run --queue`, which plans the same sweep and hands it to workers.
 */
export async function planExperimentRun(opts: ExpRunOptions) {
  const project = await openProject(opts.cwd);
  const root = project.root;
  if ((await gitMaybe(root, ['rev-parse', '--git-dir'])) === null) {
    throw new LockstepError(
      'exp',
      `${root} is not in a git repository; experiments are recorded as git commits`,
      'Run `git init` and commit the project first.',
    );
  }
  const baseline = (await gitMaybe(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']))?.trim();
  if (!baseline) {
    throw new LockstepError(
      'exp',
      `${root} has no commit to run experiments from`,
      'Commit the project (git add . && git commit) first.',
    );
  }
  const load = opts.loadPipeline ?? (await import('../config/index.js')).loadPipeline;
  const pipeline = await load(root);
  const combos = expandSweep(opts.overrides);
  const expConfig = await loadExpConfig(root);
  for (const combo of combos) checkChoices(combo, expConfig.choices);
  const paramsFiles = new Set(paramsFilesOf(pipeline));
  const texts = new Map<string, string>();
  for (const a of combos.flat()) {
    if (texts.has(a.file)) continue;
    const text = await fs.readFile(path.join(root, a.file), 'utf8').catch(() => null);
    if (text === null)
      throw new LockstepError(
        'missing-param',
        `params file ${a.file} does not exist in ${root}`,
        'Create it, or name an existing file with -S file.yaml:key=value.',
      );
    texts.set(a.file, text);
    paramsFiles.add(a.file);
  }
  // every combination is applied once here so an unknown key fails before the first run
  for (const combo of combos)
    for (const [file, text] of texts)
      applyAssignments(
        file,
        text,
        combo.filter((a) => a.file === file),
      );
  const tracked = await trackedFiles(root);
  // data tracked by committed .dvc files is checked out into each workspace from the cache
  const dataSources = (await trackedDataFiles(root, pipeline, tracked)).flatMap((f) => f.outs.map((o) => o.path));
  const problems = await untrackedInputs(root, pipeline, tracked, dataSources);
  if (problems.length) throw untrackedError(problems);
  const links = await linkedFolders(root, pipeline, tracked, project.cacheDir, expConfig.link);
  const names = planNames(combos.length, opts.name, await takenNames(root, baseline));
  if (opts.name !== undefined) {
    // the pure check mirrors git's rules; git itself has the last word on a user-given name
    for (const n of names) {
      if ((await gitMaybe(root, ['check-ref-format', expRef(baseline, n)])) === null) {
        throw new LockstepError(
          'usage',
          `invalid experiment name '${n}': git check-ref-format rejects ${expRef(baseline, n)}`,
          "Use letters, digits, '-', '_' and '.', e.g. -n lr-sweep.",
        );
      }
    }
  }
  const experiments: PlannedExperiment[] = combos.map((assignments, i) => ({ name: names[i] as string, assignments }));
  // signatures need every params file the pipeline reads, as each experiment will see it
  const baseParams: Record<string, string> = {};
  for (const f of paramsFiles) {
    const text = texts.get(f) ?? (await fs.readFile(path.join(root, f), 'utf8').catch(() => null));
    if (text !== null) baseParams[f] = text;
  }
  const signatures = experiments.map((e, i) => {
    const parsed: Record<string, unknown> = {};
    for (const [f, text] of Object.entries(baseParams)) {
      const own = e.assignments.filter((a) => a.file === f);
      try {
        parsed[f] = parseParamsText(f, own.length ? applyAssignments(f, text, own) : text);
      } catch {
        parsed[f] = `unparsable:${i}`;
      }
    }
    return stageSignatures(pipeline, parsed, String(i));
  });
  return {
    project,
    root,
    baseline,
    pipeline,
    experiments,
    tracked,
    links,
    texts,
    paramsFiles: [...paramsFiles].sort(),
    plan: planSweep(signatures),
  };
}

/** Run the sweep; resolves with one result per experiment (failed ones included). */
export async function runExperiments(opts: ExpRunOptions): Promise<ExperimentResult[]> {
  const ctx = await planExperimentRun(opts);
  await removeStaleWorkspaces();
  // from the first object an experiment caches until its record names it, gc must keep out
  const unregister = await registerRun(ctx.project.cacheDir, 'lockstep exp run');
  try {
    return await sweep(ctx, opts);
  } finally {
    await unregister();
  }
}

async function sweep(
  ctx: Awaited<ReturnType<typeof planExperimentRun>>,
  opts: ExpRunOptions,
): Promise<ExperimentResult[]> {
  const emit = opts.onEvent ?? (() => {});
  const jobs = Math.max(1, opts.jobs ?? 1);
  emit({ type: 'planned', baseline: ctx.baseline, experiments: ctx.experiments, jobs });
  const workspaces = new Set<Workspace>();
  let aborted = opts.signal?.aborted ?? false;
  // every experiment's repro stops on this: its stage commands' process groups are signalled (run-command.ts)
  const stop = new AbortController();
  const onAbort = () => {
    aborted = true;
    stop.abort();
  };
  if (aborted) stop.abort();
  opts.signal?.addEventListener('abort', onAbort);

  const repro = async (ws: Workspace, name: string, targets: string[]) => {
    if (aborted) return { ok: false, log: 'interrupted', stages: { ran: [], restored: [] } };
    const r = await reproInWorkspace({
      dir: ws.dir,
      cacheDir: ctx.project.cacheDir,
      targets,
      runCache: opts.runCache !== false,
      pull: opts.pull === true,
      env: {
        LOCKSTEP_CACHE_DIR: ctx.project.cacheDir,
        LOCKSTEP_PROJECT_ROOT: ctx.root,
        LOCKSTEP_EXP_NAME: name,
        // experiments running side by side share the cores: a stage sizes its threads by this
        LOCKSTEP_JOBS: String(jobs),
        FORCE_COLOR: '0',
        // Node 22+ caches compiled modules across the many short stage processes of a sweep
        NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? path.join(os.tmpdir(), 'lockstep-node-compile-cache'),
      },
      signal: stop.signal,
      onEvent: (e) => {
        const p = progressOf(e);
        if (p) emit({ type: 'progress', name, ...p });
      },
      keepLogChars: LOG_KEEP_BYTES,
    });
    return { ...r, ok: r.ok && !aborted };
  };

  const warmedUp: Array<Promise<void>> = [];
  const resolvers: Array<() => void> = [];
  for (let i = 0; i < ctx.experiments.length; i++) warmedUp.push(new Promise<void>((res) => resolvers.push(res)));
  const limit = pLimit(jobs);

  const runOne = async (i: number): Promise<ExperimentResult | null> => {
    const exp = ctx.experiments[i] as PlannedExperiment;
    if (aborted) return null;
    const started = Date.now();
    emit({ type: 'start', name: exp.name, assignments: exp.assignments });
    const ws = await createWorkspace(ctx.root, ctx.tracked, { links: ctx.links });
    workspaces.add(ws);
    let unmark: (() => Promise<void>) | undefined;
    try {
      unmark = await markRunning(ctx.root, {
        name: exp.name,
        baseline: ctx.baseline,
        dir: ws.dir,
        pid: process.pid,
        started: new Date(started).toISOString(),
        assignments: exp.assignments,
      });
      await restoreByCopy(ws.dir, ctx.project.linkTypes);
      await checkoutTrackedData(ws.dir, ctx.pipeline, ctx.project.cacheDir, ctx.project.linkTypes);
      for (const [file, text] of ctx.texts) {
        const own = exp.assignments.filter((a) => a.file === file);
        if (own.length) await writeFileAtomic(path.join(ws.dir, file), applyAssignments(file, text, own));
      }
      let log = '';
      let ok = true;
      const stages: StageCounts = { ran: [], restored: [] };
      const add = (r: { log: string; stages: StageCounts }) => {
        log += (log ? '\n' : '') + r.log;
        stages.ran.push(...r.stages.ran);
        stages.restored.push(...r.stages.restored);
      };
      const warm = ctx.plan.warmup[i] ?? [];
      if (warm.length) {
        emit({ type: 'warmup', name: exp.name, stages: warm });
        const w = await repro(ws, exp.name, warm);
        add(w);
        ok = w.ok;
      }
      resolvers[i]?.();
      if (ok) {
        const r = await repro(ws, exp.name, []);
        add(r);
        ok = r.ok;
      }
      if (aborted) return null;
      const durationMs = Date.now() - started;
      const collected = await collectRecordFiles(ws.dir, ctx.pipeline, ctx.paramsFiles);
      const meta: RecordMeta = {
        version: 1,
        name: exp.name,
        baseline: ctx.baseline,
        created: new Date().toISOString(),
        state: ok ? 'success' : 'failed',
        overrides: exp.assignments,
        params: collected.params,
        metrics: collected.metrics,
        lock: collected.lock,
        durationMs,
        stages,
      };
      if (!ok) meta.error = logTail(log) || 'repro failed without output';
      const logFile = path.join(ws.dir, '.lockstep', 'exp.log');
      await fs.mkdir(path.dirname(logFile), { recursive: true });
      await fs.writeFile(logFile, log.length > LOG_KEEP_BYTES ? log.slice(-LOG_KEEP_BYTES) : log);
      const files = [
        ...collected.files.filter((f) => f.path !== META_PATH),
        { path: '.lockstep/exp.log', abs: logFile },
      ];
      const sha = await writeRecord(ctx.root, { meta, files });
      const result: ExperimentResult = {
        name: exp.name,
        state: meta.state,
        sha,
        durationMs,
        assignments: exp.assignments,
        stages,
        metrics: meta.metrics,
      };
      if (meta.error) result.error = meta.error;
      emit({ type: 'done', result });
      return result;
    } finally {
      await unmark?.().catch(() => {});
      resolvers[i]?.();
      workspaces.delete(ws);
      if (opts.removeWorkspaces === 'later') removeLater(ws);
      else await ws.remove();
      // this process runs every experiment of the sweep: what it remembers of a removed workspace goes too
      forgetStatsUnder(ctx.project.cacheDir, ws.dir);
    }
  };

  try {
    // allSettled: one broken experiment must not tear down the workspaces of those still running
    const settled = await Promise.allSettled(
      ctx.experiments.map(async (_, i) => {
        await Promise.all((ctx.plan.waitFor[i] ?? []).map((j) => warmedUp[j]));
        return limit(() => runOne(i));
      }),
    );
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) throw failure.reason;
    const results = settled.map((s) => (s as PromiseFulfilledResult<ExperimentResult | null>).value);
    if (aborted)
      throw new LockstepError(
        'interrupted',
        `experiments interrupted; ${results.filter(Boolean).length} of ${results.length} were recorded`,
        'Run the rest again; recorded ones stay under refs/exps.',
      );
    return results.filter((r): r is ExperimentResult => r !== null);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await Promise.all([...workspaces].map((w) => w.remove()));
  }
}

/**
 * Outputs restored in a workspace are reflinked or copied, never hardlinked or symlinked to cache
 * objects, whatever the project chose: a stage that writes into its input would otherwise change the
 * shared cache in place (read-only modes do not stop root, and CI runs as root). The project's order is
 * kept among the safe types; copy is the last resort.
 */
async function restoreByCopy(dir: string, projectTypes: readonly LinkType[]): Promise<void> {
  const types = safeLinkTypes(projectTypes);
  const file = path.join(dir, LOCAL_CONFIG_FILE);
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const doc = YAML.parseDocument(text || '{}');
  doc.setIn(['cache', 'type'], types.join(','));
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, doc.toString(), 0o600);
}
