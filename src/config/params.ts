/**
 * Params files (YAML, JSON, TOML by extension) and the values a stage tracks from them, the way
 * dvc.lock records them: `{ 'params.yaml': { 'train.lr': 0.001 } }`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { parse as parseToml, TomlError } from 'smol-toml';
import { LockstepError } from '../errors.js';
import { formatPos, SourceFile } from './diagnostics.js';
import { jsonErrorOffset } from './json-position.js';
import { isPlainObject } from './source.js';
import type { SourcePos, StageDef } from './types.js';

export type ParamsRead =
  | {
      ok: true;
      data: Record<string, unknown>;
      text: string;
      /**
       * Dotted paths (`train.lr`, `layers.0`) of values written as floats but integral (`1.0`): DVC keeps them `1.0`.
       */
      floats: Set<string>;
    }
  | { ok: false; kind: 'missing'; file: string }
  | { ok: false; kind: 'syntax'; file: string; message: string; pos?: SourcePos; text: string };

/** Reads each params file at most once; share one per load (or per repro) so 500 stages parse params.yaml once. */
export class ParamsCache {
  private readonly files = new Map<string, Promise<ParamsRead>>();

  constructor(readonly root: string) {}

  /** Forget what was read: call after a stage ran, since a stage may write a params file. */
  clear(): void {
    this.files.clear();
  }

  read(file: string): Promise<ParamsRead> {
    let p = this.files.get(file);
    if (!p) {
      p = readParams(this.root, file);
      this.files.set(file, p);
    }
    return p;
  }
}

async function readParams(root: string, file: string): Promise<ParamsRead> {
  let text: string;
  try {
    text = await fs.readFile(path.resolve(root, file), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return { ok: false, kind: 'missing', file };
    throw e;
  }
  return parseParamsText(file, text);
}

export function parseParamsText(file: string, text: string): ParamsRead {
  const ext = path.extname(file).toLowerCase();
  const src = new SourceFile(file, text);
  const syntax = (message: string, offset?: number, pos?: SourcePos): ParamsRead => ({
    ok: false,
    kind: 'syntax',
    file,
    message,
    text,
    ...(pos ? { pos } : offset !== undefined ? { pos: src.posAt(offset) } : {}),
  });
  let data: unknown;
  let floats = new Set<string>();
  if (ext === '.json') {
    try {
      data = JSON.parse(text);
      // JSON is YAML 1.2: the yaml parser tells `1.0` from `1` where JSON.parse cannot
      if (/\d\.0*(?![1-9])|\d[eE]/.test(text)) floats = integralFloats(parseDocument(text).contents);
    } catch {
      const offset = jsonErrorOffset(text);
      const found = offset >= 0 && offset < text.length ? `unexpected '${text[offset]}'` : 'unexpected end of input';
      return syntax(`invalid JSON: ${found}`, Math.max(0, offset));
    }
  } else if (ext === '.toml') {
    try {
      const table = parseToml(text, { integersAsBigInt: true });
      floats = tomlFloats(table);
      data = plainToml(table);
    } catch (e) {
      if (e instanceof TomlError)
        return syntax((e.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, ''), undefined, {
          file,
          line: e.line,
          col: e.column,
        });
      return syntax((e as Error).message);
    }
  } else if (ext === '.yaml' || ext === '.yml') {
    const doc = parseDocument(text, { merge: true, prettyErrors: false });
    const first = doc.errors[0];
    if (first)
      return syntax((first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, ''), first.pos[0]);
    data = doc.toJS() ?? {};
    floats = integralFloats(doc.contents);
  } else {
    return syntax(`unsupported params file type '${ext || file}' (use .yaml, .yml, .json or .toml)`);
  }
  if (!isPlainObject(data)) return syntax('a params file must hold a mapping at the top level', 0);
  return { ok: true, data, text, floats };
}

/** Paths of YAML scalars whose source is a float (`1.0`, `1e3`) with an integral value. */
function integralFloats(root: unknown): Set<string> {
  const out = new Set<string>();
  const visit = (node: unknown, prefix: string) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        visit(pair.value, prefix ? `${prefix}.${k}` : k);
      }
    } else if (isSeq(node)) {
      node.items.forEach((it, i) => {
        visit(it, prefix ? `${prefix}.${i}` : String(i));
      });
    } else if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value)) {
      const src = node.source ?? '';
      if (/^[-+]?(\d[\d_]*)?\.|^[-+]?\d[\d_]*[eE]/.test(src)) out.add(prefix);
    }
  };
  visit(root, '');
  return out;
}

/** With integers read as bigint, every integral `number` in a TOML table was written as a float. */
function tomlFloats(table: unknown): Set<string> {
  const out = new Set<string>();
  const visit = (v: unknown, prefix: string) => {
    if (typeof v === 'number' && Number.isInteger(v)) out.add(prefix);
    else if (Array.isArray(v))
      v.forEach((it, i) => {
        visit(it, prefix ? `${prefix}.${i}` : String(i));
      });
    else if (typeof v === 'object' && v !== null && !(v instanceof Date))
      for (const [k, it] of Object.entries(v)) visit(it, prefix ? `${prefix}.${k}` : k);
  };
  visit(table, '');
  return out;
}

/** Read a params file (YAML, JSON or TOML by extension) as a plain object. */
export async function readParamsFile(root: string, file: string): Promise<Record<string, unknown>> {
  const r = await readParams(root, file);
  if (r.ok) return r.data;
  if (r.kind === 'missing')
    throw new LockstepError(
      'missing-param',
      `params file '${file}' not found`,
      `Create ${file} or fix the reference to it.`,
    );
  throw new LockstepError(
    'yaml-syntax',
    `${formatPos(r.pos) || `${file}: `}${r.message}`,
    `Fix the syntax of ${file}.`,
  );
}

/**
 * A dotted key in a params object: `train.lr`, `layers.0` / `layers[0]` for list items; a key
 * that itself contains dots (TOML `"a.b" = 1`) is found too.
 */
export function getParam(obj: unknown, dottedKey: string): { found: boolean; value: unknown } {
  if (isPlainObject(obj) && Object.hasOwn(obj, dottedKey)) return { found: true, value: obj[dottedKey] };
  const parts = dottedKey.replace(/\[(\d+)\]/g, '.$1').split('.');
  return walk(obj, parts, 0);
}

function walk(cur: unknown, parts: string[], i: number): { found: boolean; value: unknown } {
  if (i === parts.length) return { found: true, value: cur };
  if (isPlainObject(cur)) {
    // Prefer the longest key that exists, so `a.b.c` finds {"a.b": {"c": 1}}.
    for (let j = parts.length; j > i; j--) {
      const key = parts.slice(i, j).join('.');
      if (Object.hasOwn(cur, key)) {
        const r = walk(cur[key], parts, j);
        if (r.found) return r;
      }
    }
    return { found: false, value: undefined };
  }
  if (Array.isArray(cur)) {
    const part = parts[i] ?? '';
    if (/^\d+$/.test(part) && Number(part) < cur.length) return walk(cur[Number(part)], parts, i + 1);
  }
  return { found: false, value: undefined };
}

/** Dotted keys of every leaf (lists are leaves; empty dicts vanish, as in DVC's flatten). */
export function flattenParams(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const visit = (value: unknown, prefix: string) => {
    if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value)) visit(v, prefix ? `${prefix}.${k}` : k);
    } else {
      out[prefix] = value;
    }
  };
  for (const [k, v] of Object.entries(obj)) visit(v, k);
  return out;
}

/**
 * The current values of every param a stage tracks. Pass one ParamsCache to many calls to read
 * each file once. Throws LockstepError('missing-param') naming the stage, key and file.
 */
export async function resolveStageParams(
  root: string,
  stage: StageDef,
  cache: ParamsCache = new ParamsCache(root),
): Promise<Record<string, Record<string, unknown>>> {
  const result: Record<string, Record<string, unknown>> = {};
  for (const dep of stage.params) {
    const r = await cache.read(dep.file);
    if (!r.ok) {
      if (r.kind === 'missing') {
        throw new LockstepError(
          'missing-param',
          `stage '${stage.name}': params file '${dep.file}' not found`,
          `Create ${dep.file} or remove it from the params of stage '${stage.name}'.`,
        );
      }
      throw new LockstepError(
        'yaml-syntax',
        `${formatPos(r.pos) || `${r.file}: `}${r.message}`,
        `Fix the syntax of ${r.file}.`,
      );
    }
    result[dep.file] ??= {};
    const values = result[dep.file]!;
    if (dep.keys === null) {
      Object.assign(values, r.data);
      continue;
    }
    for (const key of dep.keys) {
      const got = getParam(r.data, key);
      if (!got.found) {
        throw new LockstepError(
          'missing-param',
          `stage '${stage.name}': param '${key}' not found in ${dep.file}`,
          `Add '${key}' to ${dep.file} or remove it from the params of stage '${stage.name}'.`,
        );
      }
      values[key] = got.value;
    }
  }
  return result;
}

/** smol-toml builds null-prototype objects and TomlDate values; params are plain data. */
function plainToml(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plainToml);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainToml(v);
    return out;
  }
  return value;
}
