/**
 * DVC's plot definitions (dvc/schema.py: PLOT_PROPS, SINGLE_PLOT_SCHEMA) -> typed PlotProps and PlotDef:
 * the properties of a stage's `plots:` output, and the top-level `plots:` and `metrics:` sections of
 * pipeline.yaml / dvc.yaml. Every problem is collected with its position.
 */
import { didYouMean, type Problems } from './diagnostics.js';
import { resolveStagePath } from './paths.js';
import type { Span, YMap, YNode } from './source.js';
import type { PlotAxis, PlotDef, PlotProps } from './types.js';

/** DVC's templates, all built in (dvc-render). */
export const PLOT_TEMPLATES = [
  'linear',
  'simple',
  'scatter',
  'smooth',
  'confusion',
  'confusion_normalized',
  'bar_horizontal',
  'bar_horizontal_sorted',
] as const;

export const PLOT_PROP_FIELDS = ['template', 'x', 'y', 'x_label', 'y_label', 'title', 'header'] as const;

type Add = (text: string, span: Span) => void;

const isNull = (n: YNode) => n.kind === 'scalar' && n.value === null;
const str = (n: YNode): string | undefined =>
  n.kind === 'scalar' && typeof n.value === 'string' && n.value ? n.value : undefined;

/** A field name or a list of field names (`y: [loss, val_loss]`). */
function fields(n: YNode): string[] | undefined {
  const one = str(n);
  if (one) return [one];
  if (n.kind === 'seq' && n.items.length) {
    const all = n.items.map(str);
    if (all.every((s): s is string => s !== undefined)) return all;
  }
  return undefined;
}

/**
 * `x`/`y`: a field (`y: loss`), a list of fields (`y: [loss, acc]`, y only) or, at top level, a map of
 * data files to fields (`y: {logs/train.json: loss, logs/val.json: [loss, acc]}`).
 */
function axis(key: 'x' | 'y', n: YNode, topLevel: boolean, add: Add, root: string, base: string): PlotAxis | undefined {
  const list = fields(n);
  if (list) {
    if (key === 'x' && list.length > 1) add("'x' must be one field", n.span);
    else return key === 'x' || list.length === 1 ? (list[0] as string) : list;
    return undefined;
  }
  if (n.kind === 'map' && topLevel) {
    const byFile: Record<string, string[]> = {};
    for (const e of n.entries) {
      const f = fields(e.value);
      const file = resolveStagePath(root, base, e.key);
      if (file.kind === 'outside') add(`data file '${e.key}' is outside the repository`, e.keySpan);
      else if (!f) add(`'${key}' of '${e.key}' must be a field name or a list of field names`, e.value.span);
      else if (key === 'x' && f.length > 1) add(`'x' of '${e.key}' must be one field`, e.value.span);
      else byFile[file.path] = [...(byFile[file.path] ?? []), ...f];
    }
    return byFile;
  }
  const what = topLevel ? 'a field name, a list of field names or {file: field}' : 'a field name';
  add(`'${key}' must be ${key === 'x' ? what.replace(', a list of field names', '') : what}`, n.span);
  return undefined;
}

/**
 * Plot properties from a mapping. `extra` are other keys allowed there (a stage's output options:
 * cache, persist...), which are read elsewhere.
 */
export function readPlotProps(
  where: string,
  map: YMap,
  problems: Problems,
  root: string,
  opts: { topLevel: boolean; extra?: readonly string[]; base?: string },
): PlotProps {
  const props: PlotProps = {};
  const add: Add = (text, span) => problems.add('config', `${where}: ${text}`, span);
  const allowed = [...PLOT_PROP_FIELDS, ...(opts.extra ?? [])];
  for (const e of map.entries) {
    const v = e.value;
    if (!allowed.includes(e.key)) {
      problems.add('unknown-field', `${where}: unknown field '${e.key}'${didYouMean(e.key, allowed)}`, e.keySpan);
      continue;
    }
    switch (e.key) {
      case 'template': {
        const t = str(v);
        // DVC also accepts a path to a custom template file; ours must be one of the built-in names.
        if (t && (PLOT_TEMPLATES as readonly string[]).includes(t)) props.template = t as PlotProps['template'];
        else
          problems.add(
            'config',
            `${where}: unknown template ` +
              `'${t ?? String((v as { value?: unknown }).value)}'${t ? didYouMean(t, PLOT_TEMPLATES) : ''}; one of ` +
              `${PLOT_TEMPLATES.join(', ')}`,
            v.span,
          );
        break;
      }
      case 'x':
      case 'y': {
        const a = axis(e.key, v, opts.topLevel, add, root, opts.base ?? '.');
        if (a !== undefined) props[e.key] = a;
        break;
      }
      case 'title':
      case 'x_label':
      case 'y_label': {
        if (v.kind === 'scalar' && (typeof v.value === 'string' || typeof v.value === 'number'))
          props[e.key] = String(v.value);
        else add(`'${e.key}' must be a string`, v.span);
        break;
      }
      case 'header': {
        if (v.kind === 'scalar' && typeof v.value === 'boolean') props.header = v.value;
        else add("'header' must be true or false", v.span);
        break;
      }
    }
  }
  return props;
}

/**
 * The top-level `plots:` list. Each entry is a data file or folder (`- plots/loss.csv`), the same with
 * properties (`- plots/loss.csv: {x: step}`), or a named plot whose `y` (and `x`) map data files to fields
 * (`- loss: {y: {logs/train.json: loss}}`): DVC treats an entry as named when its `y` is a map.
 */
export function readTopLevelPlots(node: YNode, problems: Problems, root: string, base = '.'): PlotDef[] {
  if (isNull(node)) return [];
  if (node.kind !== 'seq') {
    problems.add('config', "'plots' must be a list of files or {name: {properties}}", node.span);
    return [];
  }
  const out: PlotDef[] = [];
  const ids = new Set<string>();
  for (const item of node.items) {
    let id: string;
    let span: Span;
    let props: PlotProps = {};
    if (str(item)) {
      id = str(item) as string;
      span = item.span;
    } else if (item.kind === 'map' && item.entries.length === 1 && item.entries[0]) {
      const e = item.entries[0];
      id = e.key;
      span = e.keySpan;
      if (e.value.kind === 'map')
        props = readPlotProps(`plot '${id}'`, e.value, problems, root, { topLevel: true, base });
      else if (!isNull(e.value)) {
        problems.add('config', `plot '${id}': properties must be a mapping like {x: step, y: loss}`, e.value.span);
        continue;
      }
    } else {
      problems.add('config', "each entry of 'plots' must be a file or {name: {properties}}", item.span);
      continue;
    }
    if (ids.has(id)) {
      problems.add('config', `plot '${id}' is defined twice`, span);
      continue;
    }
    ids.add(id);
    const named = (typeof props.y === 'object' && !Array.isArray(props.y)) || typeof props.x === 'object';
    if (named) {
      out.push({ id, props });
      continue;
    }
    const file = resolveStagePath(root, base, id);
    if (file.kind === 'outside') {
      problems.add('path-outside', `plot '${id}' is outside the repository`, span);
      continue;
    }
    out.push({ id, path: file.path, props });
  }
  return out;
}

/** The top-level `metrics:` list: metrics files (or folders) not written by a stage. */
export function readTopLevelMetrics(node: YNode, problems: Problems, root: string, base = '.'): string[] {
  if (isNull(node)) return [];
  if (node.kind !== 'seq') {
    problems.add('config', "'metrics' must be a list of files", node.span);
    return [];
  }
  const out: string[] = [];
  for (const item of node.items) {
    const p = str(item);
    if (!p) {
      problems.add('config', "each entry of 'metrics' must be a file path", item.span);
      continue;
    }
    const r = resolveStagePath(root, base, p);
    if (r.kind === 'outside') problems.add('path-outside', `metrics file '${p}' is outside the repository`, item.span);
    else if (!out.includes(r.path)) out.push(r.path);
  }
  return out;
}
