/**
 * The queue's jobs that have no record yet (waiting, running, or failed before recording), for
 * `exp show`: read only when a queue exists (a `queue.url`, or the embedded queue's folder), so
 * `exp show` in a project without queues opens nothing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { gitCommonDir, loadQueueConfig, openQueue } from './open.js';
import type { JobInfo } from './types.js';

export async function pendingJobs(root: string, recorded: ReadonlySet<string>): Promise<JobInfo[]> {
  const cfg = await loadQueueConfig(root);
  if (!cfg.url) {
    const dir = process.env.LOCKSTEP_QUEUE_DIR ?? path.join(await gitCommonDir(root).catch(() => ''), 'lockstep-queue');
    if (!existsSync(dir)) return [];
  }
  const q = await openQueue(root, cfg);
  try {
    const jobs = await Promise.race([
      q.list(),
      new Promise<JobInfo[]>((_, reject) => setTimeout(() => reject(new Error('queue did not answer')), 3000).unref()),
    ]);
    return jobs.filter(
      (j) => j.spec.kind !== 'warmup' && !recorded.has(`${j.spec.baseline}/${j.spec.name}`) && j.state !== 'completed',
    );
  } finally {
    await q.close();
  }
}
