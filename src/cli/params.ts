/** `lockstep params diff [a_rev] [b_rev]`: per key, only what changed (`--all` for every key), as DVC prints it. */
import { diffParams } from '../metrics/show.js';
import { pyStr, renderTable } from './dvc-table.js';
import { out } from './options.js';

interface DiffFlags {
  all?: boolean;
  json?: boolean;
  md?: boolean;
  csv?: boolean;
}

export async function diff(a: string | undefined, b: string | undefined, flags: DiffFlags): Promise<number> {
  const r = await diffParams({ ...(a ? { a } : {}), ...(b ? { b } : {}), all: !!flags.all });
  if (flags.json) {
    const data: Record<string, Record<string, unknown>> = {};
    for (const row of r.rows) {
      const entry: Record<string, unknown> = { old: row.old ?? null, new: row.new ?? null };
      if (typeof row.old === 'number' && typeof row.new === 'number') entry.diff = row.new - row.old;
      data[row.path] = { ...data[row.path], [row.key]: entry };
    }
    out(JSON.stringify(data));
    return 0;
  }
  if (r.rows.length === 0) return 0;
  const rows = r.rows.map((x) => [x.path, x.key, pyStr(x.old, x.oldFloat), pyStr(x.new, x.newFloat)]);
  out(renderTable(['Path', 'Param', r.a, r.b], rows, flags.md ? 'md' : flags.csv ? 'csv' : 'plain'));
  return 0;
}
