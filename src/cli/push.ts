import type { Command } from 'commander';
import { runTransfer, type TransferCliOptions } from './transfer-common.js';

/**
 * `lockstep push`: upload the cached outputs of the lock file to their remotes.
 */
export function run(targets: string[], opts: TransferCliOptions, cmd: Command): Promise<number> {
  return runTransfer('push', targets, opts, cmd);
}
