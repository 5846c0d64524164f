import path from 'node:path';
import { canSupervise, killGroup, supervised } from '../util/supervise.js';

export interface CommandOutcome {
  exitCode: number | null;
  signal: string | null;
  interrupted: boolean;
  /** Which of the stage's commands failed (index), when one did. */
  failedIndex?: number;
}

/**
 * Run a stage's commands in sequence through the shell, in their own process group so that an
 * interruption stops the whole tree, each under the supervisor of util/supervise.ts so that the tree
 * also dies when lockstep is killed outright (kill -9), from the command's first instant. Output is
 * delivered line by line.
 */
export async function runStageCommands(
  cmds: string[],
  opts: {
    cwd: string;
    env: Record<string, string>;
    signal: AbortSignal;
    onLine: (stream: 'stdout' | 'stderr', line: string) => void;
  },
): Promise<CommandOutcome> {
  // loaded on first use: execa and its dependencies cost ~100 ms of start-up, which a repro that
  // restores everything (a no-op, each experiment of a cached sweep) never needs
  const { execa } = await import('execa');
  for (let i = 0; i < cmds.length; i++) {
    if (opts.signal.aborted) return { exitCode: null, signal: 'SIGINT', interrupted: true, failedIndex: i };
    const argv = shellCommand(cmds[i]!, opts.env.SHELL);
    const sup = canSupervise ? supervised(argv) : null;
    const child = execa(sup?.file ?? argv[0]!, sup?.args ?? argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      reject: false,
      stdio: sup?.stdio ?? ['ignore', 'pipe', 'pipe'],
      stripFinalNewline: false,
      buffer: false,
    });
    const pump = (stream: 'stdout' | 'stderr', readable: NodeJS.ReadableStream | null) => {
      if (!readable) return Promise.resolve();
      let rest = '';
      readable.setEncoding('utf8');
      readable.on('data', (chunk: string) => {
        const parts = (rest + chunk).split(/\r?\n|\r/);
        rest = parts.pop() ?? '';
        for (const p of parts) opts.onLine(stream, p);
      });
      return new Promise<void>((resolve) =>
        readable.on('end', () => {
          if (rest) opts.onLine(stream, rest);
          resolve();
        }),
      );
    };
    const pumps = Promise.all([pump('stdout', child.stdout), pump('stderr', child.stderr)]);
    let interrupted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      interrupted = true;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 5000);
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const result = await child;
    await pumps;
    opts.signal.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
    if (interrupted) {
      killGroup(child.pid, 'SIGKILL'); // leftovers of the tree
      return { exitCode: null, signal: 'SIGTERM', interrupted: true, failedIndex: i };
    }
    if (result.exitCode !== 0) {
      return { exitCode: result.exitCode ?? null, signal: result.signal ?? null, interrupted: false, failedIndex: i };
    }
  }
  return { exitCode: 0, signal: null, interrupted: false };
}

/**
 * The argv that runs `cmd` as DVC does (dvc/stage/run.py): through the user's `$SHELL` (so bash syntax
 * works where the user's shell is bash), `/bin/sh` when it is unset, with the flags that keep bash
 * and zsh from reading start-up files that could change the environment or the behaviour.
 */
export function shellCommand(cmd: string, shell: string | undefined): string[] {
  const executable = shell?.trim() || '/bin/sh';
  const name = path.basename(executable).toLowerCase();
  const quiet: Record<string, string[]> = { zsh: ['--no-rcs'], bash: ['--noprofile', '--norc'] };
  return [executable, ...(quiet[name] ?? []), '-c', cmd];
}

/**
 * The environment a stage runs with: ours, plus the project's node_modules/.bin on PATH, and
 * LOCKSTEP_JOBS, how many stage commands may run at once on this machine (this repro's `-j` times
 * the LOCKSTEP_JOBS it was started with, e.g. by `exp run -j`), so a stage can size its thread pool.
 */
export function stageEnv(
  root: string,
  stage: string,
  jobs = 1,
  base: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  env.PATH = [path.join(root, 'node_modules', '.bin'), env.PATH ?? ''].join(path.delimiter);
  env.LOCKSTEP_STAGE = stage;
  env.LOCKSTEP_ROOT = root;
  const outer = Number(base.LOCKSTEP_JOBS);
  env.LOCKSTEP_JOBS = String((Number.isInteger(outer) && outer >= 1 ? outer : 1) * Math.max(1, jobs));
  return env;
}
