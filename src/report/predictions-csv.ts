import { LockstepError } from '../errors.js';
import type { PredictionRow } from './types.js';

/** The fixed leading columns of results/predictions.csv; p_<class> columns follow in class order. */
export const FIXED_COLUMNS = ['id', 'path', 'true_label', 'pred_label', 'p_true', 'p_pred'] as const;

export interface ParsedPredictions {
  classes: string[];
  rows: PredictionRow[];
}

interface CsvRecord {
  fields: string[];
  /** 1-based line where the record starts (a quoted field may span lines). */
  line: number;
}

/** RFC 4180 records: quoted fields with "" escapes, CRLF or LF line ends; a final newline is optional. */
export function parseCsvRecords(text: string, source: string): CsvRecord[] {
  // csv-stringify quotes only fields that need it, so an evaluate stage's file usually has no quote
  // at all: plain splitting is then exact and many times faster than the character loop.
  if (!text.includes('"')) return splitPlain(text);
  return parseQuoted(text, source);
}

function splitPlain(text: string): CsvRecord[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split(/\r?\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l, i) => ({ fields: l.split(','), line: i + 1 }));
}

function parseQuoted(text: string, source: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let quoted = false;
  let atFieldStart = true;
  const endRecord = () => {
    fields.push(field);
    records.push({ fields, line: recordLine });
    fields = [];
    field = '';
    atFieldStart = true;
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1; // a BOM is not part of the first column's name
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          throw malformed(source, line, 'text after a closing quote');
        }
        continue;
      }
      if (ch === '\n') line++;
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
      i++;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
      i++;
    } else if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      field += ch;
      atFieldStart = false;
      i++;
    }
  }
  if (quoted) throw malformed(source, recordLine, 'a quoted field is not closed');
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}

function malformed(source: string, line: number, what: string): LockstepError {
  return new LockstepError(
    'report',
    `${source}:${line}: malformed predictions row: ${what}`,
    'Re-run the evaluate stage to rewrite the file.',
  );
}

function probability(text: string, column: string, source: string, line: number): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw malformed(source, line, `${column} '${text}' is not a probability between 0 and 1`);
  }
  return value;
}

/**
 * Parse and check an evaluate stage's predictions.csv: the exact leading header, at least two
 * p_<class> columns, every row complete with known labels and probabilities in [0, 1], no id twice.
 * `source` names the file in messages ("exp 'a' results/predictions.csv").
 */
export function parsePredictionsCsv(text: string, source: string): ParsedPredictions {
  const records = parseCsvRecords(text, source).filter((r) => !(r.fields.length === 1 && r.fields[0] === ''));
  const header = records[0];
  if (!header)
    throw new LockstepError('report', `${source} is empty`, 'Re-run the evaluate stage to rewrite the file.');
  const fixedOk = FIXED_COLUMNS.every((c, i) => header.fields[i] === c);
  const classColumns = header.fields.slice(FIXED_COLUMNS.length);
  if (!fixedOk || classColumns.length < 2 || !classColumns.every((c) => c.startsWith('p_') && c.length > 2)) {
    throw new LockstepError(
      'report',
      `${source}:1: header is '${header.fields.join(',')}', expected ${FIXED_COLUMNS.join(',')},p_<class>,… (two classes or more)`,
      'Re-run the evaluate stage to rewrite the file.',
    );
  }
  const classes = classColumns.map((c) => c.slice(2));
  const duplicate = classes.find((c, i) => classes.indexOf(c) !== i);
  if (duplicate !== undefined) throw malformed(source, 1, `class '${duplicate}' has two columns`);
  const known = new Set(classes);
  const width = header.fields.length;
  const seen = new Map<string, number>();
  const rows: PredictionRow[] = [];
  for (const r of records.slice(1)) {
    const f = r.fields;
    if (f.length !== width) throw malformed(source, r.line, `${f.length} columns, the header has ${width}`);
    const [id, path, trueLabel, predLabel, pTrue, pPred] = f as [string, string, string, string, string, string];
    if (id === '') throw malformed(source, r.line, 'empty id');
    const earlier = seen.get(id);
    if (earlier !== undefined) throw malformed(source, r.line, `id ${id} already on line ${earlier}`);
    seen.set(id, r.line);
    if (!known.has(trueLabel))
      throw malformed(source, r.line, `true_label '${trueLabel}' is not one of ${classes.join(',')}`);
    if (!known.has(predLabel))
      throw malformed(source, r.line, `pred_label '${predLabel}' is not one of ${classes.join(',')}`);
    const row: PredictionRow = {
      id,
      path,
      trueLabel,
      predLabel,
      pTrue: probability(pTrue, 'p_true', source, r.line),
      pPred: probability(pPred, 'p_pred', source, r.line),
      probs: f.slice(FIXED_COLUMNS.length).map((v, k) => probability(v, classColumns[k] as string, source, r.line)),
    };
    // p_true / p_pred repeat two entries of the vector: a mismatch means shifted or mislabelled columns
    for (const [column, value, label] of [
      ['p_true', row.pTrue, trueLabel],
      ['p_pred', row.pPred, predLabel],
    ] as const) {
      const inVector = row.probs[classes.indexOf(label)] as number;
      if (Math.abs(value - inVector) > 1e-6)
        throw malformed(source, r.line, `${column} ${value} differs from p_${label} ${inVector}`);
    }
    rows.push(row);
  }
  return { classes, rows };
}
