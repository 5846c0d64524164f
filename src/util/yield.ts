/**
 * Let the event loop run (timers, child-process output, signals) between batches of synchronous
 * file work: the hashing and cache loops use sync fs calls, which are much cheaper than the promise
 * versions, and yield through this every few hundred files.
 */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
