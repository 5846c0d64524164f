/**
 * Stage paths -> repo-relative POSIX paths, and the checks that keep outputs inside the repository
 * and owned by exactly one stage.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { formatPos, type Problems } from './diagnostics.js';
import type { Span } from './source.js';
import type { SourcePos, StageDef } from './types.js';

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

export type ResolvedPath =
  | { kind: 'inside'; path: string }
  | { kind: 'outside'; path: string; why: 'absolute' | 'parent' | 'url' };

/** Join a stage path onto its wdir (both relative to the root) and normalize to POSIX. */
export function resolveStagePath(root: string, wdir: string, p: string): ResolvedPath {
  if (URL_RE.test(p)) return { kind: 'outside', path: p, why: 'url' };
  if (path.isAbsolute(p) || path.posix.isAbsolute(p)) {
    const rel = path.relative(root, p);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return { kind: 'inside', path: toPosix(rel) };
    return { kind: 'outside', path: p, why: 'absolute' };
  }
  const joined = path.posix.normalize(path.posix.join(wdir, toPosix(p))).replace(/\/+$/, '') || '.';
  if (joined === '..' || joined.startsWith('../')) return { kind: 'outside', path: joined, why: 'parent' };
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

/**
 * Outputs reached through a symlinked folder that points out of the repository are outside too.
 * Only the folders above an output are checked: the output itself may be a symlink into the cache.
 */
export function checkOutputsReal(root: string, outs: OutRef[], problems: Problems): void {
  let realRoot: string;
  try {
    realRoot = realpathSync.native(root);
  } catch {
    return;
  }
  const cache = new Map<string, string>();
  for (const out of outs) {
    const dir = path.posix.dirname(out.path);
    if (dir === '.') continue;
    const real = realOfLongestPrefix(path.join(root, dir), cache);
    const rel = path.relative(realRoot, real);
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      problems.add(
        'path-outside',
        `stage '${out.stage.name}': output '${out.path}' is outside the repository (its folder '${dir}' resolves to ${real} through a symlink)`,
        out.span,
      );
    }
  }
}

function realOfLongestPrefix(abs: string, cache: Map<string, string>): string {
  const hit = cache.get(abs);
  if (hit !== undefined) return hit;
  let real: string;
  try {
    real = realpathSync.native(abs);
  } catch {
    const parent = path.dirname(abs);
    real = parent === abs ? abs : path.join(realOfLongestPrefix(parent, cache), path.basename(abs));
  }
  cache.set(abs, real);
  return real;
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
          : `stage '${out.stage.name}': output '${out.path}' is also an output of stage '${same.stage.name}'${at(same)}`;
      problems.add('duplicate-out', text, out.span);
      continue;
    }
    let parent = out.path;
    let clash: OutRef | undefined;
    while ((parent = path.posix.dirname(parent)) !== '.' && parent !== '/') {
      clash = owners.get(parent);
      if (clash) break;
    }
    if (clash) {
      problems.add('duplicate-out', `stage '${out.stage.name}': output '${out.path}' is inside output '${clash.path}' of stage '${clash.stage.name}'${at(clash)}`, out.span);
      continue;
    }
    const inner = under.get(out.path);
    if (inner) {
      problems.add('duplicate-out', `stage '${out.stage.name}': output '${out.path}' contains output '${inner.path}' of stage '${inner.stage.name}'${at(inner)}`, out.span);
      continue;
    }
    owners.set(out.path, out);
    let dir = out.path;
    while ((dir = path.posix.dirname(dir)) !== '.' && dir !== '/') {
      if (under.has(dir)) break;
      under.set(dir, out);
    }
  }
}

function at(ref: OutRef): string {
  const p = formatPos(ref.pos);
  return p ? ` (${p.slice(0, -2)})` : '';
}
