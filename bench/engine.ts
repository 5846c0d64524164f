/**
 * Engine benchmark (issue 2), run by hand: `npm run build && node dist/bench/engine.js [--runs 5] [--dir /tmp/x]`.
 * A generated project with one stage on a directory of 60,000 files of 3 KiB and one on a 1 GiB file:
 * cold status (first hashing), warm no-op repro, repro after changing one file; and a pipeline of 500
 * small stages: no-op repro and status (`--only stages`: that part alone). Prints medians and peak RSS.
 */
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, arg, measure, repeat } from './lib.js';

const runs = Number(arg('runs', '5'));
const root = arg('dir', '/tmp/lockstep-bench-engine');
const FILES = Number(arg('files', '60000'));
const BIG_MB = Number(arg('big-mb', '1024'));

async function generate(): Promise<void> {
  await fs.rm(root, { recursive: true, force: true });
  await fs.mkdir(root, { recursive: true });
  for (let c = 0; c < 10; c++) await fs.mkdir(path.join(root, 'data', `class${c}`), { recursive: true });
  const chunk = randomBytes(3072 * 1000);
  for (let i = 0; i < FILES; i++) {
    const buf = Buffer.from(chunk.subarray((i % 1000) * 3072, ((i % 1000) + 1) * 3072));
    buf.writeUInt32LE(i, 0); // every file distinct
    await fs.writeFile(path.join(root, 'data', `class${i % 10}`, `${i}.png`), buf);
  }
  const fh = await fs.open(path.join(root, 'big.bin'), 'w');
  const block = randomBytes(1 << 20);
  for (let i = 0; i < BIG_MB; i++) await fh.write(block);
  await fh.close();
  await fs.writeFile(
    path.join(root, 'pipeline.yaml'),
    `stages:
  count:
    cmd: find data -type f | wc -l > count.txt
    deps: [data]
    outs: [count.txt]
  big:
    cmd: wc -c < big.bin > big.txt
    deps: [big.bin]
    outs: [big.txt]
`,
  );
  await execa('git', ['init', '-q'], { cwd: root });
}

const node = process.execPath;
const cli = (dir: string, ...a: string[]) => measure(node, [CLI, ...a], dir);
const fmt = (label: string, r: { wallMs: number; peakRssMb: number; runs: number[] }, extra = '') =>
  console.log(
    `${label.padEnd(44)} median ${(r.wallMs / 1000).toFixed(3)} s  peak RSS ${r.peakRssMb.toFixed(0)} MB  runs(ms) ${r.runs.join(',')}${extra}`,
  );

async function main(): Promise<void> {
  if (arg('only', '') === 'stages') return manyStages();
  console.log(`generating ${FILES} files of 3 KiB and a ${BIG_MB} MiB file in ${root} …`);
  await generate();
  const dataMb = (FILES * 3072) / 1e6;
  const dropCache = async () => fs.rm(path.join(root, '.cache'), { recursive: true, force: true });

  const cold = await repeat(runs, dropCache, () => cli(root, 'status'));
  fmt(
    'cold status (hash 60k files + 1 GiB)',
    cold,
    `  ${(FILES / (cold.wallMs / 1000)).toFixed(0)} files/s, ${((dataMb + BIG_MB * 1.048576) / (cold.wallMs / 1000)).toFixed(0)} MB/s`,
  );

  const md5sum = await repeat(
    runs,
    async () => {},
    () => measure('md5sum', ['big.bin'], root),
  );
  fmt('md5sum big.bin', md5sum, `  ${((BIG_MB * 1.048576) / (md5sum.wallMs / 1000)).toFixed(0)} MB/s`);

  const first = await cli(root, 'repro');
  if (first.exitCode !== 0) throw new Error(first.output);
  const warm = await repeat(
    runs,
    async () => {},
    () => cli(root, 'repro'),
  );
  fmt('warm no-op repro', warm);
  const warmStatus = await repeat(
    runs,
    async () => {},
    () => cli(root, 'status'),
  );
  fmt('warm status', warmStatus);

  let n = 0;
  const changeOne = async () => fs.writeFile(path.join(root, 'data', 'class3', '3.png'), randomBytes(3072 + (n++ % 7)));
  const one = await repeat(runs, changeOne, () => cli(root, 'repro'));
  fmt('repro after changing one file', one);
  await manyStages();
}

/** `--only stages`: just this part (the 60,000 files take minutes to generate and hash). */
async function manyStages(): Promise<void> {
  // 500 small stages in a chain of 50 x 10 independent lines
  const many = path.join(root, 'many');
  await fs.rm(many, { recursive: true, force: true });
  await fs.mkdir(many, { recursive: true });
  let yaml = 'stages:\n';
  for (let i = 0; i < 500; i++) {
    const dep = i >= 10 ? `\n    deps: [o${i - 10}.txt]` : '';
    yaml += `  s${i}:\n    cmd: echo ${i} > o${i}.txt${dep}\n    outs: [o${i}.txt]\n`;
  }
  await fs.writeFile(path.join(many, 'pipeline.yaml'), yaml);
  await execa('git', ['init', '-q'], { cwd: many });
  const r = await cli(many, 'repro', '-j', '2');
  if (r.exitCode !== 0) throw new Error(r.output);
  fmt(
    '500 stages: no-op repro',
    await repeat(
      runs,
      async () => {},
      () => cli(many, 'repro'),
    ),
  );
  fmt(
    '500 stages: status',
    await repeat(
      runs,
      async () => {},
      () => cli(many, 'status'),
    ),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
