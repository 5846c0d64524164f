/**
 * The queue on BullMQ over Redis (any Redis-compatible server), for workers on many machines.
 * BullMQ does the distributed parts: atomic job hand-out, a lock each worker renews while it runs a
 * job, and stalled-job recovery (a job whose worker stopped renewing, e.g. killed with -9, goes back
 * to the queue, at most twice). A job whose experiment failed is failed for good (no retry loop).
 * Loaded only by the queue verbs and by `exp show` when a queue is configured.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobInfo, JobOutcome, JobSpec, JobState, QueueBackend, WorkOptions } from './types.js';

const QUEUE = 'lockstep-exp';
const KILL_POLL_MS = 500;

export interface RedisQueueOptions {
  url: string;
  /** Key prefix, so several projects can share one Redis. */
  prefix: string;
  password?: string;
  /** How long a worker's lock on a job lives without renewal (stalled-job detection). */
  lockMs?: number;
}

function connection(o: RedisQueueOptions): Redis {
  const u = new URL(o.url);
  const conn = new Redis({
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(o.password || u.password ? { password: o.password ?? decodeURIComponent(u.password) } : {}),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // A lost server is retried by ioredis and reported by the command that needs it, not logged per attempt.
  conn.on('error', () => {});
  return conn;
}

type Progress = { line?: string; worker?: string };

export class RedisQueue implements QueueBackend {
  readonly kind = 'redis' as const;
  private readonly conn: Redis;
  private readonly queue: Queue;
  constructor(private readonly o: RedisQueueOptions) {
    this.conn = connection(o);
    this.queue = new Queue(QUEUE, { connection: this.conn, prefix: o.prefix });
  }
  get display(): string {
    const u = new URL(this.o.url);
    u.password = '';
    return `queue ${u.toString()} (${this.o.prefix})`;
  }

  private killKey = (id: string) => `${this.o.prefix}:${QUEUE}:kill:${id}`;

  async add(jobs: readonly JobSpec[]): Promise<void> {
    await this.queue.addBulk(
      jobs.map((spec) => ({
        name: spec.name,
        data: spec,
        opts: { jobId: spec.id, attempts: 1, removeOnComplete: false, removeOnFail: false },
      })),
    );
  }

  private async info(job: Job, state: JobState): Promise<JobInfo> {
    const p = (typeof job.progress === 'object' ? job.progress : {}) as Progress;
    const info: JobInfo = {
      spec: job.data as JobSpec,
      state,
      attempts: job.attemptsStarted ?? job.attemptsMade,
      updated: new Date(job.finishedOn ?? job.processedOn ?? job.timestamp).toISOString(),
    };
    const worker = p.worker ?? job.processedBy;
    if (worker) info.worker = worker;
    if (state === 'active' && p.line) info.progress = p.line;
    const rv = job.returnvalue as JobOutcome | null;
    if (state === 'completed' && rv) info.outcome = rv.state;
    if (state === 'failed') {
      info.outcome = 'failed';
      if (job.failedReason) info.error = job.failedReason;
    }
    return info;
  }

  async list(): Promise<JobInfo[]> {
    const out: JobInfo[] = [];
    const groups: Array<[JobState, Array<'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized'>]> =
      [
        ['waiting', ['waiting', 'delayed', 'prioritized']],
        ['active', ['active']],
        ['completed', ['completed']],
        ['failed', ['failed']],
      ];
    for (const [state, types] of groups) {
      for (const job of await this.queue.getJobs(types, 0, -1, true))
        if (job) out.push(await this.info(job as Job, state));
    }
    return out.sort((a, b) => a.spec.created.localeCompare(b.spec.created) || a.spec.name.localeCompare(b.spec.name));
  }

  async remove(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job || (await job.getState()) === 'active') return false;
    await job.remove();
    return true;
  }

  async kill(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job || (await job.getState()) !== 'active') return false;
    await this.conn.set(this.killKey(id), '1', 'EX', 3600);
    return true;
  }

  async clear(): Promise<number> {
    let n = 0;
    for (const j of await this.list()) if (j.state !== 'active' && (await this.remove(j.spec.id))) n++;
    return n;
  }

  async logs(id: string): Promise<string> {
    const { logs } = await this.queue.getJobLogs(id, 0, -1, true);
    return logs.map((l) => `${l}\n`).join('');
  }

  async work(opts: WorkOptions): Promise<void> {
    const lockDuration = this.o.lockMs ?? 30_000;
    const workerConn = this.conn.duplicate();
    workerConn.on('error', () => {});
    const worker = new Worker(
      QUEUE,
      async (job: Job) => {
        const spec = job.data as JobSpec;
        const controller = new AbortController();
        const watch = setInterval(() => {
          this.conn.exists(this.killKey(spec.id)).then(
            (n) => n && controller.abort(),
            () => {},
          );
        }, KILL_POLL_MS);
        const stop = () => controller.abort();
        opts.signal.addEventListener('abort', stop, { once: true });
        await job.updateProgress({ worker: opts.name });
        try {
          const outcome = await opts.handler(spec, {
            signal: controller.signal,
            attempt: job.attemptsStarted ?? 1,
            log: async (line) => {
              await job.log(line);
            },
            progress: async (line) => {
              await job.updateProgress({ worker: opts.name, line });
            },
          });
          if (await this.conn.exists(this.killKey(spec.id)))
            throw new UnrecoverableError('cancelled by exp queue kill');
          if (outcome.state === 'failed') throw new UnrecoverableError(outcome.error ?? 'the experiment failed');
          return outcome;
        } finally {
          clearInterval(watch);
          opts.signal.removeEventListener('abort', stop);
          await this.conn.del(this.killKey(spec.id)).catch(() => 0);
        }
      },
      {
        connection: workerConn,
        prefix: this.o.prefix,
        concurrency: opts.concurrency,
        name: opts.name,
        lockDuration,
        stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
        maxStalledCount: 2,
        autorun: true,
      },
    );
    worker.on('error', () => {}); // connection errors: ioredis reconnects; BullMQ retries
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearInterval(poll);
        worker
          .close()
          .catch(() => {})
          .then(() => workerConn.disconnect())
          .then(resolve);
      };
      opts.signal.addEventListener('abort', finish, { once: true });
      const poll = setInterval(async () => {
        if (!opts.untilEmpty) return;
        const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized').catch(() => null);
        if (c && !c.waiting && !c.active && !c.delayed && !c.prioritized) finish();
      }, 500);
    });
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.conn.disconnect();
  }
}
