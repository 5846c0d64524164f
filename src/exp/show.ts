/**
 * `exp show` data: the rows of the chosen baselines (workspace, baseline commits, experiments) as a
 * table, optionally grouped (experiments only). Pure.
 */
import { groupTable, type Aggregate } from './aggregate.js';
import { buildTable, filterColumns, sortRows, type ExpTable, type ShowRecord, type TableOptions } from './table.js';

export interface ShowOptions extends TableOptions {
  groupBy?: string[];
  agg?: Aggregate[];
}

export function showTable(records: ShowRecord[], opts: ShowOptions = {}): ExpTable {
  if (!opts.groupBy?.length) return buildTable(records, opts);
  // group keys may be params that never changed, so group the full table, then filter and sort the groups
  const full = buildTable(
    records.filter((r) => (r.kind ?? 'experiment') === 'experiment'),
    {
      allParams: true,
      ...(opts.metricsOrder ? { metricsOrder: opts.metricsOrder } : {}),
      ...(opts.primaryMetrics ? { primaryMetrics: opts.primaryMetrics } : {}),
    },
  );
  let grouped = groupTable(full, opts.groupBy, opts.agg ?? ['mean', 'std', 'min', 'max']);
  if (opts.onlyChanged) {
    const first = grouped.rows[0]?.cells ?? {};
    grouped = {
      ...grouped,
      columns: grouped.columns.filter(
        (c) =>
          c.kind !== 'agg' || grouped.rows.some((r) => JSON.stringify(r.cells[c.id]) !== JSON.stringify(first[c.id])),
      ),
    };
  }
  grouped = { ...grouped, columns: filterColumns(grouped.columns, opts.keep, opts.drop) };
  return opts.sortBy ? sortRows(grouped, opts.sortBy, opts.sortOrder) : grouped;
}
