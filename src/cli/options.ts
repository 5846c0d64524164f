/**
 * The one place the CLI reads its options: global flags, `-j`, `--wait`, repeatable options. Every verb
 * parses through these, so a flag means the same and fails with the same words everywhere.
 */
import type { Command } from 'commander';
import { LockstepError } from '../errors.js';

export interface GlobalOptions {
  verbose: boolean;
  quiet: boolean;
}

/** `-q` and `-v`, wherever on the command line they were given. */
export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as { verbose?: boolean; quiet?: boolean };
  return { verbose: !!o.verbose, quiet: !!o.quiet };
}

export function parsePositiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1)
    throw new LockstepError(
      'usage',
      `${flag} takes a whole number of at least 1, not '${value}'`,
      `Example: ${flag.split('/')[0]} 4.`,
    );
  return n;
}

/** `-j/--jobs N`; absent: `fallback` (undefined lets the use case choose, e.g. a remote's own `jobs`). */
export function parseJobs(value: string | undefined): number | undefined;
export function parseJobs(value: string | undefined, fallback: number): number;
export function parseJobs(value: string | undefined, fallback?: number): number | undefined {
  return value === undefined ? fallback : parsePositiveInt(value, '-j/--jobs', 1);
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

/** For repeatable options: `--exp a --exp b` -> ['a', 'b']. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

// The output helpers moved to render.ts; re-exported while other branches still import them from here.
export { errLine, out } from './render.js';
