/**
 * Writing param overrides into a params file's text, pure (text in, text out). YAML keeps its
 * comments and layout through the yaml Document API; JSON keeps its indentation; TOML is rewritten.
 */
import YAML, { isMap } from 'yaml';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { distance } from 'fastest-levenshtein';
import { LockstepError } from '../errors.js';
import type { Assignment } from './sweep.js';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Dotted keys of the leaves (lists are leaves), as dvc.lock and `exp show` name params. */
export function flattenParams(obj: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (!isPlainObject(obj)) {
    if (prefix) out[prefix] = obj;
    return out;
  }
  const entries = Object.entries(obj);
  if (entries.length === 0 && prefix) out[prefix] = {};
  for (const [k, v] of entries) flattenParams(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** Every key an override may set: the leaves and the dicts above them. */
export function settableKeys(obj: unknown): string[] {
  const keys: string[] = [];
  const walk = (v: unknown, prefix: string) => {
    if (!isPlainObject(v)) return;
    for (const [k, child] of Object.entries(v)) {
      const key = prefix ? `${prefix}.${k}` : k;
      keys.push(key);
      walk(child, key);
    }
  };
  walk(obj, '');
  return keys;
}

/** The valid keys, closest to `wanted` first, shortened to `max` entries. */
export function closestKeys(wanted: string, keys: string[], max = 12): string {
  const ranked = [...new Set(keys)].sort((a, b) => distance(wanted, a) - distance(wanted, b) || a.localeCompare(b));
  const shown = ranked.slice(0, max).join(', ');
  return ranked.length > max ? `${shown}, … (${ranked.length - max} more)` : shown;
}

function unknownKey(file: string, a: Assignment, keys: string[]): LockstepError {
  const valid = keys.length ? `valid keys: ${closestKeys(a.key, flattenKeysOnly(keys))}` : 'the file has no keys';
  return new LockstepError(
    'missing-param',
    `${file}: unknown param '${a.key}'; ${valid}`,
    'Set a key the params file already has (see `lockstep exp show` or the file).',
  );
}

/** Prefer leaves in the listing: dict keys are settable but rarely what was meant. */
function flattenKeysOnly(keys: string[]): string[] {
  const leaves = keys.filter((k) => !keys.some((o) => o.startsWith(`${k}.`)));
  return leaves.length ? leaves : keys;
}

/** Check every assignment names an existing key of the parsed params object; throws on the first unknown one. */
export function checkKeys(file: string, data: unknown, assignments: Assignment[]): void {
  const keys = settableKeys(data);
  const set = new Set(keys);
  for (const a of assignments) if (!set.has(a.key)) throw unknownKey(file, a, keys);
}

/** Parse a params file's text by its extension. */
export function parseParamsText(file: string, text: string): unknown {
  try {
    if (/\.json$/i.test(file)) return JSON.parse(text);
    if (/\.toml$/i.test(file)) return parseToml(text);
    return YAML.parse(text) ?? {};
  } catch (e) {
    throw new LockstepError(
      'yaml-syntax',
      `${file}: ${(e as Error).message.split('\n')[0]}`,
      'Fix the params file syntax.',
    );
  }
}

function setIn(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur: Record<string, unknown> = obj;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[path[path.length - 1] as string] = value;
}

/** The params file's new text with the assignments applied; throws for keys the file lacks. */
export function applyAssignments(file: string, text: string, assignments: Assignment[]): string {
  const data = parseParamsText(file, text);
  checkKeys(file, data, assignments);
  if (assignments.length === 0) return text;
  if (/\.json$/i.test(file)) {
    const indent = /^[ \t]+/m.exec(text)?.[0] ?? '  ';
    const obj = data as Record<string, unknown>;
    for (const a of assignments) setIn(obj, a.key.split('.'), a.value);
    return JSON.stringify(obj, null, indent) + (text.endsWith('\n') ? '\n' : '');
  }
  if (/\.toml$/i.test(file)) {
    const obj = data as Record<string, unknown>;
    for (const a of assignments) setIn(obj, a.key.split('.'), a.value);
    return `${stringifyToml(obj)}\n`;
  }
  const doc = YAML.parseDocument(text);
  if (!isMap(doc.contents))
    throw new LockstepError(
      'config',
      `${file}: the params file is not a mapping`,
      'Make the top level of the params file a mapping.',
    );
  for (const a of assignments) doc.setIn(a.key.split('.'), a.value);
  return doc.toString();
}
