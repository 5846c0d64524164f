/** Text renderings of the exp table data: terminal table fitted to the width, CSV, Markdown. */
import { stringify } from 'csv-stringify/sync';
import type { Column, ExpTable, Row } from '../exp/table.js';
import type { DiffRow } from '../exp/diff.js';
import { drawTable } from './render.js';

const MAX_CELL = 28;

export function formatCell(value: unknown, column?: Column): string {
  if (value === undefined || value === null) return column?.kind === 'meta' || column?.kind === 'group' ? '' : '-';
  if (column?.id === 'meta:created' && typeof value === 'string') return formatCreated(value);
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(5)));
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Nov 23 17:22` like DVC: short and local (no Intl: it costs ~0.3 ms a call, seconds on big tables). */
export function formatCreated(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const month = MONTHS[d.getMonth()];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${month} ${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const truncate = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export interface FitResult {
  shown: Column[];
  hidden: Column[];
}

/**
 * Which columns give way first when the terminal is narrow: what is the same in every row (Created,
 * State, constant params and metrics) before what tells the experiments apart.
 */
function fitPriority(table: ExpTable, c: Column, i: number): number {
  if (i === 0 || c.kind === 'group') return 0;
  if (c.id === 'meta:created') return 6;
  if (c.id === 'meta:state') return table.rows.some((r) => r.cells[c.id] !== 'success') ? 1 : 5;
  const first = JSON.stringify(table.rows[0]?.cells[c.id]);
  const varies = table.rows.some((r) => JSON.stringify(r.cells[c.id]) !== first);
  if (c.kind === 'param') return varies ? 1 : 3;
  return varies ? 2 : 4;
}

/**
 * Keep the columns that fit in `width` (each costs its text plus 3 for padding and border), dropping
 * Created and State before params and metrics, and then from the right; the first column (the
 * experiment) always stays. Kept columns keep their order.
 */
export function fitColumns(table: ExpTable, width: number): FitResult {
  const widths = table.columns.map((c) =>
    Math.max(
      truncate(c.label, MAX_CELL).length,
      ...table.rows.map((r) => truncate(formatCell(r.cells[c.id], c), MAX_CELL).length),
    ),
  );
  const order = table.columns
    .map((c, i) => ({ c, i, prio: fitPriority(table, c, i) }))
    .sort((a, b) => a.prio - b.prio || a.i - b.i);
  const keep = new Set<number>();
  let used = 1;
  let full = false;
  for (const { i } of order) {
    const w = (widths[i] as number) + 3;
    if (i === 0 || (!full && used + w <= width)) {
      keep.add(i);
      used += w;
    } else {
      full = true; // stop at the first misfit so the columns shown stay a prefix of each priority
    }
  }
  return { shown: table.columns.filter((_, i) => keep.has(i)), hidden: table.columns.filter((_, i) => !keep.has(i)) };
}

function baselineTitle(baseline: string, head: string | undefined): string {
  return `baseline ${baseline.slice(0, 7)}${baseline === head ? ' (HEAD)' : ''}`;
}

function groupRows(rows: Row[]): Array<[string, Row[]]> {
  const by = new Map<string, Row[]>();
  for (const r of rows) {
    const list = by.get(r.baseline) ?? [];
    list.push(r);
    by.set(r.baseline, list);
  }
  return [...by.entries()];
}

/**
 * The terminal table; returns the text and a note about hidden columns (or ''). One baseline gets a
 * title line; several get a Baseline column marking where each group starts.
 */
export function renderText(table: ExpTable, opts: { width: number; head?: string }): { text: string; note: string } {
  const groups = groupRows(table.rows);
  const multi = groups.length > 1;
  const baselineCol: Column = { id: 'meta:baseline', label: 'Baseline', kind: 'meta' };
  const rows: Row[] = multi
    ? table.rows.map((r, i) => ({
        ...r,
        cells: {
          ...r.cells,
          'meta:baseline':
            i === 0 || table.rows[i - 1]?.baseline !== r.baseline
              ? baselineTitle(r.baseline, opts.head).replace('baseline ', '')
              : '',
        },
      }))
    : table.rows;
  const { shown, hidden } = fitColumns(
    { columns: multi ? [baselineCol, ...table.columns] : table.columns, rows },
    opts.width,
  );
  const text = drawTable(
    shown.map((c) => truncate(c.label, MAX_CELL)),
    rows.map((r) => shown.map((c) => truncate(formatCell(r.cells[c.id], c), MAX_CELL))),
    shown.map((c) => c.kind !== 'meta' && c.kind !== 'group' && rows.some((r) => typeof r.cells[c.id] === 'number')),
  );
  const title = !multi && groups[0] ? `${baselineTitle(groups[0][0], opts.head)}\n` : '';
  const note = hidden.length
    ? `${hidden.length} column${hidden.length > 1 ? 's' : ''} did not fit the ${opts.width}-column terminal and ${hidden.length > 1 ? 'are' : 'is'} not shown: ${hidden.map((c) => c.label).join(', ')} (use --keep/--drop, --csv or --json)`
    : '';
  return { text: title + text, note };
}

export function renderCsv(table: ExpTable): string {
  const header = ['baseline', ...table.columns.map((c) => c.label)];
  const rows = table.rows.map((r) => [
    r.baseline,
    ...table.columns.map((c) => {
      const v = r.cells[c.id];
      return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }),
  ]);
  return stringify([header, ...rows]);
}

const mdEscape = (s: string): string => s.replace(/\|/g, '\\|');

export function renderMarkdown(table: ExpTable): string {
  const lines = [
    `| ${table.columns.map((c) => mdEscape(c.label)).join(' | ')} |`,
    `|${table.columns.map((c) => (c.kind === 'meta' || c.kind === 'group' ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const r of table.rows)
    lines.push(`| ${table.columns.map((c) => mdEscape(formatCell(r.cells[c.id], c))).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

export function renderDiff(rows: DiffRow[], a: string, b: string, format: 'text' | 'md'): string {
  const head = ['', 'File', 'Key', a, b, 'Change'];
  const body = rows.map((r) => [
    r.kind,
    r.file,
    r.key,
    formatCell(r.a),
    formatCell(r.b),
    r.change === undefined ? '' : formatCell(r.change),
  ]);
  if (format === 'md') {
    return `${[
      `| ${head.join(' | ')} |`,
      '| --- | --- | --- | ---: | ---: | ---: |',
      ...body.map((r) => `| ${r.map(mdEscape).join(' | ')} |`),
    ].join('\n')}\n`;
  }
  return `${drawTable(head, body, [false, false, false, true, true, true])}\n`;
}
