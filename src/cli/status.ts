import type { Command } from 'commander';
import { openWorkspace } from '../pipeline/context.js';
import { describeReason, type StaleReason } from '../pipeline/staleness.js';
import { workspaceStatus } from '../pipeline/status.js';
import { out } from './render.js';

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
  const stale = await workspaceStatus(await openWorkspace(), { targets });
  if (flags.json) {
    const data: Record<string, { reasons: (StaleReason & { message: string })[] }> = {};
    for (const s of stale) data[s.stage] = { reasons: s.reasons.map((x) => ({ ...x, message: describeReason(x) })) };
    out(JSON.stringify(data, null, 2));
  } else if (stale.length === 0) {
    out('Data and pipelines are up to date.');
  } else {
    for (const s of stale) {
      out(`${s.stage}:`);
      for (const reason of s.reasons) out(`\t${describeReason(reason)}`);
    }
  }
  return 0;
}
