/**
 * Experiments queued for workers on other machines (or on this one). One queue interface, two
 * backends: BullMQ on Redis (`queue.url: redis://…`) and an embedded queue in the repository's git
 * folder when no queue is configured. Both pass one contract suite (test/contract/queue-contract.ts).
 */
import type { Assignment } from '../exp/sweep.js';

/** What a worker needs to run one experiment: the commit, the params it sets, its name. */
export interface JobSpec {
  id: string;
  name: string;
  /** Full sha of the baseline commit; workers fetch it from `gitRemote` when their clone lacks it. */
  baseline: string;
  assignments: Assignment[];
  /** Where workers fetch the baseline and push the experiment's ref (a git remote name or URL). */
  gitRemote: string;
  created: string;
  /**
   * 'warmup': reproduce `stages` that several experiments of the sweep share, once for all workers,
   * and push their outputs and run-cache entries; no experiment record. Default 'experiment'.
   */
  kind?: 'experiment' | 'warmup';
  stages?: string[];
  /** Jobs (warm-ups) that must be done before this one starts. */
  after?: string[];
}

export type JobState = 'waiting' | 'active' | 'completed' | 'failed';

export interface JobInfo {
  spec: JobSpec;
  state: JobState;
  /** Worker name while active, or the one that finished it. */
  worker?: string;
  /** Times a worker took the job (more than 1 after a worker died mid-job). */
  attempts: number;
  /** Latest progress line a worker reported (stage, epoch). */
  progress?: string;
  /** The experiment's state when the job finished: success, failed (its training failed), cancelled. */
  outcome?: string;
  error?: string;
  updated: string;
}

export interface JobContext {
  signal: AbortSignal;
  attempt: number;
  log(line: string): Promise<void>;
  progress(line: string): Promise<void>;
}

export interface JobOutcome {
  /** 'success' or 'failed' (the experiment was recorded as failed: no retry). */
  state: 'success' | 'failed';
  sha?: string;
  error?: string;
}

export interface WorkOptions {
  name: string;
  concurrency: number;
  signal: AbortSignal;
  handler: (job: JobSpec, ctx: JobContext) => Promise<JobOutcome>;
  /** Stop when the queue has no waiting job (for tests and one-shot CI workers). */
  untilEmpty?: boolean;
}

export interface QueueBackend {
  readonly kind: 'redis' | 'local';
  readonly display: string;
  add(jobs: readonly JobSpec[]): Promise<void>;
  list(): Promise<JobInfo[]>;
  /** Remove a job that is not running; false when there is none by that id. */
  remove(id: string): Promise<boolean>;
  /** Ask the worker running the job to stop it; false when it is not running. */
  kill(id: string): Promise<boolean>;
  /** Remove every job that is not running; returns how many. */
  clear(): Promise<number>;
  logs(id: string): Promise<string>;
  work(opts: WorkOptions): Promise<void>;
  close(): Promise<void>;
}
