/**
 * The pull use case: fetch the lock file's cached outputs, then check every output out whose objects
 * the cache now has, under the repository lock. Objects missing on the remote do not stop the
 * checkout of the others; both results are returned as data for `lockstep pull` to render.
 */
import type { CheckoutResult } from '../pipeline/checkout-workspace.js';
import type { Project } from '../project.js';
import { fetch, type SyncOptions, type SyncSummary } from './index.js';

export interface PullOptions extends SyncOptions {
  /** Overwrite outputs whose local changes the cache does not hold. */
  force?: boolean;
  /** How long to wait for the repository lock (ms). */
  waitMs?: number;
}

export interface PullResult {
  fetched: SyncSummary;
  checkout: CheckoutResult;
}

export async function pull(project: Project, opts: PullOptions = {}): Promise<PullResult> {
  const fetched = await fetch(project, opts);
  const { openLockedWorkspace } = await import('../pipeline/context.js');
  const { checkoutWorkspace } = await import('../pipeline/checkout-workspace.js');
  const { ws, release } = await openLockedWorkspace(
    { command: 'lockstep pull', waitMs: opts.waitMs ?? 0 },
    project.root,
  );
  try {
    return { fetched, checkout: await checkoutWorkspace(ws, { targets: opts.targets ?? [], force: !!opts.force }) };
  } finally {
    await release();
  }
}
