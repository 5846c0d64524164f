/**
 * Stage programs never import from src/, so they carry their own small error type. A DataError is an
 * expected failure (bad params, bad archive, unreachable source): `runStage` prints it as ONE line
 * `<stage>: <message> <hint>` on stderr and exits 1; anything else is a bug and keeps its stack.
 */
export class DataError extends Error {
  constructor(
    message: string,
    /** What the user can do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'DataError';
  }
}

/** Runs a stage's main function with the one-line error convention and sets the exit code. */
export async function runStage(stage: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof DataError) {
      process.stderr.write(`${stage}: ${e.message}${e.hint ? ` ${e.hint}` : ''}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
