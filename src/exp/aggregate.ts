/**
 * `exp show --group-by data --agg mean,std,min,max`: one row per group of experiments sharing the group
 * params (typically everything but the seed), each numeric metric aggregated over the successful ones
 * (a text metric lists the group's distinct values). Pure.
 */
import { LockstepError } from '../errors.js';
import { compareValues, findColumn, type Column, type ExpTable, type Row } from './table.js';

export const AGGREGATES = ['mean', 'std', 'min', 'max', 'median', 'count'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export function parseAggregates(spec: string | undefined): Aggregate[] {
  const names = (spec ?? 'mean,std,min,max')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!(AGGREGATES as readonly string[]).includes(n)) {
      throw new LockstepError(
        'usage',
        `unknown aggregate '${n}' in --agg; valid: ${AGGREGATES.join(', ')}`,
        'Give a comma list, e.g. --agg mean,std.',
      );
    }
  }
  return names as Aggregate[];
}

/** Sample standard deviation (n-1), as pandas and most papers report over seeds; null below 2 values. */
export function aggregateValues(values: number[], fn: Aggregate): number | null {
  const n = values.length;
  if (fn === 'count') return n;
  if (n === 0) return null;
  switch (fn) {
    case 'mean':
      return values.reduce((s, v) => s + v, 0) / n;
    case 'std': {
      if (n < 2) return null;
      const mean = values.reduce((s, v) => s + v, 0) / n;
      return Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
    }
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    case 'median': {
      const s = [...values].sort((a, b) => a - b);
      const mid = Math.floor(n / 2);
      return n % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
    }
  }
}

/**
 * Group `table`'s rows by the named param columns (within each baseline) and aggregate every metric
 * column. Failed experiments count in `failed` but not in the aggregates.
 */
export function groupTable(table: ExpTable, groupBy: string[], aggs: Aggregate[]): ExpTable {
  if (groupBy.length === 0)
    throw new LockstepError('usage', '--group-by needs at least one param', 'E.g. --group-by data.');
  const groupCols = groupBy.map((label) =>
    findColumn(
      table.columns.filter((c) => c.kind === 'param'),
      label,
      '--group-by',
    ),
  );
  const metricCols = table.columns.filter((c) => c.kind === 'metric');
  const groups = new Map<string, { baseline: string; key: unknown[]; rows: Row[] }>();
  for (const row of table.rows) {
    const key = groupCols.map((c) => row.cells[c.id]);
    const id = JSON.stringify([row.baseline, key]);
    let g = groups.get(id);
    if (!g) {
      g = { baseline: row.baseline, key, rows: [] };
      groups.set(id, g);
    }
    g.rows.push(row);
  }
  const columns: Column[] = [
    ...groupCols.map((c) => ({ ...c, kind: 'group' as const })),
    { id: 'meta:n', label: 'n', kind: 'meta' },
    { id: 'meta:failed', label: 'failed', kind: 'meta' },
  ];
  // a text metric (a backend's name, a model's) has no mean: it shows the group's distinct values instead
  const numeric = new Set(
    metricCols.filter((m) => table.rows.some((r) => typeof r.cells[m.id] === 'number')).map((m) => m.id),
  );
  for (const m of metricCols) {
    if (!numeric.has(m.id)) {
      columns.push({
        id: `agg:${m.id}:values`,
        label: m.label,
        kind: 'agg',
        ...(m.file ? { file: m.file, key: m.key } : {}),
        ...(m.primary ? { primary: true } : {}),
      });
      continue;
    }
    for (const fn of aggs)
      columns.push({
        id: `agg:${m.id}:${fn}`,
        label: `${m.label}:${fn}`,
        kind: 'agg',
        ...(m.file ? { file: m.file, key: `${m.key}:${fn}` } : {}),
        ...(m.primary ? { primary: true } : {}),
      });
  }
  const baselines = [...new Set(table.rows.map((r) => r.baseline))];
  const ordered = [...groups.values()].sort((x, y) => {
    const b = baselines.indexOf(x.baseline) - baselines.indexOf(y.baseline);
    if (b !== 0) return b;
    for (let i = 0; i < x.key.length; i++) {
      const c = compareValues(x.key[i], y.key[i]);
      if (c !== 0) return c;
    }
    return 0;
  });
  const rows: Row[] = ordered.map((g) => {
    const ok = g.rows.filter((r) => r.state !== 'failed');
    const cells: Record<string, unknown> = { 'meta:n': ok.length, 'meta:failed': g.rows.length - ok.length };
    for (const [i, c] of groupCols.entries()) cells[c.id] = g.key[i];
    for (const m of metricCols) {
      if (!numeric.has(m.id)) {
        const distinct = [...new Set(ok.map((r) => r.cells[m.id]).filter((v) => v !== undefined && v !== null))];
        cells[`agg:${m.id}:values`] = distinct.length
          ? distinct.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')
          : null;
        continue;
      }
      const values = ok
        .map((r) => r.cells[m.id])
        .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      for (const fn of aggs) cells[`agg:${m.id}:${fn}`] = aggregateValues(values, fn);
    }
    return {
      kind: 'experiment',
      baseline: g.baseline,
      name: g.key.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' '),
      cells,
    };
  });
  return { columns, rows };
}
