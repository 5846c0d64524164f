/** `lockstep metrics show` and `metrics diff`: DVC's output (tables, --md, --json; --csv too). */
import { roundTo } from '../metrics/compare.js';
import { diffMetrics, showMetrics } from '../metrics/show.js';
import { pyStr, renderTable } from './dvc-table.js';
import { errLine, out, parsePositiveInt } from './options.js';

interface ShowFlags {
  allCommits?: boolean;
  json?: boolean;
  md?: boolean;
  csv?: boolean;
  precision?: string;
}

const format = (f: { md?: boolean; csv?: boolean }) => (f.md ? 'md' : f.csv ? 'csv' : 'plain');
const precisionOf = (p: string | undefined) => (p === undefined ? 5 : parsePositiveInt(p, '--precision', 5));
const show = (v: unknown, float: boolean | undefined, precision: number) =>
  typeof v === 'number' ? pyStr(roundTo(v, precision), float) : pyStr(v, float);

export async function show_(targets: string[], flags: ShowFlags): Promise<number> {
  const revs = await showMetrics({ targets, allCommits: !!flags.allCommits });
  if (flags.json) {
    const data: Record<string, unknown> = {};
    for (const r of revs) {
      const files: Record<string, unknown> = {};
      for (const [p, f] of r.files) files[p] = f.error ? { error: f.error } : { data: f.raw };
      data[r.rev === 'workspace' ? '' : r.rev] = { data: files };
    }
    out(JSON.stringify(data));
    return 0;
  }
  const precision = precisionOf(flags.precision);
  const keys = [...new Set(revs.flatMap((r) => [...r.files.values()].flatMap((f) => Object.keys(f.values))))].sort();
  if (keys.length === 0) {
    errLine(
      'lockstep: no metrics found. Declare metrics files in a stage (metrics:) or the top-level metrics: section.',
    );
    return 0;
  }
  const rows: string[][] = [];
  for (const r of revs) {
    for (const [p, f] of [...r.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const cells = keys.map((k) => (Object.hasOwn(f.values, k) ? show(f.values[k], f.floats.has(k), precision) : '-'));
      rows.push(flags.allCommits ? [r.rev, p, ...cells] : [p, ...cells]);
    }
  }
  const headers = flags.allCommits ? ['Revision', 'Path', ...keys] : ['Path', ...keys];
  out(renderTable(headers, rows, format(flags)));
  return 0;
}

interface DiffFlags {
  all?: boolean;
  json?: boolean;
  md?: boolean;
  csv?: boolean;
  precision?: string;
}

export async function diff(a: string | undefined, b: string | undefined, flags: DiffFlags): Promise<number> {
  const r = await diffMetrics({ ...(a ? { a } : {}), ...(b ? { b } : {}), all: !!flags.all });
  if (flags.json) {
    const data: Record<string, Record<string, unknown>> = {};
    for (const row of r.rows) {
      const entry: Record<string, unknown> = { old: row.old ?? null, new: row.new ?? null };
      if (row.change !== undefined) entry.diff = row.change;
      data[row.path] = { ...data[row.path], [row.key]: entry };
    }
    out(JSON.stringify(data));
    return 0;
  }
  if (r.rows.length === 0) return 0;
  const precision = precisionOf(flags.precision);
  const rows = r.rows.map((x) => [
    x.path,
    x.key,
    show(x.old, x.oldFloat, precision),
    show(x.new, x.newFloat, precision),
    x.change === undefined ? '-' : show(roundTo(x.change, precision), false, precision),
  ]);
  out(renderTable(['Path', 'Metric', r.a, r.b, 'Change'], rows, format(flags)));
  return 0;
}

export { show_ as show };
