/**
 * Hashing benchmark (run by hand): `node dist/bench/hash.js [--files 60000] [--big-mib 1024] [--runs 3]
 * [--keep DIR] [--only cold,warm,changed,big,commit,ab]`. Peak RSS: bench/hash-rss.sh.
 *
 * Generates N x 3 KiB files (100 per folder) and one large file in a temp dir, then reports medians:
 * cold hash (empty stat cache), warm hash (stat cache loaded from disk by a fresh instance, load time
 * included), one-file-changed hash, the large file vs `md5sum`, and commit/checkout with copy.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CachingHasher } from '../src/hash/hasher.js';
import { hashFile, hashSmallFileSync, md5Hex } from '../src/hash/md5-file.js';
import { walkTree } from '../src/hash/walk.js';
import { StatCache } from '../src/hash/stat-cache.js';
import { checkoutOutput, commitOutput, openObjectStore } from '../src/cache/index.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : def;
};
const FILES = Number(opt('files', '60000'));
const BIG_MIB = Number(opt('big-mib', '1024'));
const RUNS = Number(opt('runs', '3'));
const ONLY = opt('only', '');
const want = (what: string): boolean => ONLY === '' || ONLY.split(',').includes(what);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
/** CPU time (user + system) of this process since `c0`, in ms: comparable on a busy machine. */
const cpuMs = (c0: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
};
/** "user U ms + sys S ms": file creation on this ext4 costs mostly kernel time. */
const cpuSplit = (c0: NodeJS.CpuUsage): string => {
  const d = process.cpuUsage(c0);
  return `user ${fmt(d.user / 1000)} ms + sys ${fmt(d.system / 1000)} ms`;
};
const fmt = (x: number): string => x.toFixed(x < 10 ? 2 : 0);

async function generate(root: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  let made = '';
  const marker = path.join(root, `.generated-${FILES}`);
  const small = path.join(root, 'small');
  if (
    !(await fs.access(marker).then(
      () => true,
      () => false,
    ))
  ) {
    await fs.rm(small, { recursive: true, force: true });
    for (let i = 0; i < FILES; i++) {
      const dir = path.join(small, `d${String(Math.floor(i / 100)).padStart(4, '0')}`);
      if (i % 100 === 0) await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, `f${i}.bin`), randomBytes(3072));
    }
    // Old mtimes, as for data not written a moment ago (racy files are never cached).
    execFileSync('find', [small, '-type', 'f', '-exec', 'touch', '-d', '2 hours ago', '{}', '+']);
    await fs.writeFile(marker, '');
    made += `${FILES} files `;
  }
  const big = path.join(root, 'big.bin');
  if (BIG_MIB > 0 && (await fs.stat(big).catch(() => undefined))?.size !== BIG_MIB * 1048576) {
    const handle = await fs.open(big, 'w');
    const chunk = randomBytes(1 << 20);
    for (let i = 0; i < BIG_MIB; i++) await handle.write(chunk);
    await handle.close();
    made += `${BIG_MIB} MiB file`;
  }
  if (made) console.log(`generated ${made} in ${fmt(ms(t0) / 1000)} s`);
}

async function main(): Promise<void> {
  const keep = opt('keep', '');
  const root = keep || (await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-bench-')));
  await fs.mkdir(root, { recursive: true });
  await generate(root);
  const small = path.join(root, 'small');
  const caches = path.join(root, 'caches');
  await fs.rm(caches, { recursive: true, force: true });
  const report: string[] = [];

  if (want('cold') || want('warm') || want('changed')) {
    const cold: number[] = [];
    const coldCpu: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const sc = new StatCache(path.join(caches, `cold${r}`));
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await new CachingHasher(sc).hashPath(small);
      cold.push(ms(t0));
      coldCpu.push(cpuMs(c0));
      await sc.save();
    }
    const c = median(cold);
    report.push(
      `cold hash ${FILES} x 3 KiB: median ${fmt(c)} ms wall, ${fmt(median(coldCpu))} ms CPU (${fmt(FILES / (c / 1000))} files/s, ${fmt((FILES * 3072) / 1e6 / (c / 1000))} MB/s); wall runs ${cold.map(fmt).join(', ')}`,
    );

    if (want('warm') || want('changed')) {
      const warm: number[] = [];
      const warmCpu: number[] = [];
      const loads: number[] = [];
      const loadsCpu: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const sc = new StatCache(path.join(caches, 'cold0'));
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        await sc.load();
        loads.push(ms(t0));
        loadsCpu.push(cpuMs(c0));
        await new CachingHasher(sc).hashPath(small);
        warm.push(ms(t0));
        warmCpu.push(cpuMs(c0));
      }
      report.push(
        `warm hash (fresh stat cache loaded from disk, load included): median ${fmt(median(warm))} ms wall, ${fmt(median(warmCpu))} ms CPU; stat-cache load ${fmt(median(loads))} ms wall, ${fmt(median(loadsCpu))} ms CPU; wall runs ${warm.map(fmt).join(', ')}`,
      );

      const changed: number[] = [];
      const changedCpu: number[] = [];
      const victim = path.join(small, 'd0007', 'f700.bin');
      for (let r = 0; r < RUNS; r++) {
        await fs.writeFile(victim, randomBytes(3072));
        const old = new Date(Date.now() - 3_600_000 + r * 1000);
        await fs.utimes(victim, old, old);
        const sc = new StatCache(path.join(caches, 'cold0'));
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        await sc.load();
        await new CachingHasher(sc).hashPath(small);
        changed.push(ms(t0));
        changedCpu.push(cpuMs(c0));
        await sc.save();
      }
      report.push(
        `one file changed (load included): median ${fmt(median(changed))} ms wall, ${fmt(median(changedCpu))} ms CPU; wall runs ${changed.map(fmt).join(', ')}`,
      );
    }
  }

  if (want('ab')) {
    // Why the hasher reads small files synchronously: the same files through the promise API.
    const files = (await walkTree(small)).names
      .all()
      .slice(0, 30000)
      .map((r) => ({ absPath: `${small}/${r}` }));
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < files.length) md5Hex(await fs.readFile(files[next++]!.absPath));
    };
    let c0 = process.cpuUsage();
    let t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: 32 }, lane));
    report.push(
      `A/B ${files.length} small files, fs.promises.readFile with 32 in flight: ${fmt(ms(t0))} ms wall, ${fmt(cpuMs(c0))} ms CPU`,
    );
    c0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
    for (const f of files) hashSmallFileSync(f.absPath);
    report.push(
      `A/B same files, sync open/read/close into one buffer (ours): ${fmt(ms(t0))} ms wall, ${fmt(cpuMs(c0))} ms CPU`,
    );
  }

  if (want('big') && BIG_MIB > 0) {
    const big = path.join(root, 'big.bin');
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      let t0 = process.hrtime.bigint();
      await hashFile(big);
      ours.push(ms(t0));
      t0 = process.hrtime.bigint();
      execFileSync('md5sum', [big]);
      theirs.push(ms(t0));
    }
    const mb = (BIG_MIB * 1048576) / 1e6;
    const o = mb / (median(ours) / 1000);
    const t = mb / (median(theirs) / 1000);
    report.push(
      `${BIG_MIB} MiB file: ours median ${fmt(o)} MB/s, md5sum ${fmt(t)} MB/s (${fmt((100 * o) / t)}%); ours ${ours.map(fmt).join(', ')} ms, md5sum ${theirs.map(fmt).join(', ')} ms`,
    );
  }

  if (want('commit')) {
    const cacheDir = path.join(caches, 'objects');
    const store = openObjectStore(cacheDir);
    const sc = new StatCache(path.join(cacheDir, 'tmp', 'stat-cache'));
    let c0 = process.cpuUsage();
    let t0 = process.hrtime.bigint();
    const info = await commitOutput(store, new CachingHasher(sc), small, ['reflink', 'copy']);
    report.push(`commit ${FILES} files (reflink,copy; cold stat cache): ${fmt(ms(t0))} ms wall, CPU ${cpuSplit(c0)}`);
    const out = path.join(root, 'checkout');
    await fs.rm(out, { recursive: true, force: true });
    c0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
    await checkoutOutput(store, info, out, ['reflink', 'copy']);
    report.push(
      `checkout ${FILES} files into an empty folder (copy, objects verified): ${fmt(ms(t0))} ms wall, CPU ${cpuSplit(c0)}`,
    );
    c0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
    await checkoutOutput(store, info, out, ['reflink', 'copy']);
    report.push(`checkout again, nothing to do: ${fmt(ms(t0))} ms wall, CPU ${cpuSplit(c0)}`);
    await fs.rm(out, { recursive: true, force: true });
  }

  const rss = process.resourceUsage().maxRSS / 1024;
  report.push(`peak RSS of this process: ${fmt(rss)} MB`);
  console.log(report.join('\n'));
  if (!keep) await fs.rm(root, { recursive: true, force: true });
  else await fs.rm(caches, { recursive: true, force: true });
}

await main();
