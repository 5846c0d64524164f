/**
 * What every stage program shares: the one expected-failure type and the way a stage's main runs.
 * Stage programs never import from src/ (the engine is a separate product), so this is their own.
 */

/** An expected failure (bad params, bad data, unreachable source): printed as ONE line
 * `<stage>: <message> <hint>` on stderr, exit code 1. Anything else is a bug and keeps its stack. */
export class StageError extends Error {
  constructor(
    message: string,
    /** What the user can do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'StageError';
  }
}

/** The first line of an error's message, for wrapping a library's error into a StageError. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';

/**
 * Runs a stage's main and ends the process: exit 0 when it resolves; on a StageError one line on
 * stderr and exit 1; on anything else `<stage>: <stack>` and exit 1. The explicit exit matters for
 * the training stages, whose TensorFlow.js backends (wasm worker threads) would keep Node alive.
 * stdout and stderr are synchronous for files and pipes on POSIX, so nothing written is lost.
 */
export function runStage(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      if (e instanceof StageError) {
        process.stderr.write(`${name}: ${e.message}${e.hint ? ` ${e.hint}` : ''}\n`);
      } else {
        process.stderr.write(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      }
      process.exit(1);
    },
  );
}

/** JSON with a trailing newline; the one place stage outputs are formatted so they stay byte-stable. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
