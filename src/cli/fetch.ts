import type { Command } from 'commander';
import { runTransfer, type TransferCliOptions } from './transfer-common.js';

/**
 * `lockstep fetch`: download the cached outputs of the lock file into the cache, verified.
 */
export function run(targets: string[], opts: TransferCliOptions, cmd: Command): Promise<number> {
  return runTransfer('fetch', targets, opts, cmd);
}
