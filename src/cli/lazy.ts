/**
 * Verbs are imported when they run, so `lockstep status` never loads what `repro`, the remotes or the
 * stages need (the AWS SDK, ssh2; TensorFlow.js is never loaded by the CLI at all). A verb module exports
 * `run(...args from commander)` (or, for a group, one function per verb) returning its exit code.
 */

/** A verb's entry point: commander's arguments, options and command in; an exit code out. */
export type VerbRun = (...args: never[]) => Promise<number | undefined>;

export type LoadVerb = () => Promise<{ run: VerbRun }>;

/** Wrap a lazily imported verb so its exit code becomes the process's. */
export function lazy(load: LoadVerb): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const { run } = await load();
    // commander hands the verb exactly the arguments its registration declared
    const code = await (run as (...a: unknown[]) => Promise<number | undefined>)(...args);
    if (typeof code === 'number') process.exitCode = code;
  };
}
