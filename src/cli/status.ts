import type { Command } from 'commander';
import { openWorkspace } from '../pipeline/context.js';
import { describeReason } from '../pipeline/staleness.js';
import { dvcFilesStatus, splitTargets, workspaceStatus } from '../pipeline/status.js';
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
  const ws = await openWorkspace();
  const split = splitTargets(ws, targets);
  const onlyData = targets.length > 0 && split.stages.length === 0;
  const stale = onlyData ? [] : await workspaceStatus(ws, { targets: split.stages });
  const data = await dvcFilesStatus(ws, targets.length ? split.dvcFiles : ws.dvcFiles);
  if (flags.json) {
    const json: Record<string, unknown> = {};
    for (const s of stale) json[s.stage] = { reasons: s.reasons.map((x) => ({ ...x, message: describeReason(x) })) };
    for (const d of data) json[d.file] = [{ 'changed outs': d.changed }];
    out(JSON.stringify(json, null, 2));
  } else if (stale.length === 0 && data.length === 0) {
    out('Data and pipelines are up to date.');
  } else {
    for (const s of stale) {
      out(`${s.stage}:`);
      for (const reason of s.reasons) out(`\t${describeReason(reason)}`);
    }
    // as dvc status prints .dvc files: the state padded to 20 columns, then the path
    for (const d of data) {
      out(`${d.file}:`);
      out('\tchanged outs:');
      for (const [p, state] of Object.entries(d.changed)) out(`\t\t${`${state}:`.padEnd(20)}${p}`);
    }
  }
  return 0;
}
