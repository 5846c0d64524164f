/**
 * What a registered version records about itself, read from the commit it was registered at: the
 * artifact's content hash (from the lock file), the data and test-set hashes, metrics and params.
 * The record travels in the registration tag's message, below GTO's own first line.
 */
import YAML from 'yaml';
import { LockstepError } from '../errors.js';
import type { LockFile, LockedPath } from '../pipeline/lockfile-types.js';
import { flattenParams, parseParamsText } from '../exp/params-edit.js';
import { fileAt } from './git-tags.js';

export interface VersionMeta {
  path: string;
  md5: string;
  size: number;
  nfiles?: number;
  source: { commit: string; exp?: string; baseline?: string; rev?: string };
  metrics: Record<string, Record<string, unknown>>;
  params: Record<string, Record<string, unknown>>;
  data?: { path: string; md5: string };
  testSet?: { path: string; hash: string };
}

const META_PREFIX = 'lockstep: ';

export function formatMessage(subject: string, meta: unknown): string {
  return meta === undefined ? `${subject}\n` : `${subject}\n\n${META_PREFIX}${JSON.stringify(meta)}\n`;
}

/** lockstep's JSON below the subject line, or null (a tag made by GTO itself, or damaged). */
export function parseMessageMeta<T>(message: string): T | null {
  const line = message.split('\n').find((l) => l.startsWith(META_PREFIX));
  if (!line) return null;
  try {
    return JSON.parse(line.slice(META_PREFIX.length)) as T;
  } catch {
    return null;
  }
}

const LOCK_NAMES = ['pipeline.lock', 'dvc.lock'];
const PIPELINE_NAMES = ['pipeline.yaml', 'dvc.yaml'];

/** The lock file in a commit's tree, parsed; null when the commit has none. */
export async function lockAt(root: string, commit: string): Promise<{ name: string; lock: LockFile } | null> {
  for (const name of LOCK_NAMES) {
    const buf = await fileAt(root, commit, name);
    if (buf === null) continue;
    let lock: LockFile;
    try {
      lock = YAML.parse(buf.toString('utf8')) as LockFile;
    } catch (e) {
      throw new LockstepError('config', `${name} at ${commit.slice(0, 7)}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (
      !lock ||
      typeof lock !== 'object' ||
      !lock.stages ||
      typeof lock.stages !== 'object' ||
      Array.isArray(lock.stages)
    )
      throw new LockstepError('config', `${name} at ${commit.slice(0, 7)} has no stages mapping`, 'Fix the lock file.');
    return { name, lock };
  }
  return null;
}

/** A path recorded in the lock (as an out first, else a dep), by exact path. */
export function lockedEntry(lock: LockFile, rel: string): LockedPath | null {
  const norm = rel.replace(/\/+$/, '');
  for (const s of Object.values(lock.stages)) for (const o of s.outs ?? []) if (o.path === norm) return o;
  for (const s of Object.values(lock.stages)) for (const d of s.deps ?? []) if (d.path === norm) return d;
  return null;
}

/** Every params value the lock recorded, per params file (flattened keys), as a record's `params`. */
export function paramsOfLock(lock: LockFile): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of Object.values(lock.stages)) {
    for (const [file, values] of Object.entries(s.params ?? {})) {
      out[file] = { ...out[file], ...flattenParams(values as Record<string, unknown>) };
    }
  }
  return out;
}

/** Metrics files a pipeline at a commit declares (stage `metrics:` and the top-level `metrics:` list). */
export async function metricsAt(root: string, commit: string): Promise<Record<string, Record<string, unknown>>> {
  const files = new Set<string>();
  for (const name of PIPELINE_NAMES) {
    const buf = await fileAt(root, commit, name);
    if (buf === null) continue;
    let doc: { stages?: Record<string, { metrics?: unknown[] }>; metrics?: unknown[] } | null = null;
    try {
      doc = YAML.parse(buf.toString('utf8'));
    } catch {
      continue;
    }
    const add = (m: unknown) => {
      if (typeof m === 'string') files.add(m);
      else if (m && typeof m === 'object') for (const k of Object.keys(m)) files.add(k);
    };
    for (const s of Object.values(doc?.stages ?? {})) for (const m of s?.metrics ?? []) add(m);
    for (const m of doc?.metrics ?? []) add(m);
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const f of files) {
    if (f.includes('${')) continue;
    const buf = await fileAt(root, commit, f);
    if (buf === null) continue;
    try {
      out[f] = flattenParams(parseParamsText(f, buf.toString('utf8')));
    } catch {
      out[f] = {};
    }
  }
  return out;
}

/** A metric value by `file` and dotted `key` from a record's flattened metrics. */
export function metricValue(
  metrics: Record<string, Record<string, unknown>>,
  file: string,
  key: string,
): number | null {
  const v = metrics[file]?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
