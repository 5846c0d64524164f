/**
 * The transfer verbs (push, fetch, pull) in one place: parse the options, call the use case in
 * src/remote, render its result. push.ts / fetch.ts / pull.ts only name their verb.
 */
import type { Command } from 'commander';
import { LockstepError } from '../errors.js';
import type { CheckoutResult } from '../pipeline/checkout-workspace.js';
import { openProject } from '../project.js';
import type { SyncSummary } from '../remote/index.js';
import { transferRenderer } from './transfer-progress.js';
import { globals, parseJobs } from './options.js';
import { formatBytes } from './render.js';

export interface TransferCliOptions {
  remote?: string;
  jobs?: string;
  runCache?: boolean;
  force?: boolean;
}

// -j and -q are read by options.ts like every verb's; these names stay for push, fetch and pull.
export { parseJobs };
export const isQuiet = (cmd: Command): boolean => globals(cmd).quiet;

/** One line per remote: what moved, what was already there. */
export function summaryLines(verb: 'pushed' | 'fetched', summary: SyncSummary, seconds: number): string[] {
  const lines: string[] = [];
  for (const r of summary.remotes) {
    const dir = verb === 'pushed' ? 'to' : 'from';
    let line =
      `${verb} ${r.transferred} object${r.transferred === 1 ? '' : 's'} (${formatBytes(r.bytes)}) ${dir} ` +
      `'${r.name}' (${r.display}) in ${seconds.toFixed(1)} s; ${r.upToDate} already there`;
    if (r.runCache)
      line += `; run-cache: ${r.runCache.transferred} entr${r.runCache.transferred === 1 ? 'y' : 'ies'} ${verb}`;
    const swept = r.staleTemps?.removed.length ?? 0;
    if (swept) line += `; removed ${swept} temp file${swept === 1 ? '' : 's'} left by an interrupted push`;
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
        `${r.missing.length} object${r.missing.length === 1 ? ' is' : 's are'} not in the local cache and could not ` +
          `be pushed to '${r.name}'${outs}`,
        'Run lockstep repro (or fetch them from another remote) and push again.',
      );
    }
    throw new LockstepError(
      'missing-object',
      `${r.missing.length} object${r.missing.length === 1 ? ' is' : 's are'} missing on remote '${r.name}' ` +
        `(${r.display})${outs}`,
      'Push them from a machine that has them, or run lockstep repro.',
    );
  }
}

export type TransferVerb = 'push' | 'fetch' | 'pull';

/** Run one transfer verb and render it: progress, one summary line per remote, then the failure if any. */
export async function runTransfer(
  verb: TransferVerb,
  targets: string[],
  opts: TransferCliOptions,
  cmd: Command,
): Promise<number> {
  const project = await openProject();
  const remote = await import('../remote/index.js');
  const quiet = isQuiet(cmd);
  const write = (line: string) => {
    if (!quiet) process.stdout.write(`${line}\n`);
  };
  const sync = { targets, remote: opts.remote, jobs: parseJobs(opts.jobs), runCache: opts.runCache };
  const progress = await transferRenderer({ quiet });
  const started = performance.now();
  let summary: SyncSummary;
  let checkout: CheckoutResult | undefined;
  try {
    if (verb === 'push') summary = await remote.push(project, { ...sync, onEvent: progress.onEvent });
    else if (verb === 'fetch') summary = await remote.fetch(project, { ...sync, onEvent: progress.onEvent });
    else {
      const pulled = await remote.pull(project, { ...sync, onEvent: progress.onEvent, force: opts.force });
      summary = pulled.fetched;
      checkout = pulled.checkout;
    }
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  for (const l of summaryLines(verb === 'push' ? 'pushed' : 'fetched', summary, seconds)) write(l);
  if (checkout) {
    for (const o of checkout.restored) write(`M\t${o.path}`);
    const notRestored = checkout.problems.length ? `, ${checkout.problems.length} not restored` : '';
    write(`${checkout.restored.length} outputs restored, ${checkout.unchanged.length} unchanged${notRestored}.`);
  }
  // what could not move is named after everything else has moved (and, for pull, been checked out)
  failOnMissing(verb === 'push' ? 'push' : 'fetch', summary);
  if (checkout) {
    const { checkoutFailure } = await import('../pipeline/checkout-workspace.js');
    const failure = checkoutFailure(checkout);
    if (failure) throw failure;
  }
  return 0;
}
