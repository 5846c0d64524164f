import { LockstepError } from '../errors.js';

export async function run(): Promise<number> {
  throw new LockstepError('usage', 'repro is being built');
}
