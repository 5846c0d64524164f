/**
 * Byte-exact Python `json.dumps(value, sort_keys=True)` for what DVC serialises into `.dir`
 * manifests: lists of flat string-valued objects. Python's defaults are ensure_ascii=True and
 * separators (', ', ': '), which differ from JSON.stringify, so the md5 of a manifest would not
 * match DVC's if we used JSON.stringify.
 */
import type { DirEntry } from './types.js';

const SHORT_ESCAPES: Record<number, string> = {
  34: '\\"',
  92: '\\\\',
  10: '\\n',
  13: '\\r',
  9: '\\t',
  8: '\\b',
  12: '\\f',
};

/** A string literal as Python's json encoder with ensure_ascii writes it. */
export function pyJsonString(s: string): string {
  // Fast path: printable ASCII without quote or backslash needs no escaping (most file names).
  if (/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) out += short;
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    // Python escapes every code point outside ' '..'~' as \uXXXX (lowercase hex); astral code
    // points become surrogate pairs, which is exactly what iterating UTF-16 code units yields.
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/** A flat object of strings with sorted keys, as `json.dumps(obj, sort_keys=True)`. */
export function pyJsonObject(obj: Record<string, string>): string {
  const keys = Object.keys(obj).sort(compareCodePoints);
  return `{${keys.map((k) => `${pyJsonString(k)}: ${pyJsonString(obj[k] as string)}`).join(', ')}}`;
}

/**
 * Compare strings by Unicode code point, as Python sorts `str`. JavaScript's `<` compares UTF-16
 * code units, which disagrees for astral characters versus U+E000..U+FFFF; shifting code units at
 * or above U+D800 restores code-point order without decoding.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * The `.dir` manifest bytes DVC 3 writes: `json.dumps([{"md5": …, "relpath": …}, …], sort_keys=True)`
 * with entries sorted by relpath. `entries` must already be sorted with `compareCodePoints`.
 */
export function manifestJson(entries: readonly Pick<DirEntry, 'md5' | 'relpath'>[]): string {
  const parts = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as DirEntry;
    // Keys in sorted order: "md5" < "relpath". md5 is hex and never needs escaping.
    parts[i] = `{"md5": "${e.md5}", "relpath": ${pyJsonString(e.relpath)}}`;
  }
  return `[${parts.join(', ')}]`;
}
