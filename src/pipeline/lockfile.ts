import { promises as fs } from 'node:fs';
import path from 'node:path';
import { load, YAMLException } from 'js-yaml';
import { parsedSlot, readParsedSlot, writeParsedSlot } from '../config/parse-cache.js';
import { LockstepError } from '../errors.js';
import type { HashInfo, Md5 } from '../hash/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { dumpRuamel, PyFloat } from '../util/ruamel-yaml.js';
import { assertLockPathsInside, lockFromData } from './lockfile-schema.js';
import type { LockFile, LockedPath, LockedStage } from './lockfile-types.js';

export type { LockFile, LockedPath, LockedStage };
export { lockFromData };

export const emptyLock = (): LockFile => ({ schema: '2.0', stages: {} });

/**
 * Where a parsed copy of a large lock may be kept: the cache folder, and the slot (the lock's repo-relative
 * name) whose one entry each rewrite of that lock replaces.
 */
export interface LockParseCache {
  cacheDir: string;
  slot: string;
}

/** Small locks parse in a few milliseconds; a kept copy would only add a file write. */
const MIN_KEPT_LOCK_LENGTH = 8 * 1024;
/** Bump when the parsed form changes (parser, its options). */
const KEPT_LOCK_FORMAT = 'lock-jsyaml-v1';

/** Read pipeline.lock (or dvc.lock); a missing file is an empty lock, anything unreadable an error naming it. */
export async function readLockFile(file: string, cache?: LockParseCache): Promise<LockFile> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return emptyLock();
    const name = path.basename(file);
    const what =
      code === 'EISDIR' ? 'is a folder, not a lock file' : `cannot be read (${code ?? (e as Error).message})`;
    throw new LockstepError('config', `${name} ${what}`, `Move ${name} away (lockstep repro writes a new one).`);
  }
  return parseLockFile(text, path.basename(file), cache);
}

/**
 * The lock file is ours and large (a line per hash): parsed with js-yaml, several times faster than `yaml`.
 * With `cache`, a large lock's parsed data is kept (config/parse-cache.ts, keyed by the text's md5), so an
 * unchanged 500-stage lock is read with JSON.parse; the kept data passes the same checks as parsed data,
 * and one that fails them is ignored, the text parsed and the copy replaced.
 */
export function parseLockFile(text: string, name: string, cache?: LockParseCache): LockFile {
  const slot =
    cache && text.length >= MIN_KEPT_LOCK_LENGTH
      ? parsedSlot(cache.cacheDir, KEPT_LOCK_FORMAT, cache.slot, text)
      : undefined;
  if (slot) {
    const kept = readParsedSlot(slot);
    if (kept !== undefined) {
      try {
        return lockFromData(kept, name);
      } catch {
        // a kept copy that fails the checks is not the text's: parse the text below, which decides
      }
    }
  }
  let data: unknown;
  try {
    data = load(text);
  } catch (e) {
    const mark = e instanceof YAMLException ? e.mark : undefined;
    const where = mark ? `${name}:${mark.line + 1}:${mark.column + 1}` : name;
    const reason = e instanceof YAMLException ? e.reason : (e as Error).message;
    throw new LockstepError('yaml-syntax', `${where}: ${reason}`, `Fix it, or delete ${name} to rebuild every stage.`);
  }
  const lock = lockFromData(data, name);
  if (slot) writeParsedSlot(slot, data);
  return lock;
}

export function lockedPath(p: string, info: HashInfo): LockedPath {
  const out: LockedPath = { path: p, hash: 'md5', md5: info.md5, size: info.size };
  if (info.nfiles !== undefined) out.nfiles = info.nfiles;
  return out;
}

/**
 * dvc.lock writes a stage's paths (deps, outs, params files) relative to its `wdir`, as the stage
 * definition does; in memory they are repo-relative like StageDef paths. Absolute paths stay as they are.
 */
export function rebaseStage(s: LockedStage, wdir: string, to: 'repo' | 'wdir'): LockedStage {
  if (wdir === '.' || wdir === '') return s;
  const move = (p: string) =>
    path.posix.isAbsolute(p) || /^[a-z][a-z0-9+.-]*:\/\//i.test(p)
      ? p
      : to === 'wdir'
        ? path.posix.relative(wdir, p) || '.'
        : path.posix.normalize(path.posix.join(wdir, p));
  const out: LockedStage = { cmd: s.cmd };
  if (s.deps) out.deps = s.deps.map((d) => ({ ...d, path: move(d.path) }));
  if (s.params) out.params = Object.fromEntries(Object.entries(s.params).map(([f, v]) => [move(f), v]));
  if (s.outs) out.outs = s.outs.map((o) => ({ ...o, path: move(o.path) }));
  return out;
}

/**
 * A lock as read from disk, with the paths of stages that have a wdir made repo-relative. The paths of
 * the pipeline's stages (`check`) must then lie inside the project; `file` names the lock in the error.
 * Entries of stages no longer in the pipeline are kept as they are (gc still honours their hashes)
 * but never used as paths.
 */
export function lockToRepoPaths(
  lock: LockFile,
  wdirs: ReadonlyMap<string, string>,
  check?: { file: string; stages: ReadonlySet<string> },
): LockFile {
  const stages: Record<string, LockedStage> = {};
  for (const [n, s] of Object.entries(lock.stages)) stages[n] = rebaseStage(s, wdirs.get(n) ?? '.', 'repo');
  const out: LockFile = { schema: lock.schema, stages };
  if (check) assertLockPathsInside(out, check.file, check.stages);
  return out;
}

/** Which params values of a (repo-relative) params file were written as integral floats (`1.0`). */
export type FloatPaths = (file: string) => ReadonlySet<string> | undefined;

/**
 * Stable order: stages in pipeline order (others after, by name); keys cmd, deps, params, outs; paths sorted.
 * The text is byte-identical to DVC's (ruamel.yaml's layout, `1.0` stays `1.0` when `floats` says so).
 */
export function serializeLockFile(
  lock: LockFile,
  stageOrder: string[] = [],
  wdirs: ReadonlyMap<string, string> = new Map(),
  floats: FloatPaths = () => undefined,
): string {
  const rank = new Map(stageOrder.map((n, i) => [n, i]));
  const names = Object.keys(lock.stages).sort(
    (a, b) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0),
  );
  const stages: Record<string, LockedStage> = {};
  for (const n of names) {
    const wdir = wdirs.get(n) ?? '.';
    const s = normaliseStage(rebaseStage(lock.stages[n]!, wdir, 'wdir'));
    const inRepo = (f: string) => (wdir === '.' ? f : path.posix.normalize(path.posix.join(wdir, f)));
    if (s.params) s.params = markFloats(s.params, (f) => floats(inRepo(f)));
    stages[n] = s;
  }
  return dumpRuamel({ schema: '2.0', stages });
}

/** Integral numbers that the params file wrote as floats become PyFloat so they are written `1.0`. */
function markFloats(params: Record<string, Record<string, unknown>>, floats: FloatPaths) {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [file, keys] of Object.entries(params)) {
    const set = floats(file);
    if (!set?.size) {
      out[file] = keys;
      continue;
    }
    const mark = (v: unknown, at: string): unknown => {
      if (typeof v === 'number' && Number.isInteger(v)) return set.has(at) ? new PyFloat(v) : v;
      if (Array.isArray(v)) return v.map((x, i) => mark(x, `${at}.${i}`));
      if (typeof v === 'object' && v !== null)
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mark(x, `${at}.${k}`)]));
      return v;
    };
    out[file] = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, mark(v, k)]));
  }
  return out;
}

/**
 * The object hashes a lock references: every stage's outs, and its deps too unless `outsOnly` (a dep may be
 * another stage's out or data a .dvc file tracks). `stages` limits it to those stages. The roots of `gc`, and
 * what a queue worker or `exp push` sends to the remote.
 */
export function lockHashes(
  lock: LockFile | null,
  opts: { stages?: readonly string[]; outsOnly?: boolean } = {},
): Md5[] {
  const used: Md5[] = [];
  for (const [name, s] of Object.entries(lock?.stages ?? {})) {
    if (opts.stages && !opts.stages.includes(name)) continue;
    for (const p of s.outs ?? []) used.push(p.md5);
    if (!opts.outsOnly) for (const p of s.deps ?? []) used.push(p.md5);
  }
  return used;
}

/** The params files named in a lock (repo-relative), so their float paths can be read before writing. */
export function lockParamsFiles(lock: LockFile): string[] {
  const files = new Set<string>();
  for (const s of Object.values(lock.stages)) for (const f of Object.keys(s.params ?? {})) files.add(f);
  return [...files];
}

export function normaliseStage(s: LockedStage): LockedStage {
  const out: LockedStage = { cmd: s.cmd };
  const byPath = (a: LockedPath, b: LockedPath) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const clean = (p: LockedPath): LockedPath => {
    const c: LockedPath = { path: p.path, hash: 'md5', md5: p.md5, size: p.size };
    if (p.nfiles !== undefined) c.nfiles = p.nfiles;
    return c;
  };
  if (s.deps?.length) out.deps = [...s.deps].sort(byPath).map(clean);
  if (s.params && Object.keys(s.params).length) {
    out.params = {};
    // As dvc.lock: the default params.yaml first, then the other files in order.
    const files = Object.keys(s.params).sort(
      (a, b) => Number(b === 'params.yaml') - Number(a === 'params.yaml') || (a < b ? -1 : a > b ? 1 : 0),
    );
    for (const f of files) {
      const keys: Record<string, unknown> = {};
      for (const k of Object.keys(s.params[f]!).sort()) keys[k] = s.params[f]![k];
      out.params[f] = keys;
    }
  }
  if (s.outs?.length) out.outs = [...s.outs].sort(byPath).map(clean);
  return out;
}

/**
 * The lock file of one workspace, updated stage by stage. Writes are serialised (parallel stages finish
 * in any order) and atomic, so the file never claims a half-recorded stage.
 */
export class LockWriter {
  private chain: Promise<void> = Promise.resolve();
  constructor(
    readonly file: string,
    readonly lock: LockFile,
    private readonly stageOrder: string[],
    /** Stage name -> wdir, for the stages that have one (their paths are written relative to it). */
    private readonly wdirs: ReadonlyMap<string, string> = new Map(),
    /** Reads a params file's integral-float paths (a failed read counts as none). */
    private readonly floatsOf: (file: string) => Promise<ReadonlySet<string> | undefined> = async () => undefined,
  ) {}

  /** Record a stage (or forget it with `undefined`) and write the file. */
  update(stage: string, entry: LockedStage | undefined): Promise<void> {
    if (entry) this.lock.stages[stage] = normaliseStage(entry);
    else delete this.lock.stages[stage];
    const snapshot: LockFile = { schema: '2.0', stages: { ...this.lock.stages } };
    const next = this.chain.then(async () => {
      const files = lockParamsFiles(snapshot);
      const sets = new Map(await Promise.all(files.map(async (f) => [f, await this.floatsOf(f)] as const)));
      await writeFileAtomic(
        this.file,
        serializeLockFile(snapshot, this.stageOrder, this.wdirs, (f) => sets.get(f)),
      );
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
