/**
 * By-hand benchmark of issue 18: the 15-run sweep (seeds 42,100,2025 x data v1,v2,v3,v1+v2,v1+v2+v3) of
 * the real CIFAR-10 pipeline with short training, run (a) as `exp run -j 2` in one clone and (b) as
 * `exp run --queue` with 2 `lockstep worker` processes (concurrency 1), each in its own clone, over a
 * real Redis on 127.0.0.1, a bare git repository as the git remote and a folder as the lockstep remote.
 *
 *   node dist/bench/queue-sweep.js [--records 1000] [--partition 1600] [--epochs 1] [--modes local,queue]
 *                                  [--archive ../shared/datasets/cifar-10-binary.tar.gz] [--keep]
 *
 * The data is a real subset: the first `--records` records of each batch of the real archive (6 x that
 * many images), partitions of `--partition` images. Reports per mode the wall time and the stage runs
 * (ran / restored; 75 = 15 x 5 stages is what no sharing would run), and for the queue the overhead per
 * job from the worker's `timing` log line and BullMQ's completion time:
 *   before = shared stages ready -> the experiment started (worktree, planning)
 *   after  = the experiment recorded -> job completed (outputs and run-cache to the lockstep remote,
 *            the ref to the git remote, BullMQ's completion)
 *   checks = job taken -> its ref and baseline checked against the git remote (before the wait for
 *            warm-ups; reported apart and in the "with checks" figure)
 * with the median of each part (the worker's finer timing marks), and, apart, the wait for warm-up jobs
 * and the restore of shared stages from the remote.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import YAML from 'yaml';
import { arg, CLI, median, REPO_ROOT } from './lib.js';

const SEEDS = '42,100,2025';
const DATA = 'v1,v2,v3,v1+v2,v1+v2+v3';
const RECORD = 3073;
const records = Number(arg('records', '1000'));
const partition = Number(arg('partition', '1600'));
const epochs = Number(arg('epochs', '1'));
const modes = arg('modes', 'local,queue').split(',');
const archive = path.resolve(arg('archive', path.join(REPO_ROOT, '../shared/datasets/cifar-10-binary.tar.gz')));
const keep = process.argv.includes('--keep');

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const sh = (cmd: string, args: string[], cwd: string) => execa(cmd, args, { cwd, stdio: 'pipe' });

async function md5(file: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The first `records` records of every batch of the real archive, as a CIFAR-10 binary .tar.gz. */
async function subsetArchive(work: string): Promise<string> {
  const dir = path.join(work, 'subset');
  await fs.mkdir(dir);
  await sh('tar', ['-xzf', archive, '-C', dir], dir);
  const batches = path.join(dir, 'cifar-10-batches-bin');
  for (const f of await fs.readdir(batches))
    if (f.endsWith('.bin')) await fs.truncate(path.join(batches, f), records * RECORD);
  const out = path.join(work, 'cifar-subset.tar.gz');
  await sh('tar', ['-czf', out, '-C', dir, 'cifar-10-batches-bin'], dir);
  await fs.rm(dir, { recursive: true });
  return out;
}

/** A git repository holding this project's committed tree with the benchmark's params. */
async function makeProject(dir: string, data: string): Promise<void> {
  await fs.mkdir(dir);
  const tar = await execa('git', ['archive', '--format=tar', 'HEAD'], { cwd: REPO_ROOT, encoding: 'buffer' });
  await execa('tar', ['-x', '-C', dir], { input: tar.stdout });
  const doc = YAML.parseDocument(await fs.readFile(path.join(dir, 'params.yaml'), 'utf8'));
  doc.setIn(['pull', 'url'], `file://${data}`);
  doc.setIn(['pull', 'md5'], await md5(data));
  doc.deleteIn(['pull', 'mirrors']);
  doc.setIn(['pull', 'records_per_batch'], records);
  doc.setIn(['partition', 'size'], partition);
  doc.setIn(['train', 'epochs'], epochs);
  doc.setIn(['evaluate', 'samples'], 16);
  await fs.writeFile(path.join(dir, 'params.yaml'), doc.toString());
  await fs.appendFile(path.join(dir, '.gitignore'), '/node_modules\n/results/\n');
  await fs.rm(path.join(dir, 'results'), { recursive: true, force: true });
  await fs.rm(path.join(dir, 'pipeline.lock'), { force: true });
  for (const args of [
    ['init', '-q', '-b', 'main'],
    ['config', 'user.email', 'bench@example.com'],
    ['config', 'user.name', 'bench'],
    ['add', '-A'],
    ['commit', '-qm', 'benchmark project'],
  ])
    await sh('git', args, dir);
}

async function linkModules(dir: string): Promise<void> {
  await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
}

interface Done {
  name: string;
  state: string;
  stages: { ran: string[]; restored: string[] };
}

function countStages(done: { ran: string[]; restored: string[] }[]): string {
  const by = new Map<string, { ran: number; restored: number }>();
  for (const d of done) {
    for (const s of d.ran) by.set(s, { ran: (by.get(s)?.ran ?? 0) + 1, restored: by.get(s)?.restored ?? 0 });
    for (const s of d.restored) by.set(s, { ran: by.get(s)?.ran ?? 0, restored: (by.get(s)?.restored ?? 0) + 1 });
  }
  const ran = [...by.values()].reduce((a, c) => a + c.ran, 0);
  return `${ran} stage runs (${75 - ran} of 75 saved): ${[...by].map(([s, c]) => `${s} ran ${c.ran}, restored ${c.restored}`).join('; ')}`;
}

async function local(work: string, data: string): Promise<void> {
  const dir = path.join(work, 'local');
  await makeProject(dir, data);
  await linkModules(dir);
  const before = load();
  const t0 = Date.now();
  const r = await execa(
    process.execPath,
    [CLI, 'exp', 'run', '--json', '-j', '2', '--seed', SEEDS, '--data', DATA, '-n', 'local'],
    { cwd: dir, reject: false },
  );
  const wall = (Date.now() - t0) / 1000;
  const done = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; result?: Done })
    .flatMap((e) => (e.type === 'done' && e.result ? [e.result] : []));
  console.log(
    `local  exp run -j 2: wall ${wall.toFixed(0)} s, exit ${r.exitCode}, load before ${before}, after ${load()}`,
  );
  console.log(
    `  ${done.filter((d) => d.state === 'success').length}/15 succeeded; ${countStages(done.map((d) => d.stages))}`,
  );
  if (r.exitCode !== 0) console.log(r.stderr.slice(-2000));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startRedis(work: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const bin = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(
    (p) => spawnSync(p, ['--version']).status === 0,
  );
  if (!bin) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  const dir = path.join(work, 'redis');
  await fs.mkdir(dir);
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => res(!!s.end()));
      s.on('error', () => res(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const parseTiming = (logs: string[]): Record<string, number> | null => {
  const line = logs.find((l) => l.startsWith('timing '));
  if (!line) return null;
  return Object.fromEntries(
    line
      .slice(7)
      .split(' ')
      .map((kv) => kv.split('=') as [string, string])
      .map(([k, v]) => [k, Number(v)]),
  );
};

async function queued(work: string, data: string): Promise<void> {
  const redis = await startRedis(work);
  const workers: ChildProcess[] = [];
  try {
    const author = path.join(work, 'author');
    await makeProject(author, data);
    await linkModules(author);
    const bare = path.join(work, 'origin.git');
    const store = path.join(work, 'store');
    await fs.mkdir(store);
    await sh('git', ['init', '-q', '--bare', '-b', 'main', bare], work);
    await fs.appendFile(
      path.join(author, '.lockstep/config.yaml'),
      `core:\n  remote: store\nremote:\n  store:\n    url: ${store}\nqueue:\n  url: ${redis.url}\n  name: bench\n`,
    );
    await sh('git', ['commit', '-qam', 'queue and remote'], author);
    await sh('git', ['remote', 'add', 'origin', bare], author);
    await sh('git', ['push', '-q', 'origin', 'main'], author);
    const clones: string[] = [];
    for (const name of ['worker-a', 'worker-b']) {
      const dir = path.join(work, name);
      await sh('git', ['clone', '-q', bare, dir], work);
      await sh('git', ['config', 'user.email', 'bench@example.com'], dir);
      await sh('git', ['config', 'user.name', name], dir);
      await linkModules(dir);
      clones.push(dir);
    }
    const before = load();
    const t0 = Date.now();
    const q = await execa(
      process.execPath,
      [CLI, 'exp', 'run', '--queue', '--seed', SEEDS, '--data', DATA, '-n', 'q'],
      {
        cwd: author,
        reject: false,
        all: true,
      },
    );
    if (q.exitCode !== 0) throw new Error(`exp run --queue failed:\n${q.all}`);
    const tQueued = Date.now();
    const exits = clones.map((dir, i) => {
      const name = `worker-${'ab'[i]}`;
      const child = spawn(process.execPath, [CLI, 'worker', '--until-empty', '--name', name], {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      workers.push(child);
      let err = '';
      child.stderr?.on('data', (b: Buffer) => {
        err += b.toString();
      });
      return new Promise<void>((res) => child.once('exit', (code) => res(void (code ? console.log(err) : 0))));
    });
    await Promise.all(exits);
    const wall = (Date.now() - t0) / 1000;
    console.log(
      `queue  exp run --queue + 2 workers: wall ${wall.toFixed(0)} s (queueing ${((tQueued - t0) / 1000).toFixed(1)} s), load before ${before}, after ${load()}`,
    );

    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue('lockstep-exp', { connection: conn, prefix: 'bench' });
    try {
      const jobs = await queue.getJobs(['completed', 'failed'], 0, -1, true);
      const stages: { ran: string[]; restored: string[] }[] = [];
      const befores: number[] = [];
      const afters: number[] = [];
      // the parts of before and after, from the finer marks of the timing line (when the worker logs them)
      const parts = new Map<string, number[]>();
      const part = (name: string, from: number | undefined, to: number | undefined) => {
        if (from === undefined || to === undefined) return;
        parts.set(name, [...(parts.get(name) ?? []), to - from]);
      };
      const rows: string[] = [];
      for (const job of jobs.sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0))) {
        const { logs } = await queue.getJobLogs(job.id!, 0, -1, true);
        for (const l of logs) {
          const m = /^stages ran: (.*); restored: (.*)$/.exec(l);
          if (m)
            stages.push({
              ran: m[1] === '-' ? [] : m[1]!.split(', '),
              restored: m[2] === '-' ? [] : m[2]!.split(', '),
            });
        }
        const t = parseTiming(logs);
        const kind = (job.data as { kind?: string }).kind ?? 'experiment';
        const s = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
        if (!t || !job.finishedOn) {
          rows.push(`  ${job.name} ${kind}: no timing (${job.failedReason ?? 'no log'})`);
          continue;
        }
        const before = t.start! - t.ready!;
        const after = job.finishedOn - t.end!;
        if (kind === 'experiment') {
          befores.push(before);
          afters.push(after);
          part('checks', t.taken, t.checked);
          part('before: worktree', t.ready, t.worktree);
          part('before: plan', t.worktree, t.planned);
          part('before: to start', t.planned, t.start);
          part('after: workspace removal', t.end, t.returned);
          part('after: outputs push', t.returned, t.pushed);
          part('after: ref push', t.pushed, t.refPushed);
          part('after: worktree removal', t.refPushed, t.cleaned);
          part('after: log and completion', t.cleaned, job.finishedOn);
        }
        rows.push(
          `  ${job.name.padEnd(16)} ${job.processedBy ?? ''} ${kind.padEnd(10)} wait ${s(t.ready! - t.taken!)}, before ${s(before)}, ` +
            `${kind === 'experiment' ? `restore ${s((t.firstStage ?? t.end!) - t.start!)}, ` : ''}run ${s(t.end! - t.start!)}, after ${s(after)}`,
        );
      }
      console.log(
        `  ${jobs.filter((j) => j.finishedOn && !j.failedReason).length}/${jobs.length} jobs completed; ${countStages(stages)}`,
      );
      const total = befores.map((b, i) => b + afters[i]!);
      console.log(
        `  queue overhead per experiment job (before + after): median ${(median(total) / 1000).toFixed(2)} s, ` +
          `max ${(Math.max(...total) / 1000).toFixed(2)} s (before: median ${(median(befores) / 1000).toFixed(2)} s; after: median ${(median(afters) / 1000).toFixed(2)} s); target < 1 s`,
      );
      const checks = parts.get('checks') ?? [];
      if (checks.length === total.length) {
        const all = total.map((x, i) => x + checks[i]!);
        console.log(
          `  with the checks: median ${(median(all) / 1000).toFixed(2)} s, max ${(Math.max(...all) / 1000).toFixed(2)} s`,
        );
      }
      if (parts.size > 0)
        console.log(
          `  parts (median): ${[...parts].map(([k, v]) => `${k} ${(median(v) / 1000).toFixed(2)} s`).join('; ')}`,
        );
      for (const r of rows) console.log(r);
    } finally {
      await queue.close();
      conn.disconnect(); // a connection handed to BullMQ is the caller's to close
    }
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGTERM');
    await redis.stop();
  }
}

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-bench-queue-'));
console.log(
  `queue-sweep: ${records} records per batch (${6 * records} real images), partitions of ${partition}, ${epochs} epoch(s); ${work}`,
);
try {
  const data = await subsetArchive(work);
  if (modes.includes('local')) await local(work, data);
  if (modes.includes('queue')) await queued(work, data);
} finally {
  if (!keep) await fs.rm(work, { recursive: true, force: true });
}
