import type { Command } from 'commander';
import { runTransfer, type TransferCliOptions } from './transfer-common.js';

/**
 * `lockstep pull`: fetch, then check out every output the cache has (src/remote/pull.ts); what is
 * missing on the remote is named after the checkout.
 */
export function run(targets: string[], opts: TransferCliOptions, cmd: Command): Promise<number> {
  return runTransfer('pull', targets, opts, cmd);
}
