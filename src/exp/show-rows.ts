/**
 * The rows `exp show` draws, as DVC draws them: the `workspace` first, then each baseline commit (its own
 * params and metrics, named by its branch or tag) followed by its experiments. A use case: it reads git
 * and the working tree, returns data, takes no lock.
 */
import type { Pipeline } from '../config/types.js';
import { LockstepError } from '../errors.js';
import { LOCK_FILES, openProject } from '../project.js';
import { paramsFilesOf } from './collect.js';
import { gitMaybe } from './git.js';
import { type ListOptions, type ListedExperiment, listExperiments, resolveRevs } from './records.js';
import {
  type CacheAccess,
  baselineNames,
  commitTimes,
  metricsFilesByImportance,
  primaryMetricsFiles,
  readSnapshot,
  snapshotFiles,
} from './snapshot.js';
import type { ShowRecord } from './table.js';

export interface ShowRows {
  /** Workspace, baselines and experiments, in display order. */
  rows: ShowRecord[];
  /** The experiments alone (the records `--json` adds run details from). */
  experiments: ListedExperiment[];
  /** Metrics files, most important first (the table's column order). */
  metricsOrder: string[];
  /** The metrics files whose columns a narrow terminal keeps first; undefined: every file. */
  primaryMetrics?: string[];
  head: string | null;
}

/** The pipeline when it loads; `exp show` still shows the records of a project whose pipeline is broken. */
export async function pipelineOf(root: string): Promise<Pipeline | null> {
  try {
    const { loadPipeline } = await import('../config/load.js');
    return await loadPipeline(root);
  } catch (e) {
    if (e instanceof LockstepError || (e as { name?: string }).name === 'ConfigProblemsError') return null;
    throw e;
  }
}

export async function cacheAccess(root: string, pipeline: Pipeline): Promise<CacheAccess | undefined> {
  try {
    const project = await openProject(root);
    return { cacheDir: project.cacheDir, lockName: LOCK_FILES[pipeline.file] ?? 'pipeline.lock' };
  } catch (e) {
    if (e instanceof LockstepError) return undefined; // a broken config: the rows show what git holds
    throw e;
  }
}

export async function collectShowRows(
  root: string,
  opts: ListOptions & { baselineRows?: boolean } = {},
): Promise<ShowRows> {
  const experiments = await listExperiments(root, opts);
  const head = (await gitMaybe(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']))?.trim() || null;
  const pipeline = await pipelineOf(root);
  const metricsOrder = pipeline ? metricsFilesByImportance(pipeline) : [];
  const ranking = { metricsOrder, ...(pipeline ? { primaryMetrics: primaryMetricsFiles(pipeline) } : {}) };
  if (opts.baselineRows === false) return { rows: experiments, experiments, ...ranking, head };
  // the baselines asked for (even without experiments), else those with experiments; HEAD's first
  let baselines: string[];
  if (opts.allCommits) baselines = [...new Set(experiments.map((e) => e.baseline))];
  else baselines = await resolveRevs(root, opts.revs?.length ? opts.revs : ['HEAD']);
  if (head && (opts.allCommits || !opts.revs?.length) && !baselines.includes(head)) baselines.unshift(head);
  if (head) baselines = [...baselines.filter((b) => b === head), ...baselines.filter((b) => b !== head)];
  baselines = [...new Set(baselines)];
  const files = snapshotFiles(pipeline, experiments, pipeline ? paramsFilesOf(pipeline) : []);
  const [names, times] = await Promise.all([baselineNames(root, baselines), commitTimes(root, baselines)]);
  const rows: ShowRecord[] = [];
  if (head) {
    const ws = await readSnapshot(root, null, files);
    rows.push({ kind: 'workspace', name: 'workspace', baseline: head, ...ws, overrides: [] });
  }
  // git-ignored metrics of a baseline (the usual case for a stage's metrics) come from the cache via its lock
  const access = pipeline ? await cacheAccess(root, pipeline) : undefined;
  for (const b of baselines) {
    const snap = await readSnapshot(root, b, files, access);
    const row: ShowRecord = { kind: 'baseline', name: names.get(b) ?? b.slice(0, 7), baseline: b, sha: b, ...snap };
    const created = times.get(b);
    if (created) row.created = created;
    rows.push(row, ...experiments.filter((e) => e.baseline === b));
  }
  return { rows, experiments, ...ranking, head };
}
