import type { Command } from 'commander';
import { LockstepError } from '../errors.js';
import type { SyncSummary } from '../remote/index.js';

export interface TransferCliOptions {
  remote?: string;
  jobs?: string;
  runCache?: boolean;
  force?: boolean;
}

export function parseJobs(jobs: string | undefined): number | undefined {
  if (jobs === undefined) return undefined;
  const n = Number(jobs);
  if (!Number.isInteger(n) || n < 1)
    throw new LockstepError('usage', `-j ${jobs}: the number of jobs must be a positive integer`, 'Pass e.g. -j 8.');
  return n;
}

export const isQuiet = (cmd: Command): boolean => Boolean(cmd.optsWithGlobals().quiet);

const size = (n: number) =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(2)} GB`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(1)} MB`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)} kB`
        : `${n} B`;

/** One line per remote: what moved, what was already there. */
export function summaryLines(verb: 'pushed' | 'fetched', summary: SyncSummary, seconds: number): string[] {
  const lines: string[] = [];
  for (const r of summary.remotes) {
    const dir = verb === 'pushed' ? 'to' : 'from';
    let line = `${verb} ${r.transferred} object${r.transferred === 1 ? '' : 's'} (${size(r.bytes)}) ${dir} '${r.name}' (${r.display}) in ${seconds.toFixed(1)} s; ${r.upToDate} already there`;
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
