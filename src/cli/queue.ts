/** `lockstep exp queue …`, `exp run --queue` and `lockstep worker`: parse, call one use case, render. */
import os from 'node:os';
import { LockstepError } from '../errors.js';
import type { JobInfo } from '../queue/types.js';
import { openProject } from '../project.js';
import { drawTable } from './render.js';
import { errLine, out } from './options.js';

async function withQueue<T>(fn: (q: import('../queue/types.js').QueueBackend) => Promise<T>): Promise<T> {
  const { openQueue } = await import('../queue/open.js');
  const q = await openQueue((await openProject()).root);
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

const params = (j: JobInfo) =>
  j.spec.assignments
    .map((a) => `${a.key}=${typeof a.value === 'string' ? a.value : JSON.stringify(a.value)}`)
    .join(' ');

function byName(jobs: JobInfo[], name: string): JobInfo {
  const matches = jobs.filter((j) => j.spec.name === name || j.spec.id === name);
  const j = matches.at(-1);
  if (!j)
    throw new LockstepError(
      'usage',
      `no queued experiment named '${name}'`,
      'See them with `lockstep exp queue list`.',
    );
  return j;
}

export async function list(opts: { json?: boolean }): Promise<number> {
  const jobs = await withQueue((q) => q.list());
  if (opts.json) {
    out(JSON.stringify(jobs, null, 2));
    return 0;
  }
  if (!jobs.length) {
    out('The queue is empty (lockstep exp run --queue …).');
    return 0;
  }
  const body = jobs.map((j) => [
    j.spec.name,
    j.state === 'completed' && j.outcome && j.outcome !== 'success' ? j.outcome : j.state,
    j.worker ?? '-',
    j.progress ?? (j.error ? j.error.split('\n').at(-1)!.slice(0, 60) : '-'),
    j.spec.kind === 'warmup' ? `warm-up: ${j.spec.stages?.join(', ')}` : params(j) || '-',
    j.spec.baseline.slice(0, 7),
  ]);
  out(
    drawTable(
      ['experiment', 'state', 'worker', 'progress', 'params', 'baseline'],
      body,
      body[0]!.map(() => false),
    ),
  );
  return 0;
}

export async function status(opts: { json?: boolean }): Promise<number> {
  const jobs = await withQueue((q) => q.list());
  const counts = { waiting: 0, active: 0, completed: 0, failed: 0 };
  for (const j of jobs) counts[j.state]++;
  const workers = [...new Set(jobs.filter((j) => j.state === 'active').map((j) => j.worker ?? '?'))];
  if (opts.json) out(JSON.stringify({ ...counts, workers }, null, 2));
  else
    out(
      `${counts.waiting} waiting, ${counts.active} running${workers.length ? ` (on ${workers.join(', ')})` : ''}, ` +
        `${counts.completed} finished, ${counts.failed} failed`,
    );
  return 0;
}

export async function logs(name: string): Promise<number> {
  const text = await withQueue(async (q) => q.logs(byName(await q.list(), name).spec.id));
  process.stdout.write(text || '(no log yet)\n');
  return 0;
}

export async function remove(names: string[]): Promise<number> {
  return withQueue(async (q) => {
    const jobs = await q.list();
    for (const n of names) {
      const j = byName(jobs, n);
      if (!(await q.remove(j.spec.id)))
        throw new LockstepError('usage', `'${n}' is running`, 'Stop it first with `lockstep exp queue kill`.');
      out(`Removed ${j.spec.name}.`);
    }
    return 0;
  });
}

export async function kill(names: string[]): Promise<number> {
  return withQueue(async (q) => {
    const jobs = await q.list();
    for (const n of names) {
      const j = byName(jobs, n);
      if (!(await q.kill(j.spec.id)))
        throw new LockstepError(
          'usage',
          `'${n}' is not running (it is ${j.state})`,
          'Remove a waiting job with `exp queue remove`.',
        );
      out(`Asked ${j.worker ?? 'its worker'} to stop ${j.spec.name}.`);
    }
    return 0;
  });
}

export async function clear(): Promise<number> {
  const n = await withQueue((q) => q.clear());
  out(`Removed ${n} job${n === 1 ? '' : 's'}.`);
  return 0;
}

export async function enqueue(opts: {
  overrides: import('../exp/sweep.js').ParamOverride[];
  name?: string;
  json?: boolean;
}): Promise<number> {
  const { enqueueExperiments } = await import('../queue/enqueue.js');
  const r = await enqueueExperiments(process.cwd(), {
    overrides: opts.overrides,
    ...(opts.name ? { name: opts.name } : {}),
  });
  if (opts.json) {
    out(JSON.stringify(r, null, 2));
    return 0;
  }
  const exps = r.jobs.filter((j) => j.kind !== 'warmup');
  const warm = r.jobs.length - exps.length;
  errLine(
    `Queued ${exps.length} experiment${exps.length === 1 ? '' : 's'}` +
      `${warm ? ` and ${warm} warm-up job${warm === 1 ? '' : 's'} for shared stages` : ''}` +
      ` from ${r.baseline.slice(0, 7)} on ${r.queue}: ${exps.map((j) => j.name).join(', ')}.` +
      ' Start workers with `lockstep worker`.',
  );
  return 0;
}

export async function worker(opts: { concurrency?: string; name?: string; untilEmpty?: boolean }): Promise<number> {
  const { runWorker } = await import('../queue/worker.js');
  const { DEFAULT_BIN } = await import('../exp/run.js');
  const { parsePositiveInt } = await import('./options.js');
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  const name = opts.name ?? `${os.hostname()}:${process.pid}`;
  try {
    await runWorker(await openProject(), {
      name,
      concurrency: parsePositiveInt(opts.concurrency, '--concurrency', 1),
      bin: DEFAULT_BIN,
      signal: controller.signal,
      untilEmpty: !!opts.untilEmpty,
      onEvent: (e) => {
        if (e.type === 'ready') errLine(`worker ${e.worker} waiting for jobs on ${e.queue}`);
        if (e.type === 'job')
          errLine(
            `${e.worker}: ${e.kind === 'warmup' ? 'warm-up' : 'experiment'} ` +
              `${e.name}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`,
          );
        if (e.type === 'done')
          errLine(`${e.worker}: ${e.name} ${e.state}${e.error ? `: ${e.error.split('\n').at(-1)}` : ''}`);
      },
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', stop);
  }
  return controller.signal.aborted ? 130 : 0;
}
