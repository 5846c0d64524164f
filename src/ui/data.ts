/**
 * What the experiments page shows, as data (read-only): the `exp show` table (and grouped by a param
 * with mean and std over seeds), one run's params, metrics and plots, the curves of several runs
 * overlaid, and the experiments running now with their curves read from their workspaces.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LockstepError } from '../errors.js';
import { type ListedExperiment, listExperiments } from '../exp/records.js';
import { listRunning } from '../exp/running.js';
import { showTable } from '../exp/show.js';
import type { ExpTable } from '../exp/table.js';
import { workspaceSource } from '../plots/revs.js';
import { collectPlots, type PlotResult } from '../plots/show.js';

export interface UiContext {
  root: string;
  cacheDir: string;
}

/** A plot as the page draws it: a Vega-Lite spec, or images as data URLs. */
export type UiPlot =
  | { id: string; kind: 'vega'; spec: unknown; series: string[]; points: number }
  | { id: string; kind: 'image'; images: Array<{ rev: string; url: string }> };

const CURVE_TEMPLATES = new Set(['linear', 'simple', 'scatter', 'smooth']);

function toUi(p: PlotResult): UiPlot {
  return p.kind === 'vega'
    ? { id: p.id, kind: 'vega', spec: p.built.spec, series: p.built.series, points: p.built.points }
    : {
        id: p.id,
        kind: 'image',
        images: p.images.map((im) => ({ rev: im.rev, url: `data:${im.mime};base64,${im.data.toString('base64')}` })),
      };
}

const curvesOnly = (plots: PlotResult[]) =>
  plots.filter((p) => p.kind === 'vega' && CURVE_TEMPLATES.has(p.built.template));

export interface ExperimentsView {
  table: ExpTable;
  /** Grouped by `groupBy` (default the `data` param) with mean and std; null when there is no such param. */
  grouped: ExpTable | null;
  groupBy: string;
}

async function records(ctx: UiContext): Promise<ListedExperiment[]> {
  return listExperiments(ctx.root, { allCommits: true });
}

export async function experiments(ctx: UiContext, groupBy = 'data'): Promise<ExperimentsView> {
  const recs = await records(ctx);
  const table = showTable(recs, {});
  let grouped: ExpTable | null = null;
  try {
    grouped = recs.length ? showTable(recs, { groupBy: [groupBy], agg: ['mean', 'std'] }) : null;
  } catch (e) {
    if (!(e instanceof LockstepError)) throw e;
  }
  return { table, grouped, groupBy };
}

async function bySha(ctx: UiContext, sha: string): Promise<ListedExperiment> {
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new LockstepError('usage', `'${sha}' is not an experiment sha`);
  const rec = (await records(ctx)).find((r) => r.sha === sha);
  if (!rec) throw new LockstepError('exp', `no experiment with sha ${sha}`);
  return rec;
}

export interface RunView {
  name: string;
  sha: string;
  baseline: string;
  state: string;
  params: ListedExperiment['params'];
  metrics: ListedExperiment['metrics'];
  plots: UiPlot[];
  warnings: string[];
}

/** One run: its params, metrics and every plot of the pipeline read from its record and the cache. */
export async function run(ctx: UiContext, sha: string): Promise<RunView> {
  const rec = await bySha(ctx, sha);
  const report = await collectPlots({ ...ctx, targets: [], revs: [sha], labels: { [sha]: rec.name } });
  return {
    name: rec.name,
    sha,
    baseline: rec.baseline,
    state: rec.state,
    params: rec.params,
    metrics: rec.metrics,
    plots: report.plots.map(toUi),
    warnings: report.warnings,
  };
}

/** The curve plots of several runs, overlaid (one chart per plot). */
export async function compare(ctx: UiContext, shas: string[]): Promise<UiPlot[]> {
  if (!shas.length) return [];
  const recs = await Promise.all(shas.map((s) => bySha(ctx, s)));
  // two runs may share a name under different baselines: add the baseline to tell them apart
  const names = recs.map((r) => r.name);
  const labels = Object.fromEntries(
    recs.map((r) => [
      r.sha,
      names.filter((n) => n === r.name).length > 1 ? `${r.name}@${r.baseline.slice(0, 7)}` : r.name,
    ]),
  );
  const report = await collectPlots({ ...ctx, targets: [], revs: shas, labels });
  return curvesOnly(report.plots).map(toUi);
}

export interface RunningView {
  name: string;
  started: string;
  assignments: Array<{ key: string; value: unknown }>;
  plots: UiPlot[];
}

/** Experiments running now, with the curves their workspaces hold so far. */
export async function running(ctx: UiContext): Promise<RunningView[]> {
  const out: RunningView[] = [];
  for (const e of await listRunning(ctx.root)) {
    const report = await collectPlots({
      ...ctx,
      targets: [],
      revs: [],
      sources: [workspaceSource(e.dir, e.name)],
    }).catch(() => null); // the workspace may vanish as the run ends
    out.push({
      name: e.name,
      started: e.started,
      assignments: e.assignments.map((a) => ({ key: a.key, value: a.value })),
      plots: report ? curvesOnly(report.plots).map(toUi) : [],
    });
  }
  return out;
}

/**
 * A cheap fingerprint of what `running` would show: the running entries and the size and mtime of
 * every file in their `plots/` folders. The page is told to refresh when it changes.
 */
export async function runningSignature(ctx: UiContext): Promise<string> {
  const parts: string[] = [];
  for (const e of await listRunning(ctx.root)) {
    parts.push(e.name);
    const dir = path.join(e.dir, 'plots');
    const files = await fs.readdir(dir).catch(() => [] as string[]);
    for (const f of files.sort()) {
      const st = await fs.stat(path.join(dir, f)).catch(() => null);
      if (st) parts.push(`${f}:${st.size}:${st.mtimeMs}`);
    }
  }
  return parts.join('|');
}
