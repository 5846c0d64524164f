/**
 * Expected failures are values with a reason. Core code throws `LockstepError` (or returns a Result
 * holding one); only src/cli/main.ts turns it into a one-line message and an exit code.
 */
export type FailureReason =
  | 'usage'
  | 'not-a-repo'
  | 'yaml-syntax'
  | 'config'
  | 'unknown-field'
  | 'missing-param'
  | 'interpolation'
  | 'cycle'
  | 'missing-dep'
  | 'duplicate-out'
  | 'path-outside'
  | 'control-path'
  | 'dep-out-overlap'
  | 'unknown-stage'
  | 'stage-failed'
  | 'interrupted'
  | 'locked'
  | 'corrupt-object'
  | 'missing-object'
  | 'unreadable-object'
  | 'no-space'
  | 'missing-output'
  | 'remote'
  | 'exp'
  | 'report'
  | 'data';

export class LockstepError extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    /** What the user can do about it; appended to the one-line message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'LockstepError';
  }
}

/** Exit codes: 1 for failures of the work, 2 for bad usage or configuration, 130 for interruption. */
/**
 * The lines a LockstepError prints: "what went wrong. What to do." (a period between the two unless the
 * message ends a sentence), or, for a config file with several problems, one line each and then their
 * count, so they can be fixed in one pass. `snippet`: the source to show under the line, if any.
 */
export function errorLines(e: LockstepError): { line: string; snippet?: string | undefined }[] {
  const hint = e.hint ? ` ${e.hint}` : '';
  const problems = (e as { problems?: { message: string; snippet?: string }[] }).problems;
  if (problems && problems.length > 1) {
    return [
      ...problems.map((p) => ({ line: `lockstep: ${p.message}`, snippet: p.snippet })),
      { line: `lockstep: ${problems.length} problems.${hint}` },
    ];
  }
  const sep = hint !== '' && !/[.!?:]$/.test(e.message) ? '.' : '';
  return [{ line: `lockstep: ${e.message}${sep}${hint}`, snippet: problems?.[0]?.snippet }];
}

export function exitCodeFor(reason: FailureReason): number {
  switch (reason) {
    case 'usage':
    case 'not-a-repo':
    case 'yaml-syntax':
    case 'config':
    case 'unknown-field':
    case 'missing-param':
    case 'interpolation':
    case 'cycle':
    case 'missing-dep':
    case 'duplicate-out':
    case 'path-outside':
    case 'control-path':
    case 'dep-out-overlap':
    case 'unknown-stage':
      return 2;
    case 'interrupted':
      return 130;
    case 'stage-failed':
    case 'locked':
    case 'corrupt-object':
    case 'missing-object':
    case 'unreadable-object':
    case 'no-space':
    case 'missing-output':
    case 'remote':
    case 'exp':
    case 'report':
    case 'data':
      return 1;
    default:
      return unreachable(reason);
  }
}

export function unreachable(value: never): never {
  throw new Error(`unreachable: ${String(value)}`);
}

export type Result<T, E = LockstepError> = { ok: true; value: T } | { ok: false; error: E };
export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });
