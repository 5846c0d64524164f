import type { Command } from 'commander';
import { LockstepError } from '../errors.js';

export interface GlobalOptions {
  verbose: boolean;
  quiet: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as { verbose?: boolean; quiet?: boolean };
  return { verbose: !!o.verbose, quiet: !!o.quiet };
}

export function parsePositiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new LockstepError(
      'usage',
      `${flag} takes a whole number of at least 1, not '${value}'`,
      `Example: ${flag} 4.`,
    );
  return n;
}

/** `--wait` alone waits 60 s; `--wait 300` waits 300 s; absent: do not wait. */
export function parseWait(value: string | boolean | undefined): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return 60_000;
  const s = Number(value);
  if (!Number.isFinite(s) || s < 0)
    throw new LockstepError('usage', `--wait takes seconds, not '${value}'`, 'Example: --wait 120.');
  return s * 1000;
}

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function errLine(line: string): void {
  process.stderr.write(`${line}\n`);
}
