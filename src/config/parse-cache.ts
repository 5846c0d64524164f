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
  // Rename makes the file appear whole; no fsync: a torn file after a crash fails JSON.parse and is re-parsed.
  const tmp = tempSibling(target);
  try {
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(tmp, json);
    renameSync(tmp, target);
  } catch {
    rmSync(tmp, { force: true });
  }
}
