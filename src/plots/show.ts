/**
 * The `plots show` / `plots diff` use case: the plots the pipeline declares (or the targets asked
 * for), read from each run (workspace, revisions, experiments) and turned into Vega-Lite specs with
 * their data, or images. Returns data; the CLI writes the HTML or JSON.
 */
import path from 'node:path';
import { loadPipeline } from '../config/load.js';
import { LockstepError } from '../errors.js';
import { parsePlotData, type Row } from './data.js';
import { collectDefinitions, type PlotDefinition, selectDefinitions } from './definitions.js';
import { openSources, type RevSource } from './revs.js';
import { buildSpec, type BuiltSpec, type RunRows } from './vega.js';

export type PlotResult =
  | { id: string; kind: 'vega'; built: BuiltSpec }
  | { id: string; kind: 'image'; images: Array<{ rev: string; file: string; mime: string; data: Buffer }> };

export interface PlotsQuery {
  root: string;
  cacheDir: string;
  /** Plot ids, files or folders; every declared plot when empty. */
  targets: string[];
  /** Runs to read: 'workspace', git revisions, experiment names. */
  revs: string[];
  /** Names to show instead of the revs given (e.g. an experiment's name for its sha). */
  labels?: Record<string, string>;
  /** Read from these instead of opening `revs` (e.g. the workspaces of running experiments). */
  sources?: RevSource[];
}

export interface PlotsReport {
  revs: string[];
  plots: PlotResult[];
  /** Files that could not be read or parsed for some run (the plot is drawn from the others). */
  warnings: string[];
}

const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
};

/** Union of a folder's files over the runs (a folder may have more files in one revision). */
function listAcross(sources: RevSource[]) {
  return async (dir: string): Promise<string[] | null> => {
    let any = false;
    const files = new Set<string>();
    for (const s of sources) {
      const l = await s.list(dir);
      if (l) {
        any = true;
        for (const f of l) files.add(f);
      }
    }
    return any ? [...files] : null;
  };
}

export async function collectPlots(q: PlotsQuery): Promise<PlotsReport> {
  const pipeline = await loadPipeline(q.root);
  const sources = q.sources ?? (await openSources(q.root, q.cacheDir, q.revs));
  for (const s of sources) s.name = q.labels?.[s.name] ?? s.name;
  const list = listAcross(sources);
  const all = await collectDefinitions(pipeline, list);
  let defs = selectDefinitions(all, q.targets);
  // A target no definition names is drawn with the default properties, as DVC does.
  for (const t of q.targets) {
    const norm = t.replace(/^\.\//, '').replace(/\/+$/, '');
    if (defs.some((d) => d.id === norm || d.id.startsWith(`${norm}/`) || d.sources.some((s) => s.file === norm)))
      continue;
    const adhoc = await collectDefinitions(
      { file: pipeline.file, stages: [], plots: [{ id: norm, path: norm, props: {} }] },
      list,
    );
    const readable = [];
    for (const d of adhoc) if (await anyHas(sources, d)) readable.push(d);
    if (!readable.length)
      throw new LockstepError(
        'usage',
        `no plot or plot file '${t}' in ${sources.map((s) => s.name).join(', ')}`,
        'Give a plot id or a data file (JSON, YAML, CSV, TSV) or image; ' +
          '`lockstep plots show` lists what the pipeline declares.',
      );
    defs = [...defs, ...readable];
  }
  const warnings: string[] = [];
  const plots: PlotResult[] = [];
  for (const def of defs) {
    if (def.kind === 'image') {
      const file = def.sources[0]?.file as string;
      const images: Extract<PlotResult, { kind: 'image' }>['images'] = [];
      for (const s of sources) {
        const data = await s.read(file);
        if (data) images.push({ rev: s.name, file, mime: MIME[path.extname(file).toLowerCase()] ?? 'image/png', data });
      }
      if (images.length) plots.push({ id: def.id, kind: 'image', images });
      continue;
    }
    const runs: RunRows[] = [];
    for (const s of sources) {
      const files = new Map<string, Row[]>();
      for (const src of def.sources) {
        const bytes = await s.read(src.file);
        if (!bytes) continue;
        try {
          files.set(src.file, parsePlotData(src.file, bytes, { header: def.props.header ?? true }));
        } catch (e) {
          if (!(e instanceof LockstepError)) throw e;
          warnings.push(`${s.name}: ${e.message}`);
        }
      }
      runs.push({ rev: s.name, files });
    }
    const built = buildSpec(def, runs);
    if (built) plots.push({ id: def.id, kind: 'vega', built });
  }
  return { revs: sources.map((s) => s.name), plots, warnings };
}

async function anyHas(sources: RevSource[], def: PlotDefinition): Promise<boolean> {
  for (const s of sources) for (const src of def.sources) if (await s.read(src.file)) return true;
  return false;
}

/** DVC's rule for `plots diff`: no revision compares the workspace with HEAD, one compares it with that revision. */
export function diffRevs(revs: string[]): string[] {
  if (revs.length === 0) return ['workspace', 'HEAD'];
  if (revs.length === 1) return ['workspace', revs[0] as string];
  return [...new Set(revs)];
}

/** `plots show --json` in DVC's shape: plot id -> [{type, revs, content}]. */
export function plotsJson(report: PlotsReport): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const p of report.plots) {
    out[p.id] =
      p.kind === 'vega'
        ? [{ type: 'vega', revs: p.built.revs, content: p.built.spec }]
        : p.images.map((im) => ({ type: 'image', revs: [im.rev], url: im.file }));
  }
  return out;
}
