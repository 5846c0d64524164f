/** `exp diff A B`: params and metrics side by side. Pure over two snapshots (experiments, commits, workspace). */
import type { Snapshot } from './snapshot.js';

export interface DiffRow {
  kind: 'param' | 'metric';
  file: string;
  key: string;
  a: unknown;
  b: unknown;
  /** b - a for numbers. */
  change?: number;
}

export interface DiffOptions {
  /** Include rows whose values are equal. */
  all?: boolean;
}

function diffSection(
  kind: DiffRow['kind'],
  a: Record<string, Record<string, unknown>>,
  b: Record<string, Record<string, unknown>>,
  opts: DiffOptions,
): DiffRow[] {
  const rows: DiffRow[] = [];
  const files = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const file of files) {
    const va = a[file] ?? {};
    const vb = b[file] ?? {};
    const keys = [...new Set([...Object.keys(va), ...Object.keys(vb)])].sort();
    for (const key of keys) {
      const x = va[key];
      const y = vb[key];
      const equal = JSON.stringify(x) === JSON.stringify(y);
      if (equal && !opts.all) continue;
      const row: DiffRow = { kind, file, key, a: x, b: y };
      if (typeof x === 'number' && typeof y === 'number') row.change = y - x;
      rows.push(row);
    }
  }
  return rows;
}

export function diffExperiments(a: Snapshot, b: Snapshot, opts: DiffOptions = {}): DiffRow[] {
  return [...diffSection('param', a.params, b.params, opts), ...diffSection('metric', a.metrics, b.metrics, opts)];
}
