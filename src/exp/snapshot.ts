/**
 * The params and metrics of a commit or of the workspace, read the way `exp run` records an experiment's
 * (collect.ts), so `exp show`'s workspace and baseline rows and `exp diff HEAD NAME` compare like with
 * like. Files come from the working tree or from git objects at the commit; nothing is written.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LocalObjectStore } from '../cache/object-store.js';
import type { Pipeline } from '../config/types.js';
import { asMd5 } from '../hash/types.js';
import { catFileBatch, git } from './git.js';
import { flattenParams, parseParamsText } from './params-edit.js';

/** Which files hold params and which hold metrics. */
export interface SnapshotFiles {
  params: string[];
  metrics: string[];
}

export interface Snapshot {
  params: Record<string, Record<string, unknown>>;
  metrics: Record<string, Record<string, unknown>>;
}

const METRICS_EXT = /\.(json|ya?ml|toml)$/i;

/** Flattened values of a file's text; an unparsable file counts as present but empty, as in a record. */
function flat(file: string, text: string): Record<string, unknown> {
  try {
    return flattenParams(parseParamsText(METRICS_EXT.test(file) ? file : `${file}.yaml`, text));
  } catch {
    return {};
  }
}

/**
 * Metrics files in the order that matters most first: the top-level `metrics:` section, then the stages'
 * metrics from the last stage back (an evaluation's metrics before the training's diagnostics).
 */
export function metricsFilesByImportance(pipeline: Pipeline): string[] {
  const files: string[] = [...(pipeline.metrics ?? [])];
  for (const s of [...pipeline.stages].reverse())
    for (const o of s.outs) if (o.kind === 'metrics' && !files.includes(o.path)) files.push(o.path);
  return files;
}

/**
 * The metrics files that matter most: the top-level `metrics:` section and the metrics of the stages
 * nothing else depends on (the evaluation, not the training whose model it reads).
 */
export function primaryMetricsFiles(pipeline: Pipeline): string[] {
  const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
  const deps = pipeline.stages.flatMap((s) => s.deps.map((d) => d.path));
  const files = new Set(pipeline.metrics ?? []);
  for (const s of pipeline.stages) {
    const outs = s.outs.map((o) => o.path);
    if (deps.some((d) => outs.some((o) => under(d, o) || under(o, d)))) continue;
    for (const o of s.outs) if (o.kind === 'metrics') files.add(o.path);
  }
  return [...files];
}

/** The files a snapshot reads: the pipeline's (when it loads) and whatever the records hold. */
export function snapshotFiles(pipeline: Pipeline | null, records: Snapshot[], paramsFiles: string[]): SnapshotFiles {
  const params = new Set(paramsFiles);
  const metrics = new Set(pipeline ? metricsFilesByImportance(pipeline) : []);
  for (const r of records) {
    for (const f of Object.keys(r.params)) params.add(f);
    for (const f of Object.keys(r.metrics)) metrics.add(f);
  }
  return { params: [...params], metrics: [...metrics] };
}

/** Expand metrics folders of the working tree (a top-level `metrics:` entry may name one) into files. */
async function expandFolders(root: string, files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    const abs = path.join(root, f);
    const st = await fs.stat(abs).catch(() => null);
    if (!st?.isDirectory()) {
      out.push(f);
      continue;
    }
    const inner = await fs.readdir(abs, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const e of inner) {
      if (!e.isFile() || !METRICS_EXT.test(e.name)) continue;
      const rel = path.relative(root, path.join(e.parentPath ?? (e as { path?: string }).path ?? abs, e.name));
      out.push(rel.split(path.sep).join('/'));
    }
  }
  return out;
}

/** Where a commit's outputs live when git does not hold them: the cache, found through the commit's lock file. */
export interface CacheAccess {
  cacheDir: string;
  /** The lock file's name at the root (pipeline.lock or dvc.lock). */
  lockName: string;
}

const safeRelative = (p: string) =>
  !!p && !path.posix.isAbsolute(p) && !p.split('/').some((s) => s === '..' || s === '');

/**
 * Files a commit's lock records as outputs (metrics written by a stage, git-ignored), read from the cache:
 * a file output's object, or a folder output's entry. What the cache lacks is left out.
 */
async function readThroughLock(
  root: string,
  rev: string,
  files: string[],
  access: CacheAccess,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const [blob] = await catFileBatch(root, [`${rev}:./${access.lockName}`]);
  if (!blob || blob.type !== 'blob') return out;
  let lock: { stages?: Record<string, { outs?: Array<{ path?: unknown; md5?: unknown }> }> } | null;
  try {
    lock = YAML.parse(blob.content.toString('utf8'));
  } catch {
    return out;
  }
  const outs = Object.values(lock?.stages ?? {})
    .flatMap((s) => s?.outs ?? [])
    .filter((o): o is { path: string; md5: string } => typeof o?.path === 'string' && typeof o.md5 === 'string')
    .filter((o) => safeRelative(o.path) && /^[0-9a-f]{32}(\.dir)?$/.test(o.md5));
  const store = new LocalObjectStore(access.cacheDir);
  const readObject = (md5: string) => fs.readFile(store.objectPath(asMd5(md5)), 'utf8').catch(() => null);
  for (const f of files) {
    const file = outs.find((o) => o.path === f && !o.md5.endsWith('.dir'));
    let text: string | null = null;
    if (file) text = await readObject(file.md5);
    else {
      const dir = outs.find((o) => o.md5.endsWith('.dir') && f.startsWith(`${o.path}/`));
      if (dir) {
        const entries = await store.readManifest(asMd5(dir.md5)).catch(() => []);
        const entry = entries.find((e) => e.relpath === f.slice(dir.path.length + 1));
        if (entry) text = await readObject(entry.md5);
      }
    }
    if (text !== null) out.set(f, text);
  }
  return out;
}

/**
 * Read a snapshot of the working tree (`rev` null) or of a commit. Missing files are left out; with `access`,
 * a commit's metrics files that git does not hold are read from the cache through its lock file.
 */
export async function readSnapshot(
  root: string,
  rev: string | null,
  files: SnapshotFiles,
  access?: CacheAccess,
): Promise<Snapshot> {
  const snap: Snapshot = { params: {}, metrics: {} };
  const read = async (list: string[]): Promise<Map<string, string>> => {
    const texts = new Map<string, string>();
    if (rev === null) {
      for (const f of list) {
        const text = await fs.readFile(path.join(root, f), 'utf8').catch(() => null);
        if (text !== null) texts.set(f, text);
      }
      return texts;
    }
    const blobs = await catFileBatch(
      root,
      list.map((f) => `${rev}:./${f}`),
    );
    list.forEach((f, i) => {
      const b = blobs[i];
      if (b && b.type === 'blob') texts.set(f, b.content.toString('utf8'));
    });
    return texts;
  };
  for (const [f, text] of await read(files.params)) snap.params[f] = flat(f, text);
  const metricsFiles = rev === null ? await expandFolders(root, files.metrics) : files.metrics;
  const wanted = metricsFiles.filter((f) => METRICS_EXT.test(f));
  const texts = await read(wanted);
  if (rev !== null && access) {
    const rest = wanted.filter((f) => !texts.has(f));
    if (rest.length) for (const [f, text] of await readThroughLock(root, rev, rest, access)) texts.set(f, text);
  }
  for (const f of wanted) {
    const text = texts.get(f);
    if (text !== undefined) snap.metrics[f] = flat(f, text);
  }
  return snap;
}

/** Commit time (ISO) of each sha, with one `git log --no-walk`. */
export async function commitTimes(root: string, shas: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!shas.length) return out;
  const text = await git(root, ['log', '--no-walk=unsorted', '--format=%H %cI', ...shas]);
  for (const line of text.split('\n')) {
    const [sha, time] = line.split(' ');
    if (sha && time) out.set(sha, time);
  }
  return out;
}

/** A commit's name as DVC shows a baseline: a branch (the checked-out one first), else a tag, else its short sha. */
export async function baselineNames(root: string, shas: string[]): Promise<Map<string, string>> {
  const wanted = new Set(shas);
  const text = await git(root, [
    'for-each-ref',
    '--format=%(objectname)%00%(*objectname)%00%(HEAD)%00%(refname)',
    'refs/heads',
    'refs/tags',
  ]);
  const candidates = new Map<string, Array<{ name: string; rank: number }>>();
  for (const line of text.split('\n')) {
    const [obj, peeled, head, ref] = line.split('\0');
    if (!ref) continue;
    const sha = peeled || obj;
    if (!sha || !wanted.has(sha)) continue;
    const isBranch = ref.startsWith('refs/heads/');
    const name = ref.replace(/^refs\/(heads|tags)\//, '');
    const rank = head === '*' ? 0 : isBranch ? 1 : 2;
    const list = candidates.get(sha) ?? [];
    list.push({ name, rank });
    candidates.set(sha, list);
  }
  const out = new Map<string, string>();
  for (const sha of shas) {
    const best = (candidates.get(sha) ?? []).sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name))[0];
    out.set(sha, best?.name ?? sha.slice(0, 7));
  }
  return out;
}
