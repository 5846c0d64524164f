import type { Command } from 'commander';
import { LockstepError } from '../errors.js';
import { openProject } from '../project.js';
import { failOnMissing, isQuiet, parseJobs, summaryLines, type TransferCliOptions } from './transfer-common.js';
import { transferRenderer } from './transfer-progress.js';

export async function run(targets: string[], opts: TransferCliOptions, cmd: Command): Promise<number> {
  const project = await openProject();
  const { pull } = await import('../remote/index.js');
  const quiet = isQuiet(cmd);
  const progress = await transferRenderer({ quiet });
  const started = performance.now();
  let summary;
  try {
    summary = await pull(project, { targets, remote: opts.remote, jobs: parseJobs(opts.jobs), runCache: opts.runCache, force: opts.force, onEvent: progress.onEvent });
  } finally {
    progress.stop();
  }
  if (!quiet) {
    for (const l of summaryLines('fetched', summary, (performance.now() - started) / 1000)) process.stdout.write(`${l}\n`);
    const c = summary.checkedOut!;
    process.stdout.write(`checked out ${c.changed} output${c.changed === 1 ? '' : 's'}; ${c.unchanged} already in place\n`);
  }
  failOnMissing('fetch', summary);
  const failed = summary.checkedOut?.failed ?? [];
  if (failed.length) {
    throw new LockstepError('missing-object', `could not check out ${failed.length} output${failed.length === 1 ? '' : 's'}: ${failed.slice(0, 5).join(', ')}`, 'Their objects are missing or corrupt in the cache; run lockstep fetch or lockstep repro.');
  }
  return 0;
}
