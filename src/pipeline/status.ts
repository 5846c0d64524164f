/**
 * The status use case: which stages are stale and why, as data. Read-only: takes no repository lock (the
 * stat cache it updates is written atomically), so it never blocks behind a running repro.
 */
import type { DvcFile } from '../dvcfile/format.js';
import { absPath, type Workspace } from './context.js';
import { collectStaleReasons } from './observe.js';
import { selectStages } from './plan.js';
import type { StaleReason } from './staleness.js';

export interface StaleStage {
  stage: string;
  /** Never empty: a stage without reasons is up to date and not listed. */
  reasons: StaleReason[];
}

/** The stale stages among `targets` (with their upstream; all stages when empty), in pipeline order. */
export async function workspaceStatus(ws: Workspace, opts: { targets: string[] }): Promise<StaleStage[]> {
  const selection = selectStages(ws.graph, {
    targets: opts.targets,
    singleItem: false,
    downstream: false,
    cwd: ws.cwd,
  });
  if (!selection.ok) throw selection.error;
  try {
    const reasons = await collectStaleReasons(ws, selection.value);
    return [...reasons].filter(([, r]) => r.length > 0).map(([stage, r]) => ({ stage, reasons: r }));
  } finally {
    await ws.hasher.save();
  }
}

/** What changed in data tracked by a .dvc file, per path, in DVC's words. */
export interface DvcFileStatus {
  file: string;
  changed: Record<string, 'modified' | 'deleted' | 'not in cache' | 'new'>;
}

/** DVC's `changed outs` for .dvc files: the data differs from the record, is gone, or its objects are not cached. */
export async function dvcFilesStatus(ws: Workspace, files: readonly DvcFile[]): Promise<DvcFileStatus[]> {
  const result: DvcFileStatus[] = [];
  try {
    for (const f of files) {
      const changed: DvcFileStatus['changed'] = {};
      for (const o of f.outs) {
        const current = await ws.hasher.hashPath(absPath(ws, o.path));
        if (!o.md5) changed[o.path] = 'new';
        else if (current === null) changed[o.path] = 'deleted';
        else if (current.info.md5 !== o.md5) changed[o.path] = 'modified';
        else if (o.cache && !(await ws.store.has(o.md5))) changed[o.path] = 'not in cache';
      }
      if (Object.keys(changed).length) result.push({ file: f.file, changed });
    }
  } finally {
    await ws.hasher.save();
  }
  return result;
}

/** Split status/checkout targets into stage names and .dvc files (a `.dvc` path or the data it tracks). */
export function splitTargets(ws: Workspace, targets: readonly string[]): { stages: string[]; dvcFiles: DvcFile[] } {
  const stages: string[] = [];
  const dvcFiles: DvcFile[] = [];
  for (const t of targets) {
    const norm = t.replace(/^\.\//, '').replace(/\/+$/, '');
    const f = ws.dvcFiles.find((d) => d.file === norm || d.outs.some((o) => o.path === norm));
    if (f) dvcFiles.push(f);
    else stages.push(t);
  }
  return { stages, dvcFiles };
}
