/**
 * How interpolated values become text, matching DVC (Python) so a dvc.yaml yields the same
 * commands here as there: `str()` of numbers, lowercase booleans, and dicts in `cmd` unwrapped
 * to `--key value` arguments.
 */
import { isPlainObject } from './source.js';

/** Python's `str(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  const [mantissa = '0', e = '0'] = n.toExponential().split('e');
  const exponent = Number(e);
  if (n !== 0 && (exponent < -4 || exponent >= 16)) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(n);
}

/** Text of a primitive as DVC writes it into a string; undefined for dicts and lists. */
export function scalarToString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return pyNumber(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null || value === undefined) return 'None';
  if (value instanceof Date) return value.toISOString();
  return undefined;
}

/** Python's shlex.quote. */
export function shellQuote(s: string): string {
  if (s === '') return "''";
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

export function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (isPlainObject(value)) return 'dict';
  if (value === null) return 'null';
  return typeof value;
}

/**
 * `${args}` of a dict inside `cmd`: `{lr: 0.1, fast: true, name: a b, layers: [1, 2]}` ->
 * `--lr 0.1 --fast --name 'a b' --layers 1 2` (DVC's defaults: store_true booleans, nargs lists).
 * Returns an error message for nested lists.
 */
export function dictToArgs(obj: Record<string, unknown>): { text: string } | { error: string } {
  const parts: string[] = [];
  for (const [key, value] of flattenForArgs(obj, '')) {
    if (typeof value === 'boolean') {
      if (value) parts.push(`--${key}`);
    } else if (typeof value === 'string') {
      parts.push(`--${key} ${shellQuote(value)}`);
    } else if (Array.isArray(value)) {
      const items: string[] = [];
      for (const item of value) {
        if (Array.isArray(item) || isPlainObject(item))
          return { error: `cannot unwrap nested ${typeName(item)} in '${key}' into command arguments` };
        // Python's f"{i}" of a list item: True/False capitalised, unlike a whole boolean flag.
        items.push(
          typeof item === 'string'
            ? shellQuote(item)
            : typeof item === 'boolean'
              ? item
                ? 'True'
                : 'False'
              : (scalarToString(item) ?? ''),
        );
      }
      if (items.length) parts.push(`--${key} ${items.join(' ')}`);
    } else {
      parts.push(`--${key} ${scalarToString(value) ?? ''}`);
    }
  }
  return { text: parts.join(' ') };
}

function* flattenForArgs(obj: Record<string, unknown>, prefix: string): Generator<[string, unknown]> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v)) yield* flattenForArgs(v, key);
    else yield [key, v];
  }
}
