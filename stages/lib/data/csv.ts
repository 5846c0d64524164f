/** Minimal RFC 4180 CSV for the index and manifest files (class names from image folders may hold commas). */
import { StageError } from '../common/stage.js';

const quote = (field: string): string => (/[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field);

export function toCsv(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const lines = [header.map(quote).join(',')];
  for (const row of rows) lines.push(row.map((f) => quote(String(f))).join(','));
  return `${lines.join('\n')}\n`;
}

/** Parses CSV text into records keyed by the header, checking that every column in `need` is present. */
export function parseCsv(text: string, file: string, need: readonly string[]): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') {
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      i++;
      continue;
    }
    if (c === ',') {
      row.push(field);
      field = '';
      i++;
      continue;
    }
    if (c === '\n' || c === '\r') {
      row.push(field);
      field = '';
      rows.push(row);
      row = [];
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    field += c;
    i++;
  }
  if (quoted) throw new StageError(`${file}: unterminated quoted field`, 'Re-run the stage that wrote it.');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
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
