/**
 * Parsing a large pipeline.yaml is the slowest part of loading it (the yaml package, cold, in a
 * fresh CLI process). The parsed tree is a pure function of the file's text, so it is kept in the
 * cache folder under the md5 of (format version, file name, text): an unchanged file is read back
 * with JSON.parse, and any change simply misses.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempSibling } from '../util/atomic.js';
import type { Problems } from './diagnostics.js';
import { parseYamlSource, type YNode } from './source.js';

const FORMAT = 'lockstep-parsed-yaml-v1';
/** Small files parse in a few milliseconds; caching them would only add files. */
const MIN_CACHED_LENGTH = 8 * 1024;

export function parseYamlSourceCached(
  file: string,
  text: string,
  problems: Problems,
  cacheDir: string | undefined,
): YNode | undefined {
  if (!cacheDir || text.length < MIN_CACHED_LENGTH) return parseYamlSource(file, text, problems);
  const key = createHash('md5').update(`${FORMAT}\0${file}\0`).update(text).digest('hex');
  const target = path.join(cacheDir, 'tmp', 'parsed', `${key}.json`);
  try {
    const cached = JSON.parse(readFileSync(target, 'utf8')) as { format?: string; root?: YNode };
    if (cached.format === FORMAT && cached.root && typeof cached.root === 'object') return cached.root;
  } catch {
    // missing or unreadable: parse below
  }
  const before = problems.size;
  const root = parseYamlSource(file, text, problems);
  if (root && problems.size === before) store(target, root);
  return root;
}

function store(target: string, root: YNode): void {
  let json: string;
  try {
    json = JSON.stringify({ format: FORMAT, root }, (_k, v: unknown) => {
      // JSON cannot carry these faithfully; such a file is just parsed every time.
      if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) throw new Error('not JSON-safe');
      if (typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function') throw new Error('not JSON-safe');
      return v;
    });
  } catch {
    return;
  }
  keep(target, json);
}

/**
 * Write a cache file whole or not at all, never throwing (a cache that cannot be written is only slower).
 * Rename makes the file appear whole; no fsync: a torn file after a crash fails its check and is re-parsed.
 */
function keep(target: string, data: string): void {
  const tmp = tempSibling(target);
  try {
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, target);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/**
 * A parsed copy of a large file that changes often (a lock file), kept in one slot per `slot` name so
 * that every rewrite replaces the copy instead of adding one. The entry names the md5 of the text it was
 * parsed from and the md5 of its own JSON: a copy of another text (stale), a torn or altered file
 * (corrupt) or another format is ignored and the caller parses the text. The key is the content, not
 * size and mtime, so an edit within the file system's time resolution can never be served the old copy.
 * The value must still be checked by the caller as if parsed from the text (it is untrusted input).
 */
export interface ParsedSlot {
  /** Where the entry lives: `<cacheDir>/tmp/parsed/<format>-<md5 of slot>.json`. */
  target: string;
  /** md5 of (format, text): what a usable entry must name. */
  textKey: string;
}

const SLOT_FORMAT_RE = /^[a-z0-9-]+$/;

export function parsedSlot(cacheDir: string, format: string, slot: string, text: string): ParsedSlot {
  if (!SLOT_FORMAT_RE.test(format)) throw new Error(`bad parsed-slot format ${format}`);
  const name = createHash('md5').update(slot).digest('hex');
  return {
    target: path.join(cacheDir, 'tmp', 'parsed', `${format}-${name}.json`),
    textKey: createHash('md5').update(`${format}\0`).update(text).digest('hex'),
  };
}

/** The value kept for exactly this text, or undefined (missing, stale, torn, altered). */
export function readParsedSlot(slot: ParsedSlot): unknown {
  let raw: string;
  try {
    raw = readFileSync(slot.target, 'utf8');
  } catch {
    return undefined;
  }
  // `<textKey> <md5 of json>\n<json>`
  const nl = raw.indexOf('\n');
  if (nl !== 65 || raw.slice(0, 32) !== slot.textKey) return undefined;
  const json = raw.slice(nl + 1);
  if (createHash('md5').update(json).digest('hex') !== raw.slice(33, 65)) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

/** Keep `value` for the slot's text, when JSON carries it exactly (else nothing is kept). Never throws. */
export function writeParsedSlot(slot: ParsedSlot, value: unknown): void {
  if (!isPlainJson(value)) return;
  const json = JSON.stringify(value);
  keep(slot.target, `${slot.textKey} ${createHash('md5').update(json).digest('hex')}\n${json}`);
}

/**
 * Only what JSON.parse gives back identically: plain objects and arrays, strings, booleans, null and
 * finite numbers other than -0. A parser's Date (a YAML timestamp), binary or special float is refused.
 */
export function isPlainJson(v: unknown, depth = 0): boolean {
  if (depth > 200) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (typeof v !== 'object') return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!isPlainJson(x, depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k of Object.keys(v)) {
    if (k === '__proto__' || !isPlainJson((v as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}
