/**
 * The status use case: which stages are stale and why, as data. Read-only: takes no repository lock (the
 * stat cache it updates is written atomically), so it never blocks behind a running repro.
 */
import type { Workspace } from './context.js';
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
  const selection = selectStages(ws.graph, { targets: opts.targets, singleItem: false, downstream: false });
  if (!selection.ok) throw selection.error;
  try {
    const reasons = await collectStaleReasons(ws, selection.value);
    return [...reasons].filter(([, r]) => r.length > 0).map(([stage, r]) => ({ stage, reasons: r }));
  } finally {
    await ws.hasher.save();
  }
}
