/**
 * The plots a pipeline declares, as DVC collects them: every stage `plots:` output (a file, or each
 * data and image file of a folder) and every entry of the top-level `plots:` section, in that order.
 * Pure: folders are expanded with a listing the caller gives (the workspace's, or a revision's).
 */
import type { Pipeline, PlotProps } from '../config/types.js';
import { plotFileKind } from './data.js';

/** One data file of a plot and the fields drawn from it. */
export interface PlotSource {
  file: string;
  /** Field on x; undefined draws against the row index (DVC's `step`). */
  x?: string;
  /** Fields on y; empty infers the last field of the first record (DVC's rule). */
  y: string[];
}

export interface PlotDefinition {
  /** The plot's id: its file for file plots, its name for named top-level plots. */
  id: string;
  kind: 'vega' | 'image';
  props: PlotProps;
  sources: PlotSource[];
}

const asList = (v: PlotProps['y']): string[] =>
  v === undefined ? [] : typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];

/** Sources of a plot from its x/y properties (a field, fields, or file -> fields). */
export function sourcesOf(file: string | undefined, props: PlotProps): PlotSource[] {
  const xByFile = typeof props.x === 'object' && !Array.isArray(props.x) ? props.x : undefined;
  const xField = typeof props.x === 'string' ? props.x : undefined;
  if (typeof props.y === 'object' && !Array.isArray(props.y)) {
    return Object.entries(props.y).map(([f, y]) => {
      const x = xByFile?.[f]?.[0] ?? xField;
      return { file: f, y, ...(x !== undefined ? { x } : {}) };
    });
  }
  if (xByFile && !file) {
    return Object.entries(xByFile).map(([f, x]) => ({ file: f, x: x[0] as string, y: asList(props.y) }));
  }
  return file ? [{ file, y: asList(props.y), ...(xField !== undefined ? { x: xField } : {}) }] : [];
}

/**
 * Every plot of the pipeline. `list(dir)` returns the files under a folder (repo-relative), or null when
 * `dir` is not a folder; folders of image files give one image plot per file.
 */
export async function collectDefinitions(
  pipeline: Pipeline,
  list: (dir: string) => Promise<string[] | null>,
): Promise<PlotDefinition[]> {
  const defs: PlotDefinition[] = [];
  const seen = new Set<string>();
  const addFile = (file: string, props: PlotProps) => {
    const kind = plotFileKind(file);
    if (kind === 'other' || seen.has(file)) return;
    seen.add(file);
    defs.push(
      kind === 'image'
        ? { id: file, kind: 'image', props, sources: [{ file, y: [] }] }
        : { id: file, kind: 'vega', props, sources: sourcesOf(file, props) },
    );
  };
  const addPath = async (p: string, props: PlotProps) => {
    const inner = await list(p);
    if (inner === null) addFile(p, props);
    else for (const f of [...inner].sort()) addFile(f, props);
  };
  for (const stage of pipeline.stages) {
    for (const out of stage.outs) if (out.kind === 'plots') await addPath(out.path, out.plot ?? {});
  }
  for (const def of pipeline.plots ?? []) {
    if (def.path !== undefined) {
      // A top-level entry naming a stage's plot file refines it rather than drawing it twice.
      const existing = defs.findIndex((d) => d.id === def.path);
      if (existing >= 0) defs.splice(existing, 1);
      seen.delete(def.path);
      await addPath(def.path, def.props);
    } else if (!seen.has(def.id)) {
      seen.add(def.id);
      defs.push({ id: def.id, kind: 'vega', props: def.props, sources: sourcesOf(undefined, def.props) });
    }
  }
  return defs;
}

/** Plots matching the targets (a plot id, a file, or a folder above files); all when none given. */
export function selectDefinitions(defs: PlotDefinition[], targets: string[]): PlotDefinition[] {
  if (!targets.length) return defs;
  const norm = (t: string) => t.replace(/^\.\//, '').replace(/\/+$/, '');
  const wanted = targets.map(norm);
  return defs.filter((d) =>
    wanted.some((t) => d.id === t || d.id.startsWith(`${t}/`) || d.sources.some((s) => s.file === t)),
  );
}
