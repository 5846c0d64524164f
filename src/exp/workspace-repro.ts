/**
 * One experiment's `repro`, run in this process in the experiment's own workspace. A `lockstep repro`
 * child per experiment cost Node's start-up and module loading (150-270 ms of CPU) every time; the
 * engine needs no process of its own, because nothing in it depends on the process: the workspace
 * folder, the cache folder and the stages' environment are passed here explicitly, never read from
 * process.cwd() or process.env, so experiments running side by side cannot see each other's.
 * What the child process gave is kept: each stage command still runs in its own supervised process group
 * (pipeline/run-command.ts), so the sweep's abort signal (Ctrl-C) stops every stage tree and a kill -9
 * of lockstep takes them with it; the workspace's repository lock is still taken; the events feed the
 * progress and the failure log as repro's --json lines did.
 */
import { errorLines, LockstepError } from '../errors.js';
import { openLockedWorkspace } from '../pipeline/context.js';
import type { ReproEvent } from '../pipeline/events.js';
import { reproduce, type MissingFetcher } from '../pipeline/execute.js';
import { ReproLog, type StageCounts } from './repro-log.js';

export interface WorkspaceReproOptions {
  /** The experiment's workspace (its project root). */
  dir: string;
  /** The project's cache folder, shared by every experiment. */
  cacheDir: string;
  /** Stages to reproduce (with their upstream); none: the workspace's whole pipeline, as `repro`. */
  targets: string[];
  runCache: boolean;
  /** Restores that lack objects ask the project's default remote first (`repro --pull`). */
  pull: boolean;
  /** What the stage commands get over this process's environment. */
  env: Readonly<Record<string, string>>;
  signal: AbortSignal;
  onEvent: (e: ReproEvent) => void;
  /** How much of the log's end to keep in memory (characters). */
  keepLogChars: number;
}

export interface WorkspaceReproResult {
  ok: boolean;
  log: string;
  stages: StageCounts;
}

export async function reproInWorkspace(o: WorkspaceReproOptions): Promise<WorkspaceReproResult> {
  const log = new ReproLog(o.keepLogChars);
  const emit = (e: ReproEvent) => {
    log.event(e);
    o.onEvent(e);
  };
  let ok = false;
  try {
    const { ws, release } = await openLockedWorkspace({ command: 'lockstep exp run', waitMs: 0 }, o.dir, {
      cacheDir: o.cacheDir,
    });
    let fetcher: (MissingFetcher & { close(): Promise<void> }) | null = null;
    try {
      if (o.pull) fetcher = (await import('../remote/index.js')).missingFetcher(ws.project, undefined);
      const summary = await reproduce(
        ws,
        {
          targets: o.targets,
          force: false,
          singleItem: false,
          downstream: false,
          keepGoing: false,
          jobs: 1,
          runCache: o.runCache,
          dry: false,
          env: o.env,
          cacheRegistered: true,
          ...(fetcher ? { pull: fetcher } : {}),
        },
        emit,
        o.signal,
      );
      const [first, ...others] = summary.failures;
      if (summary.interrupted) log.line('lockstep: interrupted; the stages that did not finish were not recorded');
      else if (first) {
        const more = others.length ? ` (also failed: ${others.map((f) => f.stage).join(', ')})` : '';
        log.line(`lockstep: ${first.message}${more}`);
      } else {
        ok = !o.signal.aborted;
      }
    } finally {
      await fetcher?.close();
      await release();
    }
  } catch (e) {
    // what `lockstep repro` would have printed before exiting non-zero: the experiment fails, the sweep goes on
    for (const line of failureLines(e)) log.line(line);
  }
  return { ok, log: log.text(), stages: log.stages };
}

function failureLines(e: unknown): string[] {
  if (e instanceof LockstepError) return errorLines(e).map((l) => l.line);
  const message = e instanceof Error ? e.message : String(e);
  return [`lockstep: internal error: ${message.split('\n')[0]}`];
}
