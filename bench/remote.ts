/**
 * Remote benchmark (issue 6), run by hand:
 *   npm run build && node dist/bench/remote.js [--files 60000] [--big-mb 1024] [--kinds folder,ssh,s3] [--jobs 16] [--dir /tmp/lockstep-bench-remote]
 * A generated project with one stage writing a directory of N files of 3 KiB (CIFAR-10 PNG-sized) and
 * one writing a single big file. For each remote kind on 127.0.0.1 (a folder, a real OpenSSH sshd,
 * the S3 API of s3rver): push, then pull into an empty cache and workspace, for each output; then
 * `status --cloud` after one of the small files changed. Prints wall time, files/s, MB/s, peak RSS.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, arg, measure } from './lib.js';
import { startSshd, sshdUnavailable } from '../test/helpers/sshd.js';
import { startS3 } from '../test/helpers/s3server.js';

const FILES = Number(arg('files', '60000'));
const BIG_MB = Number(arg('big-mb', '1024'));
const KINDS = arg('kinds', 'folder,ssh,s3').split(',');
const JOBS = arg('jobs', '16');
const root = arg('dir', '/tmp/lockstep-bench-remote');
const project = path.join(root, 'project');

const GEN = `import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
const [what, n, variant] = process.argv.slice(2);
if (what === 'small') {
  await fs.rm('data', { recursive: true, force: true });
  for (let c = 0; c < 10; c++) await fs.mkdir('data/class' + c, { recursive: true });
  const base = Buffer.alloc(3072);
  for (let i = 0; i < 3072; i += 16) createHash('md5').update(String(i)).digest().copy(base, i);
  for (let i = 0; i < Number(n); i++) {
    const b = Buffer.from(base);
    b.writeUInt32LE(i, 0);
    if (i === 0) b.writeUInt32LE(Number(variant), 4);
    await fs.writeFile('data/class' + (i % 10) + '/' + i + '.png', b);
  }
} else {
  const fh = await fs.open('big.bin', 'w');
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < Number(n); i++) {
    createHash('md5').update(String(i)).digest().copy(block, 0);
    block.fill(i % 251, 16);
    await fh.write(block);
  }
  await fh.close();
}
`;

const pipeline = (variant: number) => `stages:
  small:
    cmd: node gen.mjs small ${FILES} ${variant}
    outs: [data]
  big:
    cmd: node gen.mjs big ${BIG_MB} 0
    outs: [big.bin]
`;

const cli = (args: string[], env: Record<string, string> = {}) => execa(process.execPath, [CLI, ...args], { cwd: project, env, reject: false, all: true });

async function must(args: string[], env: Record<string, string> = {}): Promise<void> {
  const r = await cli(args, env);
  if (r.exitCode !== 0) throw new Error(`lockstep ${args.join(' ')} failed:\n${String(r.all).slice(-2000)}`);
}

function row(label: string, wallMs: number, files: number, bytes: number, rss: number): void {
  const s = wallMs / 1000;
  process.stdout.write(`${label.padEnd(34)} ${s.toFixed(1).padStart(7)} s ${(files / s).toFixed(0).padStart(8)} files/s ${(bytes / 1e6 / s).toFixed(1).padStart(8)} MB/s ${rss.toFixed(0).padStart(6)} MB peak RSS\n`);
}

async function main(): Promise<void> {
  await fs.rm(root, { recursive: true, force: true });
  await fs.mkdir(project, { recursive: true });
  await fs.writeFile(path.join(project, 'gen.mjs'), GEN);
  await fs.writeFile(path.join(project, 'pipeline.yaml'), pipeline(0));
  await execa('git', ['init', '-q'], { cwd: project });
  process.stdout.write(`generating ${FILES} files of 3 KiB and a ${BIG_MB} MiB file, repro…\n`);
  await must(['repro']);

  const servers: { stop(): Promise<void> }[] = [];
  try {
    for (const kind of KINDS) {
      let url: string;
      const local: Record<string, string> = {};
      if (kind === 'folder') url = path.join(root, 'folder-remote');
      else if (kind === 'ssh') {
        const why = sshdUnavailable();
        if (why) {
          process.stdout.write(`ssh: skipped (${why})\n`);
          continue;
        }
        const sshd = await startSshd();
        servers.push(sshd);
        url = sshd.url('store');
        local.keyfile = sshd.keyfile;
      } else {
        const s3 = await startS3({ directory: path.join(root, 's3rver') });
        servers.push(s3);
        url = `s3://${s3.bucket}/bench`;
        Object.assign(local, s3.options());
      }
      await must(['remote', 'add', '-f', kind, url]);
      for (const [k, v] of Object.entries(local)) await must(['remote', 'modify', '--local', kind, k, v]);

      for (const [stage, files, bytes] of [['small', FILES + 1, FILES * 3072], ['big', 1, BIG_MB * 2 ** 20]] as const) {
        const push = await measure(process.execPath, [CLI, 'push', stage, '-r', kind, '-j', JOBS], project);
        if (push.exitCode !== 0) throw new Error(push.output.slice(-2000));
        row(`${kind} push ${stage}`, push.wallMs, files, bytes, push.peakRssMb);
        // pull into an empty cache and workspace
        const cache = path.join(root, `pull-cache-${kind}-${stage}`);
        await fs.rm(path.join(project, stage === 'small' ? 'data' : 'big.bin'), { recursive: true, force: true });
        const pull = await measure(process.execPath, [CLI, 'pull', stage, '-r', kind, '-j', JOBS], project, { LOCKSTEP_CACHE_DIR: cache });
        if (pull.exitCode !== 0) throw new Error(pull.output.slice(-2000));
        row(`${kind} pull ${stage}`, pull.wallMs, files, bytes, pull.peakRssMb);
        await fs.rm(cache, { recursive: true, force: true });
      }
    }
    // one small file changed: a new .dir whose 60,000 files the remote mostly has
    await fs.writeFile(path.join(project, 'pipeline.yaml'), pipeline(1));
    await must(['repro', 'small']);
    for (const kind of KINDS) {
      if (kind === 'ssh' && sshdUnavailable()) continue;
      const st = await measure(process.execPath, [CLI, 'status', '--cloud', 'small', '-r', kind, '-j', JOBS], project);
      if (st.exitCode !== 0) throw new Error(st.output.slice(-2000));
      const line = st.output.split('\n').find((l) => l.startsWith('small:')) ?? '';
      process.stdout.write(`${`${kind} status --cloud (1 changed)`.padEnd(34)} ${(st.wallMs / 1000).toFixed(1).padStart(7)} s ${st.peakRssMb.toFixed(0).padStart(6)} MB peak RSS  ${line}\n`);
    }
  } finally {
    for (const s of servers) await s.stop();
  }
}

await main();
