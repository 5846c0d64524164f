/**
 * Stage paths -> repo-relative POSIX paths, and the checks that keep outputs inside the repository
 * and owned by exactly one stage.
 */
import { lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { formatPos, type Problems } from './diagnostics.js';
import type { Span } from './source.js';
import type { SourcePos, StageDef } from './types.js';

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;
/** A relative POSIX path with no `.`/`..` segments, empty segments, trailing slash, backslash or colon. */
const SIMPLE_RE = /^(?!\.\.?(?:\/|$))(?:[^/\\:]+(?:\/(?!\.\.?(?:\/|$))[^/\\:]+)*)$/;

export type ResolvedPath =
  | { kind: 'inside'; path: string }
  | { kind: 'outside'; path: string; why: 'absolute' | 'parent' | 'url' };

/** Join a stage path onto its wdir (both relative to the root) and normalize to POSIX. */
export function resolveStagePath(root: string, wdir: string, p: string): ResolvedPath {
  // Most paths are already clean and relative (`data/x.csv`): skip the general normalization.
  if (SIMPLE_RE.test(p)) return { kind: 'inside', path: wdir === '.' ? p : `${wdir}/${p}` };
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
 * Folders are walked top-down with lstat (no exceptions on the common missing-folder path), and a
 * missing folder ends the walk: nothing below it can be a symlink yet.
 */
export function checkOutputsReal(root: string, outs: OutRef[], problems: Problems): void {
  let realRoot: string;
  try {
    realRoot = realpathSync.native(root);
  } catch {
    return;
  }
  /** Folder (repo-relative) -> undefined when fine, else the real path it escapes to. */
  const verdict = new Map<string, string | undefined>();
  const missing = new Set<string>();
  for (const out of outs) {
    const parts = out.path.split('/').slice(0, -1);
    let rel = '';
    let escaped: string | undefined;
    let dir = '';
    for (const part of parts) {
      rel = rel ? `${rel}/${part}` : part;
      if (missing.has(rel)) break;
      if (verdict.has(rel)) {
        escaped = verdict.get(rel);
        if (escaped) {
          dir = rel;
          break;
        }
        continue;
      }
      const abs = path.join(root, rel);
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (!st) {
        missing.add(rel);
        break;
      }
      let real: string | undefined;
      if (st.isSymbolicLink()) {
        try {
          real = realpathSync.native(abs);
        } catch {
          real = undefined; // a dangling link: the command will fail to write through it
        }
        const r = real === undefined ? '' : path.relative(realRoot, real);
        if (real === undefined || !(r.startsWith('..') || path.isAbsolute(r))) real = undefined;
      }
      verdict.set(rel, real);
      if (real) {
        escaped = real;
        dir = rel;
        break;
      }
    }
    if (escaped) {
      problems.add(
        'path-outside',
        `stage '${out.stage.name}': output '${out.path}' is outside the repository (its folder '${dir}' resolves to ${escaped} through a symlink)`,
        out.span,
      );
    }
  }
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
      problems.add(
        'duplicate-out',
        `stage '${out.stage.name}': output '${out.path}' is inside output '${clash.path}' of stage '${clash.stage.name}'${at(clash)}`,
        out.span,
      );
      continue;
    }
    const inner = under.get(out.path);
    if (inner) {
      problems.add(
        'duplicate-out',
        `stage '${out.stage.name}': output '${out.path}' contains output '${inner.path}' of stage '${inner.stage.name}'${at(inner)}`,
        out.span,
      );
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
