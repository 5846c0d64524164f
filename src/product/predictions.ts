/**
 * The evaluate stage's `results/predictions.csv`: one row per test image with its true and predicted label
 * and the probability of every class. A convention of the CIFAR-10 pipeline (stages/evaluate.ts writes it),
 * read by the hard-examples report; the engine knows nothing of it.
 */
import { parse } from 'csv-parse/sync';
import { LockstepError } from '../errors.js';

/** Where the evaluate stage writes its predictions (an out in pipeline.lock). */
export const PREDICTIONS_PATH = 'results/predictions.csv';

/** The fixed leading columns of results/predictions.csv; p_<class> columns follow in class order. */
export const FIXED_COLUMNS = ['id', 'path', 'true_label', 'pred_label', 'p_true', 'p_pred'] as const;

/** One row of an evaluate stage's results/predictions.csv. */
export interface PredictionRow {
  id: string;
  /** Repo-relative path of the image (e.g. data/partitions/v1/cat/train-01234.png). */
  path: string;
  trueLabel: string;
  predLabel: string;
  pTrue: number;
  pPred: number;
  /** Full probability vector in the file's class order (`classes`). */
  probs: number[];
}

export interface ParsedPredictions {
  classes: string[];
  rows: PredictionRow[];
}

interface CsvRecord {
  fields: string[];
  /** 1-based line where the record starts (a quoted field may span lines). */
  line: number;
}

/** RFC 4180 records (csv-parse): quoted fields with "" escapes, CRLF or LF, a BOM, an optional final newline. */
function csvRecords(text: string, source: string): CsvRecord[] {
  // csv-stringify (stages/evaluate.ts) quotes only fields that need it, so the file usually has no quote at
  // all; splitting is then exact, and 2.5x faster than csv-parse on a 15-run sweep (bench/hard-examples.ts).
  if (!text.includes('"')) return splitPlain(text);
  let parsed: { record: string[]; info: { lines: number } }[];
  try {
    // with `info: true` each record comes as {record, info}; csv-parse's types do not model the option
    parsed = parse(text, { bom: true, relax_column_count: true, info: true }) as unknown as typeof parsed;
  } catch (e) {
    const { code, lines } = e as { code?: string; lines?: number };
    if (code === 'CSV_QUOTE_NOT_CLOSED') throw malformed(source, lines ?? 1, 'a quoted field is not closed');
    if (code === 'CSV_INVALID_CLOSING_QUOTE') throw malformed(source, lines ?? 1, 'text after a closing quote');
    throw malformed(source, lines ?? 1, (e as Error).message);
  }
  // info.lines is where a record ends; it starts on the line after the previous one ended
  return parsed.map((r, i) => ({ fields: r.record, line: i === 0 ? 1 : parsed[i - 1]!.info.lines + 1 }));
}

function splitPlain(text: string): CsvRecord[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split(/\r?\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l, i) => ({ fields: l.split(','), line: i + 1 }));
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
  const records = csvRecords(text, source).filter((r) => !(r.fields.length === 1 && r.fields[0] === ''));
  const header = records[0];
  if (!header)
    throw new LockstepError('report', `${source} is empty`, 'Re-run the evaluate stage to rewrite the file.');
  const fixedOk = FIXED_COLUMNS.every((c, i) => header.fields[i] === c);
  const classColumns = header.fields.slice(FIXED_COLUMNS.length);
  if (!fixedOk || classColumns.length < 2 || !classColumns.every((c) => c.startsWith('p_') && c.length > 2)) {
    throw new LockstepError(
      'report',
      `${source}:1: header is '${header.fields.join(',')}', expected ${FIXED_COLUMNS.join(',')},p_<class>,… (two ` +
        `classes or more)`,
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
