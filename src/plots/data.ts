/**
 * Plot data files -> rows, as DVC reads them: JSON and YAML (a list of records, or the first list of
 * records found inside a mapping), CSV and TSV (the first line names the fields unless `header: false`,
 * then fields are named 0, 1, ...). Numbers in CSV/TSV become numbers.
 */
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import YAML from 'yaml';
import { LockstepError } from '../errors.js';

export type Row = Record<string, unknown>;

export const DATA_EXTENSIONS = ['.json', '.yaml', '.yml', '.csv', '.tsv'] as const;
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.gif', '.svg'] as const;

export type PlotFileKind = 'data' | 'image' | 'other';

export function plotFileKind(file: string): PlotFileKind {
  const ext = path.extname(file).toLowerCase();
  if ((DATA_EXTENSIONS as readonly string[]).includes(ext)) return 'data';
  if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext)) return 'image';
  return 'other';
}

const isRecord = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRecordList = (v: unknown): v is Row[] => Array.isArray(v) && v.length > 0 && v.every(isRecord);

/** The first list of records in a document, depth first in key order (DVC's rule for nested files). */
function findRecords(doc: unknown, depth = 0): Row[] | undefined {
  if (Array.isArray(doc)) return doc.every(isRecord) ? doc : undefined;
  if (!isRecord(doc) || depth > 16) return undefined;
  for (const v of Object.values(doc)) {
    if (isRecordList(v)) return v;
  }
  for (const v of Object.values(doc)) {
    const found = findRecords(v, depth + 1);
    if (found) return found;
  }
  return undefined;
}

const bad = (file: string, why: string) =>
  new LockstepError('data', `${file}: ${why}`, 'Plot data must be a list of records (JSON/YAML) or a table (CSV/TSV).');

/** Parse one plot data file; `file` (repo-relative) gives the format and the messages' place. */
export function parsePlotData(file: string, content: Buffer | string, opts: { header?: boolean } = {}): Row[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') {
    try {
      const table = parseCsv(text, {
        delimiter: ext === '.tsv' ? '\t' : ',',
        skip_empty_lines: true,
        relax_column_count: false,
        cast: (value: string) => (value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value),
      }) as unknown[][];
      const names =
        opts.header === false ? (table[0] ?? []).map((_, i) => String(i)) : (table.shift() ?? []).map(String);
      return table.map((cells) => Object.fromEntries(names.map((n, i) => [n, cells[i]])));
    } catch (e) {
      throw bad(file, `not valid ${ext.slice(1).toUpperCase()}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  let doc: unknown;
  try {
    doc = ext === '.json' ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw bad(file, `not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  const rows = findRecords(doc);
  if (!rows) throw bad(file, 'no list of records found');
  return rows;
}

/** The fields of the first record, in file order (DVC infers y as the last of them). */
export function fieldsOf(rows: Row[]): string[] {
  return rows[0] ? Object.keys(rows[0]) : [];
}
