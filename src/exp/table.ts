/**
 * The `exp show` table as data, pure: which columns (params that differ or were set, every metric),
 * row order, column filters, and the group-by aggregation. Rendering lives in src/cli/exp-render.ts.
 */
import { LockstepError } from '../errors.js';
import type { Assignment } from './sweep.js';

export type ColumnKind = 'meta' | 'param' | 'metric' | 'group' | 'agg';

export interface Column {
  /** Unique id: `param:<file>:<key>`, `metric:<file>:<key>`, `meta:<name>`, `agg:<metric id>:<fn>`. */
  id: string;
  /** Header shown to the user and matched by --keep/--drop/--sort-by: the key, or `file:key` when ambiguous. */
  label: string;
  kind: ColumnKind;
  file?: string;
  key?: string;
  /** A metric of a primary metrics file (the top-level `metrics:` section, the last stages'): shown first. */
  primary?: boolean;
}

/** `workspace` and `baseline` rows are DVC's: the working tree's and the baseline commit's own values. */
export type RowKind = 'workspace' | 'baseline' | 'experiment';

/** What a row is built from: an experiment record, or the params and metrics of the workspace or a commit. */
export interface ShowRecord {
  /** Absent: an experiment. */
  kind?: RowKind;
  name: string;
  baseline: string;
  sha?: string;
  created?: string;
  state?: 'success' | 'failed';
  params: Record<string, Record<string, unknown>>;
  metrics: Record<string, Record<string, unknown>>;
  /** The params an experiment set (its sweep point). */
  overrides?: Assignment[];
}

export interface Row {
  kind: RowKind;
  baseline: string;
  name: string;
  sha?: string;
  state?: 'success' | 'failed';
  cells: Record<string, unknown>;
}

export interface ExpTable {
  columns: Column[];
  rows: Row[];
}

export interface TableOptions {
  onlyChanged?: boolean;
  /** Show every param, not only those that differ or were set. */
  allParams?: boolean;
  sortBy?: string;
  sortOrder?: 'asc' | 'desc';
  /** Regexes on column labels: keep wins over drop. */
  keep?: string[];
  drop?: string[];
  /** Metrics files in the order their columns come (most important first); others follow as found. */
  metricsOrder?: string[];
  /** The metrics files whose columns matter most (kept first on a narrow terminal); default every file. */
  primaryMetrics?: string[];
}

export const META_COLUMNS: Column[] = [
  { id: 'meta:name', label: 'Experiment', kind: 'meta' },
  { id: 'meta:created', label: 'Created', kind: 'meta' },
  { id: 'meta:state', label: 'State', kind: 'meta' },
];

const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

/**
 * Labels are the bare key unless two files (params or metrics) share it; then `file:key` for those, as
 * DVC's headers do (`train.json:accuracy` beside `eval.json:accuracy`).
 */
function labelColumns(
  kind: 'param' | 'metric',
  entries: Array<{ file: string; key: string }>,
  counts: Map<string, number>,
): Column[] {
  return entries.map((e) => ({
    id: `${kind}:${e.file}:${e.key}`,
    label: (counts.get(e.key) ?? 0) > 1 ? `${e.file}:${e.key}` : e.key,
    kind,
    file: e.file,
    key: e.key,
  }));
}

function countKeys(...lists: Array<Array<{ key: string }>>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const list of lists) for (const e of list) counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
  return counts;
}

/** Metrics entries with the files of `order` first, in that order; the rest keep their first-seen order. */
function orderFiles<T extends { file: string }>(entries: T[], order: string[] | undefined): T[] {
  if (!order?.length) return entries;
  const rank = (f: string) => {
    const i = order.indexOf(f);
    return i < 0 ? order.length : i;
  };
  return entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => rank(a.e.file) - rank(b.e.file) || a.i - b.i)
    .map((x) => x.e);
}

function collectKeys(
  records: ShowRecord[],
  pick: (r: ShowRecord) => Record<string, Record<string, unknown>>,
): Array<{ file: string; key: string }> {
  // nested sets: no string building per record and key (this runs over every record of `exp show`)
  const seen = new Map<string, Set<string>>();
  const out: Array<{ file: string; key: string }> = [];
  for (const r of records) {
    for (const [file, values] of Object.entries(pick(r))) {
      let keys = seen.get(file);
      if (!keys) {
        keys = new Set();
        seen.set(file, keys);
      }
      for (const key in values) {
        if (keys.has(key)) continue;
        keys.add(key);
        out.push({ file, key });
      }
    }
  }
  return out;
}

function compileRegexes(list: string[] | undefined, flag: string): RegExp[] {
  return (list ?? []).map((src) => {
    try {
      return new RegExp(src);
    } catch (e) {
      throw new LockstepError(
        'usage',
        `invalid ${flag} regex '${src}': ${(e as Error).message}`,
        'Give a JavaScript regular expression, e.g. --drop "^train\\.".',
      );
    }
  });
}

/** Apply --keep/--drop to the non-meta columns. */
export function filterColumns(columns: Column[], keep: string[] | undefined, drop: string[] | undefined): Column[] {
  const keepRe = compileRegexes(keep, '--keep');
  const dropRe = compileRegexes(drop, '--drop');
  const matches = (c: Column, res: RegExp[]) =>
    res.some((re) => re.test(c.label) || (c.file !== undefined && re.test(`${c.file}:${c.key}`)));
  return columns.filter((c, i) => {
    if (i === 0 || c.kind === 'group') return true; // the row's name always stays
    if (keepRe.length && matches(c, keepRe)) return true;
    // --keep alone shows only what it names (plus Created/State); with --drop it rescues columns
    if (keepRe.length && !dropRe.length) return c.kind === 'meta';
    return !matches(c, dropRe);
  });
}

/** Order: numbers numerically, then strings; missing values last in both directions. */
export function compareValues(a: unknown, b: unknown): number {
  const missA = a === undefined || a === null;
  const missB = b === undefined || b === null;
  if (missA || missB) return missA === missB ? 0 : missA ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

export function findColumn(columns: Column[], label: string, flag: string): Column {
  const col =
    columns.find((c) => c.label === label) ??
    columns.find((c) => c.kind === 'meta' && c.label.toLowerCase() === label.toLowerCase()) ??
    columns.find((c) => c.file !== undefined && `${c.file}:${c.key}` === label) ??
    columns.find((c) => c.id === label || c.id === `meta:${label.toLowerCase()}`);
  if (!col) {
    const valid = columns.map((c) => c.label).join(', ');
    throw new LockstepError(
      'usage',
      `${flag} '${label}' is not a column; columns: ${valid}`,
      'Pick one of the listed columns.',
    );
  }
  return col;
}

const KIND_RANK: Record<RowKind, number> = { workspace: 0, baseline: 1, experiment: 2 };

/**
 * Sort the experiments within each baseline (baselines keep their order, the workspace and baseline
 * rows stay on top of theirs); missing values sort last.
 */
export function sortRows(table: ExpTable, sortBy: string, order: 'asc' | 'desc' = 'asc'): ExpTable {
  const col = findColumn(table.columns, sortBy, '--sort-by');
  const sign = order === 'desc' ? -1 : 1;
  const baselineOrder = [...new Set(table.rows.map((r) => r.baseline))];
  const rows = [...table.rows].sort((x, y) => {
    const b = baselineOrder.indexOf(x.baseline) - baselineOrder.indexOf(y.baseline);
    if (b !== 0) return b;
    const k = KIND_RANK[x.kind] - KIND_RANK[y.kind];
    if (k !== 0 || x.kind !== 'experiment') return k;
    const vx = x.cells[col.id];
    const vy = y.cells[col.id];
    const missing = (v: unknown) => v === undefined || v === null;
    if (missing(vx) || missing(vy)) return compareValues(vx, vy); // missing last either way
    return sign * compareValues(vx, vy);
  });
  return { ...table, rows };
}

/**
 * Columns whose value is the same in every row. A missing value counts as a difference in an
 * experiment, not in the workspace or a baseline (a workspace that never ran has no metrics).
 */
function constantColumn(rows: Row[], id: string): boolean {
  const counted = rows.filter((r) => r.kind === 'experiment' || (r.cells[id] !== undefined && r.cells[id] !== null));
  const first = counted[0]?.cells[id];
  return counted.every((r) => same(r.cells[id], first));
}

/**
 * The `exp show` table: one row per record (workspace, baselines, experiments), params that differ or
 * were set, every metric.
 */
export function buildTable(records: ShowRecord[], opts: TableOptions = {}): ExpTable {
  const paramKeys = collectKeys(records, (r) => r.params);
  const metricKeys = orderFiles(
    collectKeys(records, (r) => r.metrics),
    opts.metricsOrder,
  );
  const counts = countKeys(paramKeys, metricKeys);
  const paramCols = labelColumns('param', paramKeys, counts);
  const primary = opts.primaryMetrics ? new Set(opts.primaryMetrics) : null;
  const metricCols = labelColumns('metric', metricKeys, counts).map((c) =>
    !primary || primary.has(c.file as string) ? { ...c, primary: true } : c,
  );
  const rows: Row[] = records.map((r) => {
    const cells: Record<string, unknown> = { 'meta:name': r.name, 'meta:created': r.created, 'meta:state': r.state };
    for (const c of paramCols) cells[c.id] = r.params[c.file as string]?.[c.key as string];
    for (const c of metricCols) cells[c.id] = r.metrics[c.file as string]?.[c.key as string];
    const row: Row = { kind: r.kind ?? 'experiment', baseline: r.baseline, name: r.name, cells };
    if (r.sha !== undefined) row.sha = r.sha;
    if (r.state !== undefined) row.state = r.state;
    return row;
  });
  const overridden = new Set(records.flatMap((r) => (r.overrides ?? []).map((a) => `param:${a.file}:${a.key}`)));
  let params = opts.allParams
    ? paramCols
    : paramCols.filter((c) => overridden.has(c.id) || !constantColumn(rows, c.id));
  let metrics = metricCols;
  if (opts.onlyChanged) {
    params = params.filter((c) => !constantColumn(rows, c.id));
    metrics = metrics.filter((c) => !constantColumn(rows, c.id));
  }
  let table: ExpTable = {
    columns: filterColumns([...META_COLUMNS, ...params, ...metrics], opts.keep, opts.drop),
    rows,
  };
  if (opts.sortBy) table = sortRows(table, opts.sortBy, opts.sortOrder);
  return table;
}
