/**
 * Generates a project for timing pipeline-file collection (issue 14 item 3): FILES data files of 3 KiB in
 * `data/` (10 folders, git-ignored as pulled or `lockstep add`ed data is) and in a stage's output folder
 * `prepared/`, a root pipeline and two sub-pipelines (`sub/dvc.yaml`, `lib/b/dvc.yaml`), then runs `repro`
 * once so that `status` is a warm no-op. Time `status` on it with any whole-process timer, e.g.
 * `/usr/bin/time -v node bin/lockstep.js status` in DIR. `--ignored false` leaves `data/` unignored: the
 * walk then lists its folders (the worst case, a data folder git tracks).
 *
 *   npm run build && node dist/bench/nested-collect.js [--files 60000] [--dir /tmp/lockstep-bench-nested] [--ignored true]
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { CLI, arg } from './lib.js';

const FILES = Number(arg('files', '60000'));
const root = arg('dir', '/tmp/lockstep-bench-nested');
const ignored = arg('ignored', 'true') !== 'false';

async function main(): Promise<void> {
  await fs.rm(root, { recursive: true, force: true });
  const block = Buffer.alloc(3072, 7);
  const half = Math.floor(FILES / 2);
  for (const [dir, n] of [
    ['data', half],
    ['seed', FILES - half],
  ] as const) {
    for (let c = 0; c < 10; c++) await fs.mkdir(path.join(root, dir, `class${c}`), { recursive: true });
    for (let i = 0; i < n; i++) {
      block.writeUInt32LE(i, 0);
      block.write(dir, 4);
      await fs.writeFile(path.join(root, dir, `class${i % 10}`, `${i}.bin`), block);
    }
  }
  const write = async (rel: string, text: string) => {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), text);
  };
  await write('.gitignore', `${ignored ? '/data\n' : ''}/seed\n`);
  // `prepared/` is the output of a stage (git-ignored by lockstep when it runs): a copy of the seed files
  await write(
    'dvc.yaml',
    `stages:
  prepare:
    cmd: cp -r seed prepared
    deps: [seed]
    outs: [prepared]
  count:
    cmd: find data prepared -type f | wc -l > count.txt
    deps: [data, prepared, sub/out.txt, lib/b/built]
    outs: [count.txt]
`,
  );
  await write(
    'sub/dvc.yaml',
    'stages:\n  make:\n    cmd: cat in.txt > out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n',
  );
  await write('sub/in.txt', 'in\n');
  await write('lib/b/dvc.yaml', 'stages:\n  build:\n    cmd: mkdir -p built && date > built/x\n    outs: [built]\n');
  for (let i = 0; i < 40; i++) await write(`src/pkg${i}/mod.py`, `# module ${i}\n`);
  await execa('git', ['init', '-q'], { cwd: root });
  const r = await execa(process.execPath, [CLI, 'repro'], { cwd: root, reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(String(r.all));
  const st = await execa(process.execPath, [CLI, 'status'], { cwd: root, reject: false, all: true });
  console.log(`${root}: ${FILES} data files (data/ ${ignored ? 'git-ignored' : 'not ignored'}), status: ${st.all}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
