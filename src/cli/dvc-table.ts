/**
 * Tables as DVC prints them (tabulate's "plain" and "github" formats with disable_numparse, '-' for
 * missing values) and values as Python's str() writes them, so `metrics`/`params` output reads the same.
 */
import { pyFloatRepr } from '../util/ruamel-yaml.js';

/** Python's str() of a value; `float` marks an integral number that was written as a float (`1.0`). */
export function pyStr(v: unknown, float = false): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) && !float ? String(v) : pyFloatRepr(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return v;
  return pyRepr(v);
}

function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  }
  return pyStr(v);
}

/** Column widths: the widest cell, at least the header plus 2 (tabulate's MIN_PADDING). */
function widths(headers: string[], rows: string[][]): number[] {
  return headers.map((h, i) => Math.max(h.length + 2, ...rows.map((r) => (r[i] ?? '').length)));
}

export function plainTable(headers: string[], rows: string[][]): string {
  const w = widths(headers, rows);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(w[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function markdownTable(headers: string[], rows: string[][]): string {
  const w = widths(headers, rows);
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(headers), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function csvTable(headers: string[], rows: string[][]): string {
  const cell = (c: string) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  return [headers, ...rows].map((r) => r.map(cell).join(',')).join('\n');
}

export function renderTable(headers: string[], rows: string[][], format: 'plain' | 'md' | 'csv'): string {
  if (format === 'md') return `${markdownTable(headers, rows)}\n`;
  if (format === 'csv') return csvTable(headers, rows);
  return plainTable(headers, rows);
}
