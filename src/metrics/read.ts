/**
 * Metrics and params files read from the workspace or from a git revision, flattened to dotted keys
 * (`nested.loss`), as `dvc metrics show` / `dvc params diff` see them. No printing: data only.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseParamsText } from '../config/params.js';
import { isPlainObject } from '../config/source.js';
import type { Pipeline } from '../config/types.js';
import { LockstepError } from '../errors.js';
import { catFileBatch, git, gitMaybe } from '../exp/git.js';

/** A parsed file: dotted key -> value; `floats` marks integral values written as floats (`1.0`). */
export interface FlatFile {
  values: Record<string, unknown>;
  floats: ReadonlySet<string>;
  /** The parsed file before flattening (for JSON output). */
  raw: Record<string, unknown>;
  error?: string;
}

/** A revision as the user named it (`HEAD`, a sha, a branch) or the workspace (`null`). */
export type Rev = string | null;

/** Metrics files of a pipeline: every stage's `metrics` outputs and the top-level `metrics:` section. */
export function metricsFilesOf(pipeline: Pipeline): string[] {
  const files = new Set<string>();
  for (const s of pipeline.stages) for (const o of s.outs) if (o.kind === 'metrics') files.add(o.path);
  for (const m of pipeline.metrics ?? []) files.add(m);
  return [...files];
}

/** Params files of a pipeline: every file a stage tracks, and params.yaml when it exists. */
export function paramsFilesOf(pipeline: Pipeline, root: string, withDefault = true): string[] {
  const files = new Set<string>(pipeline.stages.flatMap((s) => s.params.map((p) => p.file)));
  if (withDefault) files.add('params.yaml');
  return [...files].filter((f) => !path.isAbsolute(f) && !f.startsWith('../') && root !== '');
}

/** Dotted keys of every leaf; lists are leaves (as DVC flattens). */
function flatten(obj: Record<string, unknown>, floats: ReadonlySet<string>): FlatFile {
  const values: Record<string, unknown> = {};
  const visit = (v: unknown, prefix: string) => {
    if (isPlainObject(v) && Object.keys(v).length) for (const [k, x] of Object.entries(v)) visit(x, `${prefix}.${k}`);
    else values[prefix] = v;
  };
  for (const [k, v] of Object.entries(obj)) visit(v, k);
  return { values, floats, raw: obj };
}

/** CSV/TSV metrics: the last row, by column name (a per-epoch log's final values). */
function parseDelimited(text: string, sep: string): Record<string, unknown> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0]?.split(sep) ?? [];
  const last = lines.length > 1 ? (lines[lines.length - 1]?.split(sep) ?? []) : [];
  const out: Record<string, unknown> = {};
  header.forEach((h, i) => {
    const raw = last[i] ?? '';
    const n = Number(raw);
    out[h.trim()] = raw.trim() !== '' && Number.isFinite(n) ? n : raw;
  });
  return out;
}

export function parseFlat(file: string, text: string): FlatFile {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return flatten(parseDelimited(text, ext === '.csv' ? ',' : '\t'), new Set());
  const r = parseParamsText(/\.(json|toml|ya?ml)$/i.test(file) ? file : `${file}.yaml`, text);
  if (!r.ok) return { values: {}, floats: new Set(), raw: {}, error: r.kind === 'syntax' ? r.message : 'missing' };
  return flatten(r.data, r.floats);
}

/** Read files at a revision (or the workspace); files that do not exist there are left out. */
export async function readFilesAt(root: string, rev: Rev, files: string[]): Promise<Map<string, FlatFile>> {
  const out = new Map<string, FlatFile>();
  if (rev === null) {
    for (const f of files) {
      const text = await fs.readFile(path.join(root, f), 'utf8').catch(() => null);
      if (text !== null) out.set(f, parseFlat(f, text));
    }
    return out;
  }
  const blobs = await catFileBatch(
    root,
    files.map((f) => `${rev}:./${f}`),
  );
  files.forEach((f, i) => {
    const b = blobs[i];
    if (b && b.type === 'blob') out.set(f, parseFlat(f, b.content.toString('utf8')));
  });
  return out;
}

/** Check a revision exists; a clear error otherwise. */
export async function checkRev(root: string, rev: string): Promise<void> {
  const ok = await gitMaybe(root, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  if (ok === null)
    throw new LockstepError('usage', `unknown revision '${rev}'`, 'Name a commit, branch or tag (git log shows them).');
}

/** Every commit reachable from HEAD, newest first (for `-A`). */
export async function allCommits(root: string): Promise<string[]> {
  const text = await gitMaybe(root, ['rev-list', 'HEAD']);
  return (text ?? '').split('\n').filter(Boolean);
}

export { git };
