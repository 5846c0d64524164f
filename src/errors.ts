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
