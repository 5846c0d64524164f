import type { Command } from 'commander';
import { LockstepError } from '../errors.js';
import { openLockedWorkspace } from '../pipeline/context.js';
import type { ReproEvent } from '../pipeline/events.js';
import { reproduce } from '../pipeline/execute.js';
import { describeReason } from '../pipeline/staleness.js';
import { onInterrupt } from '../util/interrupt.js';
import { globals, parseJobs, parseWait } from './options.js';
import { lineBatch } from './render.js';

interface ReproFlags {
  force?: boolean;
  singleItem?: boolean;
  downstream?: boolean;
  allPipelines?: boolean;
  dry?: boolean;
  keepGoing?: boolean;
  jobs?: string;
  runCache?: boolean;
  wait?: string | boolean;
  json?: boolean;
  pull?: boolean;
  remote?: string;
}

export async function run(targets: string[], flags: ReproFlags, cmd: Command): Promise<number> {
  const g = globals(cmd);
  const jobs = parseJobs(flags.jobs, 1);
  const waitMs = parseWait(flags.wait);
  const lines = lineBatch();
  const render = flags.json ? (e: ReproEvent) => lines.out(JSON.stringify(e)) : await textWithProgress(g.quiet, lines);
  const { ws, release } = await openLockedWorkspace(
    flags.dry
      ? null
      : { command: 'lockstep repro', waitMs, onWait: (holder) => render({ type: 'waiting-for-lock', holder }) },
  );
  // --pull: restores that lack objects ask the remote first; it is opened only if one does
  const fetcher = flags.pull ? (await import('../remote/index.js')).missingFetcher(ws.project, flags.remote) : null;
  const controller = new AbortController();
  const stopListening = onInterrupt(() => controller.abort());
  try {
    const summary = await reproduce(
      ws,
      {
        targets,
        force: !!flags.force,
        singleItem: !!flags.singleItem,
        downstream: !!flags.downstream,
        allPipelines: !!flags.allPipelines,
        keepGoing: !!flags.keepGoing,
        jobs,
        runCache: flags.runCache !== false,
        dry: !!flags.dry,
        ...(fetcher ? { pull: fetcher } : {}),
        ...progressTiming(),
      },
      render,
      controller.signal,
    );
    if (summary.interrupted)
      throw new LockstepError(
        'interrupted',
        'interrupted; the stages that did not finish were not recorded',
        'Run lockstep repro again to redo them.',
      );
    if (summary.failures.length > 0) {
      const first = summary.failures[0]!;
      const others = summary.failures.slice(1).map((f) => f.stage);
      const more = others.length ? ` (also failed: ${others.join(', ')})` : '';
      throw new LockstepError(
        first.reason ?? 'stage-failed',
        `${first.message}${more}`,
        first.hint ??
          'Its outputs were not cached and downstream stages did not run; fix it and run lockstep repro again.',
      );
    }
    if (!flags.json && !g.quiet && !flags.dry) {
      const counts = { ran: 0, restored: 0, fresh: 0, frozen: 0 };
      for (const o of summary.outcomes.values()) if (o in counts) counts[o as keyof typeof counts]++;
      lines.out(
        `Done: ${counts.ran} ran, ${counts.restored} restored from cache, ${counts.fresh} up to ` +
          `date${counts.frozen ? `, ${counts.frozen} frozen` : ''}.`,
      );
    }
    return 0;
  } finally {
    lines.flush();
    stopListening();
    await fetcher?.close();
    await release();
  }
}

/** LOCKSTEP_PROGRESS_MS=N: progress events after N ms and every N ms (tests set 0 to see every step). */
function progressTiming(): { progress?: { delayMs: number; intervalMs: number } } {
  const ms = Number(process.env.LOCKSTEP_PROGRESS_MS ?? Number.NaN);
  return Number.isFinite(ms) && ms >= 0 ? { progress: { delayMs: ms, intervalMs: ms } } : {};
}

/** Text lines, and a progress bar for long hashing and caching on a terminal (cleared before each line). */
async function textWithProgress(quiet: boolean, lines: Lines): Promise<(e: ReproEvent) => void> {
  const { stageProgressView } = await import('./stage-progress.js');
  const progress = await stageProgressView({ quiet });
  const text = textRenderer(quiet, lines);
  return (e) => {
    if (e.type === 'stage-progress') {
      lines.flush();
      return progress.onProgress(e);
    }
    progress.clear();
    text(e);
  };
}

type Lines = ReturnType<typeof lineBatch>;

function textRenderer(quiet: boolean, lines: Lines): (e: ReproEvent) => void {
  const { out, err: errLine } = lines;
  return (e) => {
    switch (e.type) {
      case 'waiting-for-lock':
        errLine(`Waiting for pid ${e.holder.pid} (${e.holder.command}) to release the repository lock…`);
        return;
      case 'plan':
        for (const item of e.items) {
          if (item.action === 'run') out(`would run '${item.stage}': ${item.reasons.map(describeReason).join('; ')}`);
          else if (item.action === 'frozen') out(`frozen '${item.stage}': not run`);
          else out(`up to date '${item.stage}'`);
        }
        return;
      case 'stage-fresh':
        if (!quiet) out(`Stage '${e.stage}' didn't change, skipping`);
        return;
      case 'stage-frozen':
        if (!quiet) out(`Stage '${e.stage}' is frozen, skipping`);
        return;
      case 'stage-start':
        if (!quiet) {
          out(`Running stage '${e.stage}' (${e.reasons.map(describeReason).join('; ')}):`);
          for (const c of e.commands) out(`> ${c}`);
        }
        return;
      case 'stage-output':
        if (!quiet || e.stream === 'stderr') (e.stream === 'stdout' ? out : errLine)(`[${e.stage}] ${e.line}`);
        return;
      case 'stage-restored':
        if (!quiet)
          out(
            `Stage '${e.stage}' restored from the ` +
              `${e.from === 'lock' ? 'cache' : 'run-cache'}${e.pulled ? ' (objects pulled from the remote)' : ''}, ` +
              `not run`,
          );
        return;
      case 'stage-pull-failed':
        errLine(`Stage '${e.stage}': could not pull from the remote (${e.message}); running it instead`);
        return;
      case 'stage-ran':
        if (!quiet) out(`Stage '${e.stage}' finished in ${(e.durationMs / 1000).toFixed(1)} s`);
        return;
      case 'stage-failed':
        return; // the final one-line error names the failed stages

      case 'stage-skipped':
        errLine(`Stage '${e.stage}' not run: ${e.because}`);
        return;
      case 'stage-progress':
        return; // drawn by stage-progress.ts on a terminal only
    }
  };
}
