/**
 * By-hand benchmark of experiments: `node dist/bench/exp.js [records=1000] [experiments=10]`.
 *  1. `exp show` over N generated records (written in one `git fast-import`): in-process listing +
 *     table, and the real CLI (table and --json), wall time. Target < 1 s.
 *  2. Overhead per experiment on a no-op pipeline (its one stage restored/fresh): wall and CPU time of
 *     `exp run` over M experiments with -j 1, and the parts (workspace copy, record write) in-process.
 *     Target < 200 ms (issue 15). On a shared machine, CPU time is the steadier figure.
 */
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listExperiments, writeRecord, type RecordMeta } from '../src/exp/records.js';
import { showTable } from '../src/exp/show.js';
import { renderText } from '../src/cli/exp-render.js';
import { createWorkspace, trackedFiles } from '../src/exp/workspace.js';
import { asMd5 } from '../src/hash/types.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/lockstep.js');
const N = Number(process.argv[2] ?? 1000);
const M = Number(process.argv[3] ?? 10);

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function gitRepo(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-bench-exp-'));
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), text);
  }
  const git = (...args: string[]) => execa('git', args, { cwd: dir });
  await git('init', '-q', '-b', 'main');
  await git('add', '.');
  await git('-c', 'user.name=bench', '-c', 'user.email=b@b', 'commit', '-qm', 'init');
  return dir;
}

function fakeMeta(i: number, baseline: string): RecordMeta {
  const seeds = [42, 100, 2025];
  const datas = ['v1', 'v2', 'v3', 'v1+v2', 'v1+v2+v3'];
  const params: Record<string, unknown> = { seed: seeds[i % 3], data: datas[i % 5] };
  for (let k = 0; k < 18; k++) params[`train.k${k}`] = k;
  const lock = {
    schema: '2.0' as const,
    stages: Object.fromEntries(
      ['pull', 'partition', 'prepare', 'train', 'evaluate'].map((s) => [
        s,
        {
          cmd: `node stages/${s}.ts`,
          outs: [{ path: `out/${s}`, hash: 'md5' as const, md5: asMd5(`${i}`.padStart(32, '0')), size: 1 }],
        },
      ]),
    ),
  };
  return {
    version: 1,
    name: `exp-${i}`,
    baseline,
    created: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    state: i % 50 === 7 ? 'failed' : 'success',
    overrides: [
      { file: 'params.yaml', key: 'seed', value: params.seed },
      { file: 'params.yaml', key: 'data', value: params.data },
    ],
    params: { 'params.yaml': params },
    metrics: {
      'metrics/eval.json': { accuracy: 0.5 + (i % 37) / 100, loss: 1 - (i % 37) / 100, top5: 0.9, f1: 0.6, ece: 0.02 },
    },
    lock,
  };
}

/** N records in one `git fast-import` stream: a commit per record, ref written by fast-import. */
async function generateRecords(dir: string, n: number): Promise<void> {
  const baseline = (await execa('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
  const chunks: string[] = [];
  for (let i = 0; i < n; i++) {
    const meta = `${JSON.stringify(fakeMeta(i, baseline), null, 1)}\n`;
    const msg = `lockstep exp exp-${i}\n`;
    chunks.push(
      `commit refs/exps/${baseline}/exp-${i}\ncommitter bench <b@b> ${1767225600 + i} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}from ${baseline}\n` +
        `M 100644 inline .lockstep/exp.json\ndata ${Buffer.byteLength(meta)}\n${meta}\n`,
    );
  }
  await execa('git', ['fast-import', '--quiet'], { cwd: dir, input: chunks.join('') });
}

async function benchShow(): Promise<void> {
  const dir = await gitRepo({ 'pipeline.yaml': 'stages: {}\n', 'params.yaml': 'seed: 42\ndata: v1\n' });
  let t0 = process.hrtime.bigint();
  await generateRecords(dir, N);
  console.log(`generated ${N} records with git fast-import in ${ms(t0).toFixed(0)} ms`);
  const inproc: number[] = [];
  for (let r = 0; r < 5; r++) {
    t0 = process.hrtime.bigint();
    const records = await listExperiments(dir);
    const table = showTable(records, {});
    renderText(table, { width: 160 });
    inproc.push(ms(t0));
    if (records.length !== N) throw new Error(`listed ${records.length} of ${N}`);
  }
  console.log(
    `exp show in-process (list + table + render), ${N} records: median ${median(inproc).toFixed(0)} ms (runs: ${inproc.map((x) => x.toFixed(0)).join(', ')})`,
  );
  const grouped: number[] = [];
  for (let r = 0; r < 3; r++) {
    t0 = process.hrtime.bigint();
    showTable(await listExperiments(dir), { groupBy: ['data'], agg: ['mean', 'std', 'min', 'max'] });
    grouped.push(ms(t0));
  }
  console.log(`exp show --group-by data in-process: median ${median(grouped).toFixed(0)} ms`);
  for (const args of [
    ['exp', 'show', '--width', '160'],
    ['exp', 'show', '--json'],
    ['exp', 'show', '--group-by', 'data'],
  ]) {
    const walls: number[] = [];
    for (let r = 0; r < 3; r++) {
      t0 = process.hrtime.bigint();
      const res = await execa(process.execPath, [CLI, ...args], { cwd: dir });
      walls.push(ms(t0));
      if (!res.stdout) throw new Error('no output');
    }
    console.log(`lockstep ${args.join(' ')} (CLI process, wall): median ${median(walls).toFixed(0)} ms`);
  }
  if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
  else await fs.rm(dir, { recursive: true, force: true });
}

async function cpuOf(cmd: string, args: string[], cwd: string): Promise<{ wall: number; cpu: number }> {
  // GNU time's user+sys of the process tree; the wall clock swings with the machine's load
  const t0 = process.hrtime.bigint();
  const r = await execa('/usr/bin/time', ['-f', '%U %S', cmd, ...args], { cwd, reject: false });
  const wall = ms(t0);
  const last = r.stderr.trim().split('\n').pop() ?? '0 0';
  const [u, s] = last.split(' ').map(Number);
  return { wall, cpu: ((u ?? 0) + (s ?? 0)) * 1000 };
}

async function benchOverhead(): Promise<void> {
  const dir = await gitRepo({
    'pipeline.yaml': 'stages:\n  noop:\n    cmd: echo hi > out.txt\n    params: [seed]\n    outs: [out.txt]\n',
    'params.yaml': 'seed: 1\n',
    '.gitignore': '.cache/\n/out.txt\n',
  });
  await execa(process.execPath, [CLI, 'repro'], { cwd: dir });
  await execa('git', ['add', 'pipeline.lock'], { cwd: dir });
  await execa('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'lock'], { cwd: dir });
  const hasTime = await fs.access('/usr/bin/time').then(
    () => true,
    () => false,
  );
  const measure = (args: string[]) =>
    hasTime
      ? cpuOf(process.execPath, [CLI, ...args], dir)
      : (async () => {
          const t0 = process.hrtime.bigint();
          await execa(process.execPath, [CLI, ...args], { cwd: dir });
          return { wall: ms(t0), cpu: NaN };
        })();
  const repro = await measure(['repro', '-q']);
  console.log(
    `plain no-op 'lockstep repro' in the project: wall ${repro.wall.toFixed(0)} ms, cpu ${repro.cpu.toFixed(0)} ms`,
  );
  const seeds = Array.from({ length: M }, (_, i) => 1000 + i).join(',');
  const first = await measure(['exp', 'run', '-q', '--seed', seeds]);
  console.log(
    `exp run, ${M} experiments -j 1, the stage runs in each: wall ${(first.wall / M).toFixed(0)} ms/exp, cpu ${(first.cpu / M).toFixed(0)} ms/exp`,
  );
  await execa(process.execPath, [CLI, 'exp', 'remove', '--all'], { cwd: dir });
  // the same sweep again: every stage is restored from the run-cache, so what remains is overhead
  const again = await measure(['exp', 'run', '-q', '--seed', seeds]);
  console.log(
    `exp run, ${M} experiments -j 1, all restored from the run-cache (= overhead): wall ${(again.wall / M).toFixed(0)} ms/exp, cpu ${(again.cpu / M).toFixed(0)} ms/exp`,
  );
  const par = await measure(['exp', 'run', '-q', '-j', '2', '--seed', seeds.replace(/10/g, '20')]);
  console.log(`exp run, ${M} experiments -j 2, stage runs: wall ${(par.wall / M).toFixed(0)} ms/exp`);
  // the engine's floor: one repro in a fresh copy of the project that restores from the run-cache
  const tracked = await trackedFiles(dir);
  const floor: number[] = [];
  for (let i = 0; i < 3; i++) {
    const ws = await createWorkspace(dir, tracked);
    const r = hasTime
      ? await execa('/usr/bin/time', ['-f', '%U %S', process.execPath, CLI, 'repro', '-q'], {
          cwd: ws.dir,
          env: { LOCKSTEP_CACHE_DIR: path.join(dir, '.cache') },
        })
      : null;
    const [u, sy] = (r?.stderr.trim().split('\n').pop() ?? '0 0').split(' ').map(Number);
    floor.push(((u ?? 0) + (sy ?? 0)) * 1000);
    await ws.remove();
  }
  console.log(
    `engine floor: 'lockstep repro' in a fresh workspace restoring from the run-cache: cpu median ${median(floor).toFixed(0)} ms`,
  );
  // the parts of the overhead this module owns, in-process
  const wsTimes: number[] = [];
  const recTimes: number[] = [];
  const baseline = (await execa('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
  for (let i = 0; i < M; i++) {
    let t0 = process.hrtime.bigint();
    const ws = await createWorkspace(dir, tracked);
    wsTimes.push(ms(t0));
    t0 = process.hrtime.bigint();
    await writeRecord(dir, {
      meta: { ...fakeMeta(i, baseline), name: `bench-${i}` },
      files: [{ path: 'params.yaml', abs: path.join(ws.dir, 'params.yaml') }],
    });
    recTimes.push(ms(t0));
    await ws.remove();
  }
  console.log(
    `in-process parts: workspace copy median ${median(wsTimes).toFixed(1)} ms, record write (6 git plumbing calls) median ${median(recTimes).toFixed(1)} ms`,
  );
  await fs.rm(dir, { recursive: true, force: true });
}

console.log(
  `node ${process.version}, ${os.cpus().length} cpus, load ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
await benchShow();
if (!process.env.BENCH_SHOW_ONLY) await benchOverhead();
