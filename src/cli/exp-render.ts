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

const missing = (v: unknown) => v === undefined || v === null;

/** Whether a column tells rows apart (a workspace or baseline row without the value does not count). */
function varies(table: ExpTable, c: Column): boolean {
  let first: string | undefined;
  for (const r of table.rows) {
    const v = r.cells[c.id];
    if (missing(v) && r.kind !== 'experiment') continue;
    const s = JSON.stringify(v ?? null);
    if (first === undefined) first = s;
    else if (s !== first) return true;
  }
  return false;
}

/**
 * Which columns stay when the terminal is narrow, most important first: the metrics that tell the
 * experiments apart in the primary metrics files (the top-level `metrics:` section, the last stages'),
 * then the params that differ, then the other metrics (top-level numbers before nested ones and text),
 * then what is the same in every row; Created and a State that is all `success` give way first.
 */
function fitPriority(table: ExpTable, c: Column, i: number): number {
  if (i === 0 || c.kind === 'group') return 0;
  if (c.id === 'meta:created') return 8;
  if (c.id === 'meta:state')
    return table.rows.some((r) => r.kind === 'experiment' && r.cells[c.id] === 'failed') ? 1 : 9;
  if (c.kind === 'meta') return 1; // n and failed of a grouped table
  const v = varies(table, c);
  if (c.kind === 'param') return v ? 3 : 7;
  if (!v) return 7;
  if (!table.rows.some((r) => typeof r.cells[c.id] === 'number')) return 6;
  if ((c.key ?? c.label).split(':')[0]?.includes('.')) return 5;
  return c.primary ? 2 : 4;
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

/** DVC's tree: `workspace`, each baseline by name, its experiments under it (`├── name`, `└── name`). */
function treeNames(rows: Row[]): Row[] {
  return rows.map((r, i) => {
    if (r.kind !== 'experiment') return r;
    const next = rows[i + 1];
    const last = next?.kind !== 'experiment' || next.baseline !== r.baseline;
    return { ...r, cells: { ...r.cells, 'meta:name': `${last ? '└──' : '├──'} ${r.name}` } };
  });
}

/**
 * The terminal table; returns the text and a note about hidden columns (or ''). With workspace and
 * baseline rows it is DVC's tree; without (grouped tables), one baseline gets a title line and several
 * get a Baseline column marking where each group starts.
 */
export function renderText(table: ExpTable, opts: { width: number; head?: string }): { text: string; note: string } {
  const tree = table.rows.some((r) => r.kind !== 'experiment');
  const groups = groupRows(table.rows);
  const multi = !tree && groups.length > 1;
  const baselineCol: Column = { id: 'meta:baseline', label: 'Baseline', kind: 'meta' };
  const rows: Row[] = tree
    ? treeNames(table.rows)
    : multi
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
  const title = !tree && !multi && groups[0] ? `${baselineTitle(groups[0][0], opts.head)}\n` : '';
  const note = hidden.length
    ? `${hidden.length} column${hidden.length > 1 ? 's' : ''} did not fit the ${opts.width}-column terminal and ` +
      `${hidden.length > 1 ? 'are' : 'is'} not shown: ${hidden.map((c) => c.label).join(', ')} (use --keep/--drop, ` +
      `--csv or --json)`
    : '';
  return { text: title + text, note };
}

/** CSV: the baseline commit and the row's type (workspace, baseline, experiment) before the table's columns. */
export function renderCsv(table: ExpTable): string {
  const header = ['baseline', 'type', ...table.columns.map((c) => c.label)];
  const rows = table.rows.map((r) => [
    r.baseline,
    r.kind,
    ...table.columns.map((c) => {
      const v = r.cells[c.id];
      return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }),
  ]);
  return stringify([header, ...rows]);
}

const mdEscape = (s: string): string => s.replace(/\|/g, '\\|');

export function renderMarkdown(table: ExpTable): string {
  const rows = table.rows.some((r) => r.kind !== 'experiment') ? treeNames(table.rows) : table.rows;
  const lines = [
    `| ${table.columns.map((c) => mdEscape(c.label)).join(' | ')} |`,
    `|${table.columns.map((c) => (c.kind === 'meta' || c.kind === 'group' ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const r of rows)
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
