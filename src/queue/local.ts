/**
 * The embedded queue: files in a folder (by default `<git dir>/lockstep-queue`, so every clone's
 * worktrees share it) for workers on this machine, with no server. A job is one JSON file replaced
 * atomically; a worker claims it by creating `claims/<id>` (mkdir is atomic), and a claim whose
 * worker process is gone is taken back, so a worker killed mid-job leaves the job to another.
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { JobInfo, JobOutcome, JobSpec, QueueBackend, WorkOptions } from './types.js';

const MAX_ATTEMPTS = 3;
const POLL_MS = 200;

interface Claim {
  pid: number;
  /** /proc start time of the worker, so a reused pid is not taken for the worker. */
  start: string;
  worker: string;
}

function procStart(pid: number): string {
  try {
    // field 22 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function alive(c: Claim): boolean {
  try {
    process.kill(c.pid, 0);
  } catch {
    return false;
  }
  const start = procStart(c.pid);
  return start === '' || start === c.start;
}

const now = () => new Date().toISOString();
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export class LocalQueue implements QueueBackend {
  readonly kind = 'local' as const;
  constructor(readonly dir: string) {}
  get display(): string {
    return `local queue ${this.dir}`;
  }

  private jobFile = (id: string) => path.join(this.dir, 'jobs', `${id}.json`);
  private claimDir = (id: string) => path.join(this.dir, 'claims', id);
  private killFile = (id: string) => path.join(this.dir, 'kill', id);
  private logFile = (id: string) => path.join(this.dir, 'logs', `${id}.log`);

  private async read(id: string): Promise<JobInfo | null> {
    const text = await fs.readFile(this.jobFile(id), 'utf8').catch(() => null);
    if (text === null) return null;
    try {
      return JSON.parse(text) as JobInfo;
    } catch {
      return null;
    }
  }

  private async write(info: JobInfo): Promise<void> {
    await writeFileAtomic(this.jobFile(info.spec.id), `${JSON.stringify({ ...info, updated: now() })}\n`);
  }

  async add(jobs: readonly JobSpec[]): Promise<void> {
    for (const spec of jobs) await this.write({ spec, state: 'waiting', attempts: 0, updated: now() });
  }

  private async claimOf(id: string): Promise<Claim | null> {
    const text = await fs.readFile(path.join(this.claimDir(id), 'owner.json'), 'utf8').catch(() => null);
    if (text === null) return existsSync(this.claimDir(id)) ? { pid: -1, start: '', worker: '?' } : null;
    return JSON.parse(text) as Claim;
  }

  /**
   * Put jobs whose worker died back in the queue (or fail them after MAX_ATTEMPTS takes). `info` may be
   * stale (read before its worker finished): the decision is taken again under the job's claim, which
   * this process takes for itself (a dead worker's claim is first moved aside by one atomic rename, so
   * two processes never both recover the same job), on a fresh read of the job file.
   */
  private async recoverStalled(info: JobInfo): Promise<JobInfo> {
    if (info.state !== 'active') return info;
    const id = info.spec.id;
    const claim = await this.claimOf(id);
    if (claim && (claim.pid === -1 || alive(claim))) return info;
    const fresh = async () => (await this.read(id)) ?? info;
    if (claim) {
      const aside = `${this.claimDir(id)}.dead-${process.pid}-${Math.random().toString(36).slice(2)}`;
      try {
        await fs.rename(this.claimDir(id), aside);
      } catch {
        return fresh(); // another process moved it first, or the worker finished
      }
      await fs.rm(aside, { recursive: true, force: true });
    }
    try {
      await fs.mkdir(path.join(this.dir, 'claims'), { recursive: true });
      await fs.mkdir(this.claimDir(id));
    } catch {
      return fresh(); // a worker or another recovery holds the job now
    }
    try {
      const cur = await this.read(id);
      if (cur?.state !== 'active') return cur ?? info; // it finished between the read and now
      const next: JobInfo =
        cur.attempts >= MAX_ATTEMPTS
          ? { ...cur, state: 'failed', error: `its worker died ${cur.attempts} times` }
          : { ...cur, state: 'waiting', progress: `worker ${cur.worker ?? '?'} died; waiting for another` };
      await this.write(next);
      return next;
    } finally {
      await fs.rm(this.claimDir(id), { recursive: true, force: true });
    }
  }

  async list(): Promise<JobInfo[]> {
    const names = await fs.readdir(path.join(this.dir, 'jobs')).catch(() => [] as string[]);
    const out: JobInfo[] = [];
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      const info = await this.read(n.slice(0, -5));
      if (info) out.push(await this.recoverStalled(info));
    }
    return out.sort((a, b) => a.spec.created.localeCompare(b.spec.created) || a.spec.name.localeCompare(b.spec.name));
  }

  async remove(id: string): Promise<boolean> {
    const info = await this.read(id);
    if (!info || info.state === 'active') return false;
    await fs.rm(this.jobFile(id), { force: true });
    await fs.rm(this.logFile(id), { force: true });
    return true;
  }

  async kill(id: string): Promise<boolean> {
    const info = await this.read(id);
    if (info?.state !== 'active') return false;
    await writeFileAtomic(this.killFile(id), now());
    return true;
  }

  async clear(): Promise<number> {
    let n = 0;
    for (const j of await this.list()) if (j.state !== 'active' && (await this.remove(j.spec.id))) n++;
    return n;
  }

  async logs(id: string): Promise<string> {
    return fs.readFile(this.logFile(id), 'utf8').catch(() => '');
  }

  /** Take the oldest waiting job, or null. */
  private async take(worker: string): Promise<JobInfo | null> {
    const all = await this.list();
    const state = new Map(all.map((j) => [j.spec.id, j.state]));
    const ready = (j: JobInfo) =>
      (j.spec.after ?? []).every((id) => state.get(id) !== 'waiting' && state.get(id) !== 'active');
    // Jobs whose warm-ups are done first, so one worker never sits on a job that waits for another.
    for (const info of [...all.filter(ready), ...all.filter((j) => !ready(j))]) {
      if (info.state !== 'waiting') continue;
      await fs.mkdir(path.join(this.dir, 'claims'), { recursive: true });
      try {
        await fs.mkdir(this.claimDir(info.spec.id));
      } catch {
        continue; // another worker got it first
      }
      const claim: Claim = { pid: process.pid, start: procStart(process.pid), worker };
      await writeFileAtomic(path.join(this.claimDir(info.spec.id), 'owner.json'), JSON.stringify(claim));
      const fresh = await this.read(info.spec.id);
      if (fresh?.state !== 'waiting') {
        await fs.rm(this.claimDir(info.spec.id), { recursive: true, force: true });
        continue;
      }
      const active: JobInfo = { ...fresh, state: 'active', worker, attempts: fresh.attempts + 1 };
      delete active.progress;
      await this.write(active);
      return active;
    }
    return null;
  }

  async work(opts: WorkOptions): Promise<void> {
    const running = new Set<Promise<void>>();
    while (!opts.signal.aborted) {
      if (running.size >= opts.concurrency) {
        await Promise.race(running);
        continue;
      }
      const job = await this.take(opts.name);
      if (!job) {
        if (opts.untilEmpty && running.size === 0) {
          const left = (await this.list()).some((j) => j.state === 'waiting' || j.state === 'active');
          if (!left) break;
        }
        await sleep(POLL_MS, opts.signal);
        continue;
      }
      const p = this.runOne(job, opts).finally(() => running.delete(p));
      running.add(p);
    }
    await Promise.all(running);
  }

  private async runOne(job: JobInfo, opts: WorkOptions): Promise<void> {
    const id = job.spec.id;
    const controller = new AbortController();
    const stop = () => controller.abort();
    opts.signal.addEventListener('abort', stop, { once: true });
    const watch = setInterval(() => {
      if (existsSync(this.killFile(id))) controller.abort();
    }, POLL_MS);
    let outcome: JobOutcome;
    try {
      outcome = await opts.handler(job.spec, {
        signal: controller.signal,
        attempt: job.attempts,
        log: async (line) => {
          await fs.mkdir(path.dirname(this.logFile(id)), { recursive: true });
          await fs.appendFile(this.logFile(id), `${line}\n`);
        },
        progress: async (line) => {
          const cur = await this.read(id);
          if (cur?.state === 'active') await this.write({ ...cur, progress: line });
        },
      });
    } catch (e) {
      outcome = { state: 'failed', error: (e as Error).message };
    } finally {
      clearInterval(watch);
      opts.signal.removeEventListener('abort', stop);
    }
    const killed = existsSync(this.killFile(id));
    const cur = (await this.read(id)) ?? job;
    if (opts.signal.aborted && !killed) {
      // The worker is stopping (Ctrl-C): the job goes back for another worker.
      await this.write({ ...cur, state: 'waiting', progress: `worker ${opts.name} stopped` });
    } else {
      const done: JobInfo = {
        ...cur,
        state: outcome.state === 'success' ? 'completed' : 'failed',
        outcome: killed ? 'cancelled' : outcome.state,
      };
      if (outcome.error) done.error = outcome.error;
      delete done.progress;
      await this.write(done);
    }
    await fs.rm(this.killFile(id), { force: true });
    await fs.rm(this.claimDir(id), { recursive: true, force: true });
  }

  async close(): Promise<void> {}
}
