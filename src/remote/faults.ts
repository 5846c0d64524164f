import { LockstepError } from '../errors.js';

/** Messages of a broken connection (transient: retried), whatever the transport. */
const TRANSIENT_MESSAGE = new RegExp(
  'socket hang up|not connected|no response from server|connection lost|channel (open failure|closed)|' +
    'premature close|read ECONNRESET|aborted',
  'i',
);

/**
 * What kind of failure a remote error is. Transient ones are retried with backoff; the others
 * stop the transfer with one line saying what to fix.
 */
export type FaultKind = 'transient' | 'unreachable' | 'auth' | 'permission' | 'full' | 'other';

interface ErrorLike {
  code?: unknown;
  errno?: unknown;
  level?: unknown;
  name?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
  $fault?: unknown;
  Code?: unknown;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ESOCKETTIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
  'Throttling',
  'ThrottlingException',
  'NetworkingError',
]);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);
const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'CredentialsProviderError',
  'AuthorizationHeaderMalformed',
]);
const PERMISSION_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'AccessDenied', 'AllAccessDisabled']);
const FULL_CODES = new Set([
  'ENOSPC',
  'EDQUOT',
  'EntityTooLarge',
  'QuotaExceeded',
  'InsufficientStorage',
  'XMinioStorageFull',
]);

export function classifyFault(e: unknown): FaultKind {
  const x = (e ?? {}) as ErrorLike;
  const code =
    typeof x.code === 'string'
      ? x.code
      : typeof x.Code === 'string'
        ? x.Code
        : typeof x.name === 'string'
          ? x.name
          : '';
  const message = typeof x.message === 'string' ? x.message : '';
  if (UNREACHABLE_CODES.has(code)) return 'unreachable';
  if (x.level === 'client-authentication' || AUTH_CODES.has(code) || x.name === 'CredentialsProviderError')
    return 'auth';
  if (x.level === 'client-timeout' || x.level === 'client-socket') return 'transient';
  if (PERMISSION_CODES.has(code)) return 'permission';
  if (FULL_CODES.has(code)) return 'full';
  if (TRANSIENT_CODES.has(code)) return 'transient';
  // SFTP status codes: 3 = permission denied; 4 = generic failure (OpenSSH's answer to ENOSPC among others);
  // 6/7 = no connection / connection lost.
  if (x.code === 3) return 'permission';
  if (x.code === 6 || x.code === 7) return 'transient';
  const status = x.$metadata?.httpStatusCode;
  if (status === 507) return 'full';
  if (status === 401) return 'auth';
  if (status === 403) return 'permission';
  if (status !== undefined && status >= 500) return 'transient';
  if (TRANSIENT_MESSAGE.test(message)) return 'transient';
  return 'other';
}

export function errorText(e: unknown): string {
  const x = (e ?? {}) as ErrorLike;
  const msg = typeof x.message === 'string' && x.message ? x.message : String(e);
  const status = x.$metadata?.httpStatusCode;
  // an S3 answer without a body (to HEAD, say) reaches the SDK as 'UnknownError': the status says more
  if (status !== undefined && (msg === 'UnknownError' || msg === x.name)) {
    const known =
      typeof x.name === 'string' && !['Unknown', 'UnknownError', 'Error'].includes(x.name) ? `${x.name}, ` : '';
    return `${known}HTTP ${status}${HTTP_REASONS[status] ? ` ${HTTP_REASONS[status]}` : ''}`;
  }
  return msg.split('\n')[0]!.replace(/\.$/, '');
}

const HTTP_REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

/**
 * The one-line error a user sees for a failed remote operation. `where` names the remote
 * (display URL, never credentials) and, when known, the key.
 */
export function remoteError(e: unknown, where: { remote: string; display: string; key?: string }): LockstepError {
  if (e instanceof LockstepError) return e;
  const at = `remote '${where.remote || where.display}' (${where.display})`;
  const on = where.key ? ` at ${where.key}` : '';
  switch (classifyFault(e)) {
    case 'unreachable':
      return new LockstepError(
        'remote',
        `cannot reach ${at}: ${errorText(e)}`,
        'Check the host name and port, and that the server is running.',
      );
    case 'auth':
      return new LockstepError(
        'remote',
        `${at} refused the credentials: ${errorText(e)}`,
        'Check the key or access key configured for this remote (lockstep remote modify --local NAME KEY VALUE).',
      );
    case 'permission':
      return new LockstepError(
        'remote',
        `permission denied on ${at}${on}: ${errorText(e)}`,
        'Check that this user or key may read and write the remote path.',
      );
    case 'full':
      return new LockstepError(
        'remote',
        `${at} is full${on}: ${errorText(e)}`,
        'Free space on the remote; a rerun resumes where this stopped.',
      );
    case 'transient':
      return new LockstepError(
        'remote',
        `connection to ${at} failed${on}: ${errorText(e)}`,
        'Run the command again: objects already transferred are kept and nothing partial was stored.',
      );
    case 'other':
      return new LockstepError('remote', `${at} failed${on}: ${errorText(e)}`, 'Run again with --verbose for details.');
  }
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5_000 };

/** Exponential backoff with full jitter; attempt is 1-based (delay before attempt n+1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/** Run `op`, retrying transient faults only; auth, permission, full and unreachable fail at once. */
export async function withRetry<T>(
  op: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (e: unknown, attempt: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt);
    } catch (e) {
      if (attempt >= policy.attempts || classifyFault(e) !== 'transient') throw e;
      onRetry?.(e, attempt);
      await new Promise((r) => setTimeout(r, backoffDelay(policy, attempt)));
    }
  }
}
