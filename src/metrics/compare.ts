/**
 * `metrics show/diff` and `params diff` as data: which files and keys, at which revisions, what
 * changed. Pure functions over what read.ts collected; the CLI renders them (table, Markdown, JSON).
 */
import type { FlatFile } from './read.js';

export interface DiffRow {
  path: string;
  key: string;
  old: unknown;
  new: unknown;
  /** new - old when both are numbers (metrics only). */
  change?: number;
  /** The values' files wrote them as floats (`1.0`), for display. */
  oldFloat?: boolean;
  newFloat?: boolean;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Compare two collections file by file, key by key (sorted like DVC). Unchanged keys only with `all`;
 * `numericChange` adds new - old (metrics).
 */
export function diffFiles(
  a: Map<string, FlatFile>,
  b: Map<string, FlatFile>,
  opts: { all: boolean; numericChange: boolean },
): DiffRow[] {
  const rows: DiffRow[] = [];
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const p of paths) {
    const fa = a.get(p);
    const fb = b.get(p);
    const keys = [...new Set([...Object.keys(fa?.values ?? {}), ...Object.keys(fb?.values ?? {})])].sort();
    for (const k of keys) {
      const o = fa && Object.hasOwn(fa.values, k) ? fa.values[k] : undefined;
      const n = fb && Object.hasOwn(fb.values, k) ? fb.values[k] : undefined;
      if (!opts.all && same(o, n)) continue;
      const row: DiffRow = { path: p, key: k, old: o, new: n };
      if (fa?.floats.has(k)) row.oldFloat = true;
      if (fb?.floats.has(k)) row.newFloat = true;
      if (opts.numericChange && typeof o === 'number' && typeof n === 'number') row.change = n - o;
      rows.push(row);
    }
  }
  return rows;
}

/** Round a float to `precision` digits after the point, as `dvc metrics` does by default (5). */
export function roundTo(x: number, precision: number): number {
  if (Number.isInteger(x)) return x;
  const f = 10 ** precision;
  return Math.round(x * f) / f;
}
