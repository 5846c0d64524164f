import { LockstepError } from '../errors.js';

export async function run(..._args: unknown[]): Promise<number> {
  throw new LockstepError('usage', 'status --cloud needs a remote store, which is not built yet', 'Use lockstep status.');
}
