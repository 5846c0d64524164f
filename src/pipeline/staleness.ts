import type { StageDef } from '../config/types.js';
import type { HashInfo } from '../hash/types.js';
import type { LockedPath, LockedStage } from './lockfile-types.js';

/** Why a stage must run. Plain data: the CLI words it ("params changed: train.lr 0.001 -> 0.01"). */
export type StaleReason =
  | { kind: 'never-run' }
  | { kind: 'forced' }
  | { kind: 'always-changed' }
  | { kind: 'cmd-changed'; before: string | string[]; after: string | string[] }
  | { kind: 'param-changed'; file: string; key: string; before: unknown; after: unknown }
  | { kind: 'param-added'; file: string; key: string; after: unknown }
  | { kind: 'param-removed'; file: string; key: string; before: unknown }
  | { kind: 'dep-changed'; path: string }
  | { kind: 'dep-missing'; path: string }
  | { kind: 'dep-added'; path: string }
  | { kind: 'dep-removed'; path: string }
  | { kind: 'out-changed'; path: string }
  | { kind: 'out-missing'; path: string }
  | { kind: 'out-added'; path: string }
  | { kind: 'out-removed'; path: string }
  | { kind: 'upstream'; stage: string };

/** What the workspace holds now for one stage: gathered by the apply side (hashing, reading params). */
export interface ObservedStage {
  params: Record<string, Record<string, unknown>>;
  /** Current hash of each dep path; null when missing. */
  deps: Map<string, HashInfo | null>;
  /** Current hash of each out path; null when missing. */
  outs: Map<string, HashInfo | null>;
}

/** The cmd as dvc.lock writes it: a string for one command, a list for several. */
export function lockedCmd(stage: StageDef): string | string[] {
  return stage.cmd.length === 1 ? stage.cmd[0]! : [...stage.cmd];
}

/** Canonical JSON (sorted keys) so that values compare by content, not by key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/**
 * Auxiliary outputs (`persist: true, cache: false`, e.g. a training checkpoint) are recorded but never
 * make a stage stale or block a run-cache restore: they exist to speed up a rerun, not as results.
 */
export function isAuxiliary(out: { persist: boolean; cache: boolean }): boolean {
  return out.persist && !out.cache;
}

/**
 * Compare the lock entry of a stage with what the workspace holds now. Pure; cheapest checks first.
 * An empty list means the stage is up to date.
 */
export function staleReasons(stage: StageDef, locked: LockedStage | undefined, observed: ObservedStage): StaleReason[] {
  if (!locked) return [{ kind: 'never-run' }];
  const reasons: StaleReason[] = [];
  if (stage.alwaysChanged) reasons.push({ kind: 'always-changed' });
  const cmd = lockedCmd(stage);
  if (canonicalJson(cmd) !== canonicalJson(locked.cmd))
    reasons.push({ kind: 'cmd-changed', before: locked.cmd, after: cmd });
  reasons.push(...paramReasons(locked.params ?? {}, observed.params));
  reasons.push(...pathReasons('dep', locked.deps ?? [], observed.deps));
  const trackedOuts = new Map(
    [...observed.outs].filter(([p]) => {
      const def = stage.outs.find((o) => o.path === p);
      return !def || !isAuxiliary(def);
    }),
  );
  const lockedOuts = (locked.outs ?? []).filter(
    (o) => trackedOuts.has(o.path) || !stage.outs.some((d) => d.path === o.path),
  );
  reasons.push(...pathReasons('out', lockedOuts, trackedOuts));
  return reasons;
}

function paramReasons(
  before: Record<string, Record<string, unknown>>,
  after: Record<string, Record<string, unknown>>,
): StaleReason[] {
  const reasons: StaleReason[] = [];
  for (const file of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const b = before[file] ?? {};
    const a = after[file] ?? {};
    for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
      const inB = Object.hasOwn(b, key);
      const inA = Object.hasOwn(a, key);
      if (inB && !inA) reasons.push({ kind: 'param-removed', file, key, before: b[key] });
      else if (!inB && inA) reasons.push({ kind: 'param-added', file, key, after: a[key] });
      else leafChanges(file, key, b[key], a[key], reasons);
    }
  }
  return reasons;
}

const isDict = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A tracked section (`train`) that changed is reported per key (`train.lr 0.001 -> 0.002`), not as a whole. */
function leafChanges(file: string, key: string, b: unknown, a: unknown, reasons: StaleReason[]): void {
  if (canonicalJson(b) === canonicalJson(a)) return;
  if (!isDict(b) || !isDict(a)) {
    reasons.push({ kind: 'param-changed', file, key, before: b, after: a });
    return;
  }
  for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
    const sub = `${key}.${k}`;
    if (!Object.hasOwn(a, k)) reasons.push({ kind: 'param-removed', file, key: sub, before: b[k] });
    else if (!Object.hasOwn(b, k)) reasons.push({ kind: 'param-added', file, key: sub, after: a[k] });
    else leafChanges(file, sub, b[k], a[k], reasons);
  }
}

function pathReasons(side: 'dep' | 'out', locked: LockedPath[], now: Map<string, HashInfo | null>): StaleReason[] {
  const reasons: StaleReason[] = [];
  const lockedByPath = new Map(locked.map((l) => [l.path, l]));
  for (const [path, info] of now) {
    const l = lockedByPath.get(path);
    if (!l) reasons.push(side === 'dep' ? { kind: 'dep-added', path } : { kind: 'out-added', path });
    else if (!info) reasons.push(side === 'dep' ? { kind: 'dep-missing', path } : { kind: 'out-missing', path });
    else if (info.md5 !== l.md5)
      reasons.push(side === 'dep' ? { kind: 'dep-changed', path } : { kind: 'out-changed', path });
  }
  for (const path of lockedByPath.keys()) {
    if (!now.has(path)) reasons.push(side === 'dep' ? { kind: 'dep-removed', path } : { kind: 'out-removed', path });
  }
  return reasons;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Human wording of a reason, as `status` and `repro --dry` print it. */
export function describeReason(r: StaleReason): string {
  switch (r.kind) {
    case 'never-run':
      return 'never run (no lock entry)';
    case 'forced':
      return 'forced';
    case 'always-changed':
      return 'always changed';
    case 'cmd-changed':
      return 'command changed';
    case 'param-changed':
      return `params changed: ${r.key} ${show(r.before)} -> ${show(r.after)}`;
    case 'param-added':
      return `params added: ${r.key} = ${show(r.after)}`;
    case 'param-removed':
      return `params removed: ${r.key}`;
    case 'dep-changed':
      return `deps changed: ${r.path}`;
    case 'dep-missing':
      return `deps missing: ${r.path}`;
    case 'dep-added':
      return `deps added: ${r.path}`;
    case 'dep-removed':
      return `deps removed: ${r.path}`;
    case 'out-changed':
      return `outs changed: ${r.path}`;
    case 'out-missing':
      return `outs missing: ${r.path}`;
    case 'out-added':
      return `outs added: ${r.path}`;
    case 'out-removed':
      return `outs removed: ${r.path}`;
    case 'upstream':
      return `upstream stage '${r.stage}' will run`;
  }
}
