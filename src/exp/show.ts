/** `exp show` data: the records of the chosen baselines as a table, optionally grouped. Pure. */
import { groupTable, type Aggregate } from './aggregate.js';
import type { ListedExperiment } from './records.js';
import { buildTable, filterColumns, sortRows, type ExpTable, type TableOptions } from './table.js';

export interface ShowOptions extends TableOptions {
  groupBy?: string[];
  agg?: Aggregate[];
}

export function showTable(records: ListedExperiment[], opts: ShowOptions = {}): ExpTable {
  if (!opts.groupBy?.length) return buildTable(records, opts);
  // group keys may be params that never changed, so group the full table, then filter and sort the groups
  const full = buildTable(records, { allParams: true });
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
