import type { Command } from 'commander';
import { LockstepError } from '../errors.js';
import type { SyncSummary } from '../remote/index.js';
import { globals } from './options.js';
import { formatBytes } from './render.js';

export interface TransferCliOptions {
  remote?: string;
  jobs?: string;
  runCache?: boolean;
  force?: boolean;
}

// -j and -q are read by options.ts like every verb's; these names stay for push, fetch and pull.
export { parseJobs } from './options.js';
export const isQuiet = (cmd: Command): boolean => globals(cmd).quiet;

/** One line per remote: what moved, what was already there. */
export function summaryLines(verb: 'pushed' | 'fetched', summary: SyncSummary, seconds: number): string[] {
  const lines: string[] = [];
  for (const r of summary.remotes) {
    const dir = verb === 'pushed' ? 'to' : 'from';
    let line = `${verb} ${r.transferred} object${r.transferred === 1 ? '' : 's'} (${formatBytes(r.bytes)}) ${dir} '${r.name}' (${r.display}) in ${seconds.toFixed(1)} s; ${r.upToDate} already there`;
    if (r.runCache)
      line += `; run-cache: ${r.runCache.transferred} entr${r.runCache.transferred === 1 ? 'y' : 'ies'} ${verb}`;
    lines.push(line);
  }
  return lines;
}

/** Objects that could not move make the command fail after everything else has moved. */
export function failOnMissing(verb: 'push' | 'fetch', summary: SyncSummary): void {
  for (const r of summary.remotes) {
    if (r.missing.length === 0) continue;
    const outs = r.incompleteOutputs.length
      ? ` (outputs: ${r.incompleteOutputs.slice(0, 5).join(', ')}${r.incompleteOutputs.length > 5 ? ', …' : ''})`
      : '';
    if (verb === 'push') {
      throw new LockstepError(
        'missing-object',
        `${r.missing.length} object${r.missing.length === 1 ? ' is' : 's are'} not in the local cache and could not be pushed to '${r.name}'${outs}`,
        'Run lockstep repro (or fetch them from another remote) and push again.',
      );
    }
    throw new LockstepError(
      'missing-object',
      `${r.missing.length} object${r.missing.length === 1 ? ' is' : 's are'} missing on remote '${r.name}' (${r.display})${outs}`,
      'Push them from a machine that has them, or run lockstep repro.',
    );
  }
}
