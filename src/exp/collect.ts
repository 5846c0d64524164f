/**
 * What a finished workspace contributes to its record: params, pipeline.lock, metrics (the stages' and
 * the top-level `metrics:` section's) and small plot files (the stages' and the top-level `plots:` section's).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { lockFileOf } from '../config/load.js';
import type { Pipeline } from '../config/types.js';
import type { LockFile } from '../pipeline/lockfile-types.js';
import { flattenParams, parseParamsText } from './params-edit.js';
import { metricsFilesByImportance } from './snapshot.js';

/** Plot files above this size stay in the cache only (the record keeps small files). */
export const MAX_RECORD_FILE = 1024 * 1024;
const MAX_PLOT_FILES = 200;

export interface Collected {
  files: Array<{ path: string; abs: string }>;
  params: Record<string, Record<string, unknown>>;
  metrics: Record<string, Record<string, unknown>>;
  lock: LockFile | null;
}

/** Params files of the pipeline (every stage's), plus params.yaml when present. */
export function paramsFilesOf(pipeline: Pipeline): string[] {
  const files = new Set<string>(pipeline.stages.flatMap((s) => s.params.map((p) => p.file)));
  return [...files].sort();
}

/** Data files and folders the top-level `plots:` section names (entries, and files of `{file: field}` axes). */
export function topLevelPlotFiles(pipeline: Pipeline): string[] {
  const files = new Set<string>();
  for (const p of pipeline.plots ?? []) {
    if (p.path) files.add(p.path);
    for (const axis of [p.props.x, p.props.y])
      if (axis && typeof axis === 'object' && !Array.isArray(axis)) for (const f of Object.keys(axis)) files.add(f);
  }
  // the config layer refused paths outside the repository; a record never holds one either way
  return [...files].filter((f) => !path.posix.isAbsolute(f) && !f.split('/').includes('..'));
}

async function fileSize(abs: string): Promise<number | null> {
  const st = await fs.stat(abs).catch(() => null);
  return st?.isFile() ? st.size : null;
}

async function listDir(abs: string, rel: string, out: string[]): Promise<void> {
  const entries = await fs.readdir(abs, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (out.length >= MAX_PLOT_FILES) return;
    if (e.isDirectory()) await listDir(path.join(abs, e.name), `${rel}/${e.name}`, out);
    else if (e.isFile()) out.push(`${rel}/${e.name}`);
  }
}

export async function collectRecordFiles(dir: string, pipeline: Pipeline, paramsFiles: string[]): Promise<Collected> {
  const files: Collected['files'] = [];
  const add = (rel: string) => files.push({ path: rel, abs: path.join(dir, rel) });
  const params: Collected['params'] = {};
  for (const f of paramsFiles) {
    const text = await fs.readFile(path.join(dir, f), 'utf8').catch(() => null);
    if (text === null) continue;
    add(f);
    try {
      params[f] = flattenParams(parseParamsText(f, text));
    } catch {
      params[f] = {};
    }
  }
  // every pipeline's lock (sub-pipelines' beside their file): one lock keyed by stage address, as gc reads it
  let lock: LockFile | null = null;
  const pipelineFiles = [pipeline.file, ...(pipeline.files ?? []).filter((f) => f.includes('/'))];
  for (const file of pipelineFiles) {
    const lockName = lockFileOf(file);
    const lockText = await fs.readFile(path.join(dir, lockName), 'utf8').catch(() => null);
    if (lockText === null) continue;
    add(lockName);
    let own: LockFile | null = null;
    try {
      own = (YAML.parse(lockText) as LockFile | null) ?? null;
    } catch {
      own = null;
    }
    if (!own?.stages) continue;
    const prefix = file.includes('/') ? `${file}:` : '';
    lock ??= { schema: '2.0', stages: {} };
    for (const [n, st] of Object.entries(own.stages)) lock.stages[prefix + n] = st;
  }
  const metrics: Collected['metrics'] = {};
  const seen = new Set(files.map((f) => f.path));
  for (const out of pipeline.stages.flatMap((s) => s.outs)) {
    if (out.kind === 'outs' || seen.has(out.path)) continue;
    const abs = path.join(dir, out.path);
    const size = await fileSize(abs);
    if (size !== null) {
      if (size <= MAX_RECORD_FILE) {
        add(out.path);
        seen.add(out.path);
      }
      if (out.kind === 'metrics' && /\.(json|ya?ml|toml)$/i.test(out.path)) {
        try {
          metrics[out.path] = flattenParams(parseParamsText(out.path, await fs.readFile(abs, 'utf8')));
        } catch {
          metrics[out.path] = {};
        }
      }
    } else if (out.kind === 'plots') {
      const inner: string[] = [];
      await listDir(abs, out.path, inner);
      for (const rel of inner) {
        const s = await fileSize(path.join(dir, rel));
        if (s !== null && s <= MAX_RECORD_FILE && !seen.has(rel)) {
          add(rel);
          seen.add(rel);
        }
      }
    }
  }
  // the top-level `metrics:` section: files (or folders of them) that no stage declares as metrics
  for (const entry of pipeline.metrics ?? []) {
    const abs = path.join(dir, entry);
    const inner: string[] = [];
    if ((await fileSize(abs)) !== null) inner.push(entry);
    else await listDir(abs, entry, inner);
    for (const rel of inner) {
      if (rel in metrics || !/\.(json|ya?ml|toml)$/i.test(rel)) continue;
      const text = await fs.readFile(path.join(dir, rel), 'utf8').catch(() => null);
      if (text === null || text.length > MAX_RECORD_FILE) continue;
      try {
        metrics[rel] = flattenParams(parseParamsText(rel, text));
      } catch {
        metrics[rel] = {};
      }
      if (!seen.has(rel)) {
        add(rel);
        seen.add(rel);
      }
    }
  }
  // the top-level `plots:` section's data files (stage outputs or not): plots diff and the ui read an
  // experiment's plots from its record
  for (const rel of topLevelPlotFiles(pipeline)) {
    const inner: string[] = [];
    if ((await fileSize(path.join(dir, rel))) !== null) inner.push(rel);
    else await listDir(path.join(dir, rel), rel, inner);
    for (const f of inner) {
      const size = await fileSize(path.join(dir, f));
      if (size === null || size > MAX_RECORD_FILE || seen.has(f)) continue;
      add(f);
      seen.add(f);
    }
  }
  // most important first (top-level section, then the last stages'): what `exp run` headlines and shows first
  const order = metricsFilesByImportance(pipeline);
  const rank = (f: string) => (order.includes(f) ? order.indexOf(f) : order.length);
  const ordered = Object.fromEntries(Object.entries(metrics).sort(([a], [b]) => rank(a) - rank(b)));
  return { files, params, metrics: ordered, lock };
}
