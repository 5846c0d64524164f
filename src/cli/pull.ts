import type { Command } from 'commander';
import { openProject } from '../project.js';
import { failOnMissing, isQuiet, parseJobs, summaryLines, type TransferCliOptions } from './transfer-common.js';
import { transferRenderer } from './transfer-progress.js';

/** fetch, then the same checkout as `lockstep checkout` (repository lock, modified outputs kept unless --force). */
export async function run(targets: string[], opts: TransferCliOptions, cmd: Command): Promise<number> {
  const project = await openProject();
  const { fetch } = await import('../remote/index.js');
  const quiet = isQuiet(cmd);
  const progress = await transferRenderer({ quiet });
  const started = performance.now();
  let summary;
  try {
    summary = await fetch(project, {
      targets,
      remote: opts.remote,
      jobs: parseJobs(opts.jobs),
      runCache: opts.runCache,
      onEvent: progress.onEvent,
    });
  } finally {
    progress.stop();
  }
  if (!quiet)
    for (const l of summaryLines('fetched', summary, (performance.now() - started) / 1000))
      process.stdout.write(`${l}\n`);
  failOnMissing('fetch', summary);
  const checkout = await import('./checkout.js');
  return checkout.run(targets, { force: opts.force }, cmd);
}
