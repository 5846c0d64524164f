/**
 * Sweep expansion, pure: `-S key=a,b` and a project's shorthands (`--seed 1,2`) -> the cartesian product of
 * assignments, one list per experiment. No file system here; params files are edited in params-edit.ts.
 */
import YAML from 'yaml';
import { LockstepError } from '../errors.js';

export const DEFAULT_PARAMS_FILE = 'params.yaml';

/** One `-S` (or shorthand) argument: a key in a params file and the values it sweeps over. */
export interface ParamOverride {
  /** Params file, repo-relative; `null` means the default params file. */
  file: string | null;
  /** Dotted key, e.g. `train.lr`. */
  key: string;
  values: unknown[];
  /** How the user wrote it, for error messages: `-S train.lr=0.1` or `--seed 42`. */
  source: string;
}

/** One param value an experiment sets. */
export interface Assignment {
  file: string;
  key: string;
  value: unknown;
}

/**
 * Split a comma list, ignoring commas inside brackets, braces or quotes so a value like `[1,2]`
 * or `"a,b"` stays whole.
 */
export function splitList(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '[' || ch === '{') {
      depth++;
    } else if ((ch === ']' || ch === '}') && depth > 0) {
      depth--;
    } else if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

/** A value as YAML reads it, so `42` is a number, `true` a boolean and `v1+v2` a string. */
export function parseValue(text: string): unknown {
  try {
    return YAML.parse(text);
  } catch {
    return text;
  }
}

function parseValues(raw: string, source: string): unknown[] {
  const parts = splitList(raw);
  if (parts.some((p) => p === '')) {
    throw new LockstepError(
      'usage',
      `malformed ${source}: empty value in '${raw}'`,
      'Give one value or a comma list without empty items, e.g. -S train.lr=0.1,0.01.',
    );
  }
  const seen = new Set<string>();
  const values: unknown[] = [];
  for (const part of parts) {
    if (seen.has(part)) continue; // `--seed 1,1` means one experiment, not two identical ones
    seen.add(part);
    values.push(parseValue(part));
  }
  return values;
}

const KEY_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Parse `-S key=value[,value…]` or `-S file.yaml:key=value[,value…]`. */
export function parseSetArg(arg: string): ParamOverride {
  const source = `-S ${arg}`;
  const eq = arg.indexOf('=');
  if (eq <= 0) {
    throw new LockstepError(
      'usage',
      `malformed ${source}: expected key=value`,
      'Write -S key=value or -S file.yaml:key=value (a comma list sweeps).',
    );
  }
  const lhs = arg.slice(0, eq).trim();
  const raw = arg.slice(eq + 1).trim();
  const colon = lhs.lastIndexOf(':');
  const file = colon >= 0 ? lhs.slice(0, colon).trim() : null;
  const key = colon >= 0 ? lhs.slice(colon + 1).trim() : lhs;
  if (file !== null && (file === '' || !/\.(ya?ml|json|toml)$/i.test(file))) {
    throw new LockstepError(
      'usage',
      `malformed ${source}: '${file}' is not a params file (.yaml, .yml, .json or .toml)`,
      'Write -S file.yaml:key=value.',
    );
  }
  if (!KEY_RE.test(key)) {
    throw new LockstepError(
      'usage',
      `malformed ${source}: '${key}' is not a dotted param key`,
      'Write -S key=value, e.g. -S train.lr=0.001.',
    );
  }
  if (raw === '') {
    throw new LockstepError('usage', `malformed ${source}: no value after '='`, 'Write -S key=value.');
  }
  return { file, key, values: parseValues(raw, source), source };
}

/**
 * A project's shorthand for `-S <key>=<values>` (`--seed 1,2` for `-S seed=1,2`): which flags exist and
 * what their values must look like are the project's conventions (src/product/sweep-shorthands.ts), not
 * the engine's.
 */
export interface Shorthand {
  /** The params key it sets in the default params file; the flag is `--<key>`. */
  key: string;
  /** For `--help`. */
  description: string;
  /** Values stay text (YAML would read `1` as a number). */
  text?: boolean;
  /** Throws a usage LockstepError for a value this project does not accept. `raw` is the whole flag value. */
  check?: (value: unknown, raw: string) => void;
}

/** The overrides the given shorthand flags stand for, in the order of `shorthands`. */
export function shorthandOverrides(
  given: Readonly<Record<string, unknown>>,
  shorthands: readonly Shorthand[],
): ParamOverride[] {
  const out: ParamOverride[] = [];
  for (const s of shorthands) {
    const raw = given[s.key];
    if (typeof raw !== 'string') continue;
    const source = `--${s.key} ${raw}`;
    const values = s.text ? parseValues(raw, source).map(String) : parseValues(raw, source);
    if (s.check) for (const v of values) s.check(v, raw);
    out.push({ file: null, key: s.key, values, source });
  }
  return out;
}

/**
 * The cartesian product of the overrides, first override outermost, so `--seed 1,2 --data a,b`
 * gives (1,a) (1,b) (2,a) (2,b). A later override of the same file and key replaces an earlier one.
 */
export function expandSweep(overrides: ParamOverride[], defaultFile = DEFAULT_PARAMS_FILE): Assignment[][] {
  const byKey = new Map<string, ParamOverride>();
  for (const o of overrides) {
    const file = o.file ?? defaultFile;
    const id = `${file}\0${o.key}`;
    byKey.delete(id); // keep the order of the last mention
    byKey.set(id, { ...o, file });
  }
  let combos: Assignment[][] = [[]];
  for (const o of byKey.values()) {
    const next: Assignment[][] = [];
    for (const combo of combos) {
      for (const value of o.values) next.push([...combo, { file: o.file as string, key: o.key, value }]);
    }
    combos = next;
  }
  return combos;
}

/** A short label of what an experiment sets, e.g. `seed=42 data=v1+v2`. */
export function describeAssignments(assignments: Assignment[]): string {
  return assignments
    .map((a) => `${a.file === DEFAULT_PARAMS_FILE ? '' : `${a.file}:`}${a.key}=${formatValue(a.value)}`)
    .join(' ');
}

export function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}
