/**
 * Data-stage benchmark (issue 3), run by hand:
 *   npm run build && node dist/bench/data.js [--runs 1] [--dir /tmp/lockstep-bench-data] [--shared ../shared]
 * Sets up a project whose pull source is file://../shared/datasets/cifar-10-binary.tar.gz (the real
 * 60,000-image archive; --shared says where shared/ is), then measures under /usr/bin/time -v: pull,
 * partition (size 20000), prepare for data v1 and for v1+v2+v3. Also times the PNG encoder settings
 * on 10,000 real images, which is how the pull stage's deflate level and filter were chosen.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { REPO_ROOT, arg, measure, repeat } from './lib.js';
import { readCifarArchive } from '../stages/lib/data/cifar.js';

const runs = Number(arg('runs', '1'));
const root = arg('dir', '/tmp/lockstep-bench-data');
const shared = path.resolve(arg('shared', path.join(REPO_ROOT, '..', 'shared')));
const archive = path.join(shared, 'datasets', 'cifar-10-binary.tar.gz');
const project = path.join(root, 'proj');

const params = (data: string) => `seed: 42
data: ${data}
pull:
  dataset: cifar10
  url: https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
  md5: c32a1d4ab5d03f1284b67883e8d87530
  mirrors:
    - url: file://../shared/datasets/cifar-10-binary.tar.gz
      md5: d29201a22872bdb1ba1b3a96d86cf19f
partition:
  size: 20000
  seed: 7
prepare:
  split: {train: 0.8, val: 0.1, test: 0.1}
`;

async function setUp(): Promise<void> {
  await fs.access(archive).catch(() => {
    throw new Error(`${archive} not found: pass --shared <dir holding datasets/>`);
  });
  await fs.rm(root, { recursive: true, force: true });
  await fs.mkdir(project, { recursive: true });
  await fs.symlink(shared, path.join(root, 'shared'));
  await fs.symlink(path.join(REPO_ROOT, 'stages'), path.join(project, 'stages'));
  await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(project, 'node_modules'));
  await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  await fs.writeFile(path.join(project, 'params.yaml'), params('v1'));
}

/** Last run's user + system CPU seconds (from /usr/bin/time -v): wall time alone misleads on a shared machine. */
let lastCpu = NaN;
const stage = (name: string) => async () => {
  const m = await measure(process.execPath, ['--import', 'tsx', `stages/${name}.ts`], project);
  const user = /User time \(seconds\): ([\d.]+)/.exec(m.output);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(m.output);
  lastCpu = Number(user?.[1]) + Number(sys?.[1]);
  return m;
};
const nothing = async () => {};
const report = (label: string, r: { wallMs: number; peakRssMb: number; runs: number[] }) =>
  console.log(
    `${label.padEnd(28)} wall ${(r.wallMs / 1000).toFixed(1)} s (runs ${r.runs.join(', ')} ms), CPU ${lastCpu.toFixed(1)} s (last run), peak RSS ${r.peakRssMb.toFixed(0)} MiB`,
  );

async function duMiB(dir: string): Promise<number> {
  let bytes = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) bytes += (await fs.stat(path.join(e.parentPath, e.name))).size;
  }
  return bytes / 1048576;
}

/** Encode 10,000 real images with several pngjs settings: time and total size. */
async function pngSettings(): Promise<void> {
  const images: Uint8Array[] = [];
  await readCifarArchive(archive, 10_000, (batch) => {
    if (images.length === 0) for (const img of batch) images.push(img.pixels);
  });
  // CPU time, not wall time: the numbers stay comparable on a busy machine. The first row warms the JIT up.
  const settings: [string, Record<string, number>][] = [
    ['(warm-up)', { deflateLevel: 1, filterType: 4, deflateStrategy: 0 }],
    ['pngjs defaults (level 9, RLE, all filters)', {}],
    ['level 9, default strategy, all filters', { deflateLevel: 9, deflateStrategy: 0 }],
    ['level 1, RLE, Sub filter', { deflateLevel: 1, filterType: 1 }],
    ['level 1, default strategy, Sub filter', { deflateLevel: 1, filterType: 1, deflateStrategy: 0 }],
    ['level 1, default strategy, Up', { deflateLevel: 1, filterType: 2, deflateStrategy: 0 }],
    ['level 1, default strategy, Paeth (chosen)', { deflateLevel: 1, filterType: 4, deflateStrategy: 0 }],
    ['level 1, RLE, no filter', { deflateLevel: 1, filterType: 0 }],
  ];
  for (const [label, opts] of settings) {
    const cpu = process.cpuUsage();
    let bytes = 0;
    for (const px of images) {
      const png = {
        width: 32,
        height: 32,
        data: Buffer.from(px.buffer, px.byteOffset, px.byteLength),
      } as unknown as PNG;
      bytes += PNG.sync.write(png, { ...opts, colorType: 2, inputColorType: 2, inputHasAlpha: false }).length;
    }
    const used = process.cpuUsage(cpu);
    const us = (used.user + used.system) / images.length;
    console.log(
      `png ${label.padEnd(44)} ${us.toFixed(0)} us CPU per image, ${(bytes / images.length).toFixed(0)} B per image`,
    );
  }
}

await setUp();
console.log(`project ${project}; source ${archive}`);
await pngSettings();
const cleanPull = async () => fs.rm(path.join(project, 'data'), { recursive: true, force: true });
report('pull (file:// mirror)', await repeat(runs, cleanPull, stage('pull')));
console.log(`  data/raw: ${(await duMiB(path.join(project, 'data/raw'))).toFixed(1)} MiB of files`);
report('partition (size 20000)', await repeat(runs, nothing, stage('partition')));
report('prepare data v1', await repeat(runs, nothing, stage('prepare')));
await fs.writeFile(path.join(project, 'params.yaml'), params('v1+v2+v3'));
report('prepare data v1+v2+v3', await repeat(runs, nothing, stage('prepare')));
