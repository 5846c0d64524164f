/**
 * Stage paths -> repo-relative POSIX paths, and the checks that keep outputs inside the repository
 * and owned by exactly one stage.
 */
import path from 'node:path';
import { formatPos, type Problems } from './diagnostics.js';
import { isNormalRel } from '../util/normal-path.js';
import { type ControlPaths, controlPathClash, isInsideRel, RealPaths, showPath } from '../util/safe-path.js';
import type { Span } from './source.js';
import type { SourcePos, StageDef } from './types.js';

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

export type ResolvedPath =
  | { kind: 'inside'; path: string }
  | { kind: 'outside'; path: string; why: 'absolute' | 'parent' | 'url' };

/** Join a stage path onto its wdir (both relative to the root) and normalize to POSIX. */
export function resolveStagePath(root: string, wdir: string, p: string): ResolvedPath {
  // Most paths are already clean and relative (`data/x.csv`): skip the general normalization.
  // a colon could be a drive (`C:x`) or a URL: those take the general path below
  if (isNormalRel(p) && !p.includes(':') && (wdir === '.' || isInsideRel(wdir)))
    return { kind: 'inside', path: wdir === '.' ? p : `${wdir}/${p}` };
  if (URL_RE.test(p)) return { kind: 'outside', path: p, why: 'url' };
  if (path.isAbsolute(p) || path.posix.isAbsolute(p)) {
    const rel = path.relative(root, p);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return { kind: 'inside', path: toPosix(rel) };
    return { kind: 'outside', path: p, why: 'absolute' };
  }
  const joined = path.posix.normalize(path.posix.join(wdir, toPosix(p))).replace(/\/+$/, '') || '.';
  if (!isInsideRel(joined)) return { kind: 'outside', path: joined, why: 'parent' };
  return { kind: 'inside', path: joined };
}

export function normalizeWdir(wdir: string): string {
  return path.posix.normalize(toPosix(wdir)).replace(/\/+$/, '') || '.';
}

function toPosix(p: string): string {
  return path.sep === '\\' ? p.replaceAll('\\', '/') : p;
}

/** One output as the checks see it: its stage and where it was written. */
export interface OutRef {
  stage: StageDef;
  path: string;
  span?: Span;
  pos?: SourcePos;
}

/** Any path a stage names (for the symlink check): what it is, for messages. */
export interface PathRef extends OutRef {
  role: 'output' | 'dependency' | 'params file' | 'vars file' | 'wdir';
}

/**
 * Paths reached through a symlinked folder that points out of the repository are outside too, and an
 * output that lands in one of the project's own files through a link is refused like the file itself.
 * For outputs only the folders above are followed (the output may be a link into the cache); inputs
 * are followed to the end, except into the cache folders in `allowed`.
 */
export function checkRealPaths(
  root: string,
  refs: readonly PathRef[],
  problems: Problems,
  controls: ControlPaths,
  allowed: readonly string[] = [],
): void {
  const real = new RealPaths(root, allowed);
  /** Stages whose wdir escapes: their other paths would only repeat it. */
  const escaped = new Set<StageDef>();
  for (const ref of refs) {
    if (escaped.has(ref.stage)) continue;
    const long = tooLong(root, ref.path);
    if (long) {
      problems.add('config', `stage '${ref.stage.name}': ${ref.role} ${showPath(ref.path)} ${long}`, ref.span);
      continue;
    }
    const r = real.resolve(ref.path, ref.role !== 'output');
    const label = `stage '${ref.stage.name}': ${ref.role} '${ref.path}'`;
    if (!r.inside) {
      const how =
        r.via === ref.path
          ? `it is a symlink to ${r.real}`
          : `its folder '${r.via}' resolves to ${r.real} through a symlink`;
      problems.add('path-outside', `${label} is outside the repository (${how})`, ref.span);
      if (ref.role === 'wdir') escaped.add(ref.stage);
      continue;
    }
    if (ref.role !== 'output') continue;
    const clash = controlPathClash(r.real, controls);
    if (clash) {
      const through = r.real === ref.path ? '' : ` (through a symlink it is '${r.real}')`;
      problems.add('control-path', `${label} ${clash}${through}`, ref.span);
    }
  }
}

/** Linux's limits: a name of 255 bytes, a path of 4095 bytes (PATH_MAX with its NUL). */
const NAME_MAX = 255;
const PATH_MAX = 4095;

/** Why no file system could hold `rel` under `root` (ENAMETOOLONG), or undefined. */
function tooLong(root: string, rel: string): string | undefined {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: short enough is short enough, without encoding (1,000 paths a load)
  if (3 * rel.length <= NAME_MAX && 3 * (root.length + 1 + rel.length) <= PATH_MAX) return undefined;
  const name = rel.split('/').find((part) => Buffer.byteLength(part) > NAME_MAX);
  if (name !== undefined)
    return `has a name of ${Buffer.byteLength(name)} bytes: the file system takes at most ${NAME_MAX}`;
  const bytes = Buffer.byteLength(path.join(root, rel));
  if (bytes > PATH_MAX) return `is ${bytes} bytes long in the project: the file system takes at most ${PATH_MAX}`;
  return undefined;
}

/** Two stages owning one output, or one output inside another: DVC's overlapping outputs. */
export function checkOverlaps(outs: OutRef[], problems: Problems): void {
  const owners = new Map<string, OutRef>();
  /** Every folder above a registered output -> that output, to catch a later output containing it. */
  const under = new Map<string, OutRef>();
  for (const out of outs) {
    const same = owners.get(out.path);
    if (same) {
      const text =
        same.stage === out.stage
          ? `stage '${out.stage.name}': output '${out.path}' is listed twice`
          : `stage '${out.stage.name}': output '${out.path}' is also an output of stage ` +
            `'${same.stage.name}'${at(same)}`;
      problems.add('duplicate-out', text, out.span);
      continue;
    }
    let parent = out.path;
    let clash: OutRef | undefined;
    for (parent = path.posix.dirname(parent); parent !== '.' && parent !== '/'; parent = path.posix.dirname(parent)) {
      clash = owners.get(parent);
      if (clash) break;
    }
    if (clash) {
      problems.add(
        'duplicate-out',
        `stage '${out.stage.name}': output '${out.path}' is inside output '${clash.path}' of stage ` +
          `'${clash.stage.name}'${at(clash)}`,
        out.span,
      );
      continue;
    }
    const inner = under.get(out.path);
    if (inner) {
      problems.add(
        'duplicate-out',
        `stage '${out.stage.name}': output '${out.path}' contains output '${inner.path}' of stage ` +
          `'${inner.stage.name}'${at(inner)}`,
        out.span,
      );
      continue;
    }
    owners.set(out.path, out);
    let dir = out.path;
    for (dir = path.posix.dirname(dir); dir !== '.' && dir !== '/'; dir = path.posix.dirname(dir)) {
      if (under.has(dir)) break;
      under.set(dir, out);
    }
  }
}

function at(ref: OutRef): string {
  const p = formatPos(ref.pos);
  return p ? ` (${p.slice(0, -2)})` : '';
}
