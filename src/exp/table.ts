/**
 * The `exp show` table as data, pure: which columns (params that differ or were set, every metric),
 * row order, column filters, and the group-by aggregation. Rendering lives in src/cli/exp-render.ts.
 */
import { LockstepError } from '../errors.js';
import type { ListedExperiment } from './records.js';

export type ColumnKind = 'meta' | 'param' | 'metric' | 'group' | 'agg';

export interface Column {
  /** Unique id: `param:<file>:<key>`, `metric:<file>:<key>`, `meta:<name>`, `agg:<metric id>:<fn>`. */
  id: string;
  /** Header shown to the user and matched by --keep/--drop/--sort-by: the key, or `file:key` when ambiguous. */
  label: string;
  kind: ColumnKind;
  file?: string;
  key?: string;
}

export interface Row {
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
}

export const META_COLUMNS: Column[] = [
  { id: 'meta:name', label: 'Experiment', kind: 'meta' },
  { id: 'meta:created', label: 'Created', kind: 'meta' },
  { id: 'meta:state', label: 'State', kind: 'meta' },
];

const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

/** Labels are the bare key unless two files share it; then `file:key` for those. */
function labelColumns(kind: 'param' | 'metric', entries: Array<{ file: string; key: string }>): Column[] {
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
  return entries.map((e) => ({
    id: `${kind}:${e.file}:${e.key}`,
    label: (counts.get(e.key) ?? 0) > 1 ? `${e.file}:${e.key}` : e.key,
    kind,
    file: e.file,
    key: e.key,
  }));
}

function collectKeys(
  records: ListedExperiment[],
  pick: (r: ListedExperiment) => Record<string, Record<string, unknown>>,
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

/** Sort rows within each baseline (baselines keep their order); missing values sort last. */
export function sortRows(table: ExpTable, sortBy: string, order: 'asc' | 'desc' = 'asc'): ExpTable {
  const col = findColumn(table.columns, sortBy, '--sort-by');
  const sign = order === 'desc' ? -1 : 1;
  const baselineOrder = [...new Set(table.rows.map((r) => r.baseline))];
  const rows = [...table.rows].sort((x, y) => {
    const b = baselineOrder.indexOf(x.baseline) - baselineOrder.indexOf(y.baseline);
    if (b !== 0) return b;
    const vx = x.cells[col.id];
    const vy = y.cells[col.id];
    const missing = (v: unknown) => v === undefined || v === null;
    if (missing(vx) || missing(vy)) return compareValues(vx, vy); // missing last either way
    return sign * compareValues(vx, vy);
  });
  return { ...table, rows };
}

/** Columns whose value is the same in every row (a missing value counts as a difference). */
function constantColumn(rows: Row[], id: string): boolean {
  const first = rows[0]?.cells[id];
  return rows.every((r) => same(r.cells[id], first));
}

/** The `exp show` table: one row per experiment, params that differ or were set, every metric. */
export function buildTable(records: ListedExperiment[], opts: TableOptions = {}): ExpTable {
  const paramCols = labelColumns(
    'param',
    collectKeys(records, (r) => r.params),
  );
  const metricCols = labelColumns(
    'metric',
    collectKeys(records, (r) => r.metrics),
  );
  const rows: Row[] = records.map((r) => {
    const cells: Record<string, unknown> = { 'meta:name': r.name, 'meta:created': r.created, 'meta:state': r.state };
    for (const c of paramCols) cells[c.id] = r.params[c.file as string]?.[c.key as string];
    for (const c of metricCols) cells[c.id] = r.metrics[c.file as string]?.[c.key as string];
    return { baseline: r.baseline, name: r.name, sha: r.sha, state: r.state, cells };
  });
  const overridden = new Set(records.flatMap((r) => r.overrides.map((a) => `param:${a.file}:${a.key}`)));
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
