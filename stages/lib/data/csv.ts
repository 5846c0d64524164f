/** RFC 4180 CSV for the index and manifest files (class names from image folders may hold commas). */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { StageError } from '../common/stage.js';

/** Fields quoted only when they hold a comma, quote or line break; LF line ends and a final newline. */
export function toCsv(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return stringify([header, ...rows]);
}

/** Parses CSV text into records keyed by the header, checking that every column in `need` is present. */
export function parseCsv(text: string, file: string, need: readonly string[]): Record<string, string>[] {
  let rows: string[][];
  try {
    rows = parse(text, { relax_column_count: true });
  } catch (e) {
    const { code, lines } = e as { code?: string; lines?: number };
    const what = code === 'CSV_QUOTE_NOT_CLOSED' ? 'unterminated quoted field' : (e as Error).message;
    throw new StageError(`${file}${lines ? `:${lines}` : ''}: ${what}`, 'Re-run the stage that wrote it.');
  }
  const header = rows.shift();
  if (!header) throw new StageError(`${file}: empty CSV file`, 'Re-run the stage that wrote it.');
  for (const col of need) {
    if (!header.includes(col))
      throw new StageError(
        `${file}: missing column '${col}' (has ${header.join(', ')})`,
        'Re-run the stage that wrote it.',
      );
  }
  return rows.map((r, n) => {
    if (r.length !== header.length)
      throw new StageError(
        `${file}:${n + 2}: ${r.length} fields, expected ${header.length}`,
        'Re-run the stage that wrote it.',
      );
    return Object.fromEntries(header.map((h, k) => [h, r[k]!]));
  });
}
