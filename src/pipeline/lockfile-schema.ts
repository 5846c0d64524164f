/**
 * A lock file is untrusted input: it is committed, merged and edited by hand, and `gc` deletes
 * whatever it does not name, `checkout -f` writes wherever it points. So its shape is checked
 * completely when it is read, and any mismatch is an error naming the file and the entry; a lock
 * is never read as empty because it looks odd.
 */
import { LockstepError } from '../errors.js';
import { isMd5 } from '../hash/types.js';
import { showPath, unsafeRelPath } from '../util/safe-path.js';
import type { LockFile, LockedPath, LockedStage } from './lockfile-types.js';

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const kindOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;

class LockShapeError extends LockstepError {
  constructor(file: string, where: string, what: string) {
    super(
      'config',
      `${file}: ${where ? `${where}: ` : ''}${what}`,
      `Fix ${file} (git checkout ${file} restores the committed one), or delete it to rebuild every stage.`,
    );
  }
}

/**
 * A path as a lock file records it: relative to the stage's wdir, so leading `..` segments may lead
 * back up to the root (checked again once rebased, see `assertLockPathsInside`); anything else unsafe
 * (absolute, NUL, `.git`, inner `..`) is refused here.
 */
function lockPathProblem(p: unknown): string | undefined {
  if (typeof p !== 'string') return `path is ${kindOf(p)}, not a string`;
  const rest = p.replace(/^(?:\.\.\/)+/, '');
  const why = unsafeRelPath(rest === '' ? '.' : rest);
  return why ? `unsafe path ${showPath(p)} (${why})` : undefined;
}

function checkPathEntry(file: string, where: string, e: unknown): LockedPath {
  if (!isMap(e)) throw new LockShapeError(file, where, `expected a mapping with path and md5, found ${kindOf(e)}`);
  const bad = lockPathProblem(e.path);
  if (bad) throw new LockShapeError(file, where, bad);
  const at = `${where} (${showPath(e.path)})`;
  if (e.md5 === undefined) throw new LockShapeError(file, at, 'no md5');
  if (typeof e.md5 !== 'string' || !isMd5(e.md5))
    throw new LockShapeError(file, at, `md5 ${showPath(e.md5)} is not an md5 hash`);
  if (e.hash !== undefined && e.hash !== 'md5')
    throw new LockShapeError(file, at, `hash ${showPath(e.hash)} is not 'md5'`);
  for (const k of ['size', 'nfiles'] as const) {
    const v = e[k];
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0))
      throw new LockShapeError(file, at, `${k} must be a whole number, not ${kindOf(v)} ${showPath(v)}`);
  }
  return e as unknown as LockedPath;
}

/** One stage entry (a lock's, or a run-cache entry); throws LockstepError('config') naming `file`. */
export function checkStage(file: string, name: string, entry: unknown): LockedStage {
  const where = `stage '${name}'`;
  if (!isMap(entry))
    throw new LockShapeError(file, where, `expected a mapping with cmd, deps, params and outs, found ${kindOf(entry)}`);
  const cmd = entry.cmd;
  if (!(typeof cmd === 'string' || (Array.isArray(cmd) && cmd.every((c) => typeof c === 'string'))))
    throw new LockShapeError(file, where, `cmd must be a string or a list of strings, not ${kindOf(cmd)}`);
  for (const kind of ['deps', 'outs'] as const) {
    const list = entry[kind];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new LockShapeError(file, where, `${kind} must be a list, not ${kindOf(list)}`);
    for (const [i, e] of list.entries()) checkPathEntry(file, `${where} ${kind}[${i}]`, e);
  }
  const params = entry.params;
  if (params !== undefined && params !== null) {
    if (!isMap(params))
      throw new LockShapeError(file, where, `params must be a mapping of files to values, not ${kindOf(params)}`);
    for (const [f, values] of Object.entries(params)) {
      const bad = lockPathProblem(f);
      if (bad) throw new LockShapeError(file, `${where} params`, bad);
      if (!isMap(values))
        throw new LockShapeError(
          file,
          `${where} params ${showPath(f)}`,
          `expected a mapping of keys to values, found ${kindOf(values)}`,
        );
    }
  }
  return entry as unknown as LockedStage;
}

/**
 * A lock file's data (parsed YAML, or the copy an experiment record keeps) checked into a LockFile.
 * `file` names it in messages. Null/empty data is an empty lock (an empty file is what a fresh
 * project has); every other mismatch throws LockstepError('config').
 */
export function lockFromData(data: unknown, file: string): LockFile {
  if (data === null || data === undefined) return { schema: '2.0', stages: {} };
  if (!isMap(data))
    throw new LockShapeError(file, '', `expected a mapping with 'schema' and 'stages', found ${kindOf(data)}`);
  // No schema key is taken as 2.0 (hand-written locks); DVC 1's format (stage names at the top) is not.
  if (data.schema !== '2.0' && data.schema !== undefined)
    throw new LockShapeError(
      file,
      '',
      `schema ${showPath(data.schema)} is not '2.0' (the only lock format lockstep reads)`,
    );
  const unknown = Object.keys(data).find((k) => k !== 'schema' && k !== 'stages');
  if (unknown !== undefined)
    throw new LockShapeError(
      file,
      '',
      `unknown top-level key ${showPath(unknown)} (a schema 2.0 lock has 'schema' and 'stages')`,
    );
  const stages = data.stages;
  if (stages === undefined || stages === null) return { schema: '2.0', stages: {} };
  if (!isMap(stages))
    throw new LockShapeError(file, '', `'stages' must be a mapping of stage names to entries, not ${kindOf(stages)}`);
  const out: Record<string, LockedStage> = {};
  for (const [name, entry] of Object.entries(stages)) out[name] = checkStage(file, name, entry);
  return { schema: '2.0', stages: out };
}

/**
 * Once a lock's paths are repo-relative (wdir applied), every one must be a safe path inside the
 * project: a `../` left over means the lock points outside it.
 */
export function assertLockPathsInside(lock: LockFile, file: string, stages: ReadonlySet<string>): void {
  for (const [name, s] of Object.entries(lock.stages)) {
    if (!stages.has(name)) continue;
    const check = (p: string, where: string) => {
      const why = unsafeRelPath(p);
      if (why) throw new LockShapeError(file, `stage '${name}' ${where}`, `unsafe path ${showPath(p)} (${why})`);
    };
    for (const kind of ['deps', 'outs'] as const)
      for (const [i, e] of (s[kind] ?? []).entries()) check(e.path, `${kind}[${i}]`);
    for (const f of Object.keys(s.params ?? {})) check(f, 'params');
  }
}
