import type { Command } from 'commander';
import pLimit from 'p-limit';
import { openWorkspace } from '../pipeline/context.js';
import { observeStage } from '../pipeline/observe.js';
import { selectStages } from '../pipeline/plan.js';
import { describeReason, staleReasons, type StaleReason } from '../pipeline/staleness.js';
import { out } from './options.js';

interface StatusFlags {
  json?: boolean;
  cloud?: boolean;
  remote?: string;
  jobs?: string;
}

/** Read-only: takes no repository lock. */
export async function run(targets: string[], flags: StatusFlags, cmd: Command): Promise<number> {
  if (flags.cloud) {
    const cloud = await import('./status-cloud.js');
    return cloud.run(targets, flags, cmd);
  }
  const ws = await openWorkspace();
  const selection = selectStages(ws.graph, { targets, singleItem: false, downstream: false });
  if (!selection.ok) throw selection.error;
  const limit = pLimit(8);
  const results = await Promise.all(
    selection.value.map((name) =>
      limit(async () => {
        const stage = ws.graph.byName.get(name)!;
        if (stage.frozen) return { name, frozen: true, reasons: [] as StaleReason[] };
        return {
          name,
          frozen: false,
          reasons: staleReasons(stage, ws.lock.stages[name], await observeStage(ws, stage)),
        };
      }),
    ),
  );
  await ws.hasher.save();
  const stale = results.filter((r) => r.reasons.length > 0);
  if (flags.json) {
    const data: Record<string, { reasons: (StaleReason & { message: string })[] }> = {};
    for (const r of stale) data[r.name] = { reasons: r.reasons.map((x) => ({ ...x, message: describeReason(x) })) };
    out(JSON.stringify(data, null, 2));
    return 0;
  }
  if (stale.length === 0) {
    out('Data and pipelines are up to date.');
    return 0;
  }
  for (const r of stale) {
    out(`${r.name}:`);
    for (const reason of r.reasons) out(`\t${describeReason(reason)}`);
  }
  return 0;
}
