/**
 * Differential test against real DVC: small project shapes (our own fixtures) run under DVC 3.67 and under
 * lockstep side by side, through the same sequence of edits. After each edit both tools' `status --json`
 * must name the same stale stages / .dvc files; after each repro the same stages must have run (each
 * command appends its stage name to ran.log) and dvc.lock / .dvc files must be byte-identical.
 * Skips with a reason when DVC is not installed (.ci/run installs it in tools/venv-dvc; or set LOCKSTEP_DVC).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT, runCli } from '../helpers/project.js';

const DVC = process.env.LOCKSTEP_DVC ?? path.join(REPO_ROOT, 'tools/venv-dvc/bin/dvc');
const skip = existsSync(DVC) ? false : `DVC not installed at ${DVC} (run .ci/run, or set LOCKSTEP_DVC)`;

type Files = Record<string, string>;
interface Step {
  what: string;
  edit?: Files;
  /** extra commands before status: ['add', 'data'] runs `dvc add data` / `lockstep add data` */
  run?: string[][];
}
interface Shape {
  name: string;
  files: Files;
  steps: Step[];
  /** The lock files compared after each repro (default: dvc.lock). */
  locks?: string[];
}

const log = (stage: string) => `echo ${stage} >> $ROOT_LOG`;

const SHAPES: Shape[] = [
  {
    name: 'linear pipeline: params section, folder output, metrics without cache, floats',
    files: {
      'params.yaml': 'prep:\n  n: 3\ntrain:\n  lr: 1.0\n  layers: [8, 4]\n  name: "net a"\n',
      'data.txt': 'a\nb\nc\nd\n',
      'dvc.yaml': `stages:
  prepare:
    cmd: >-
      ${log('prepare')} && mkdir -p prepared && head -n \${prep.n} data.txt > prepared/part.txt &&
      wc -l < data.txt > prepared/count.txt
    deps:
    - data.txt
    params:
    - prep.n
    outs:
    - prepared
  train:
    cmd: ${log('train')} && cat prepared/part.txt params.yaml > model.txt
    deps:
    - prepared
    params:
    - train
    outs:
    - model.txt
  evaluate:
    cmd: >-
      ${log('evaluate')} && echo '{"acc": 0.5, "loss": 1.0}' > metrics.json
    deps:
    - model.txt
    metrics:
    - metrics.json:
        cache: false
`,
    },
    steps: [
      { what: 'first repro' },
      { what: 'no-op' },
      {
        what: 'train param',
        edit: { 'params.yaml': 'prep:\n  n: 3\ntrain:\n  lr: 2.0\n  layers: [8, 4]\n  name: "net a"\n' },
      },
      { what: 'data', edit: { 'data.txt': 'a\nb\nc\nd\ne\n' } },
      {
        what: 'param back (run-cache)',
        edit: { 'params.yaml': 'prep:\n  n: 3\ntrain:\n  lr: 1.0\n  layers: [8, 4]\n  name: "net a"\n' },
      },
    ],
  },
  {
    name: 'foreach and matrix with vars, wdir and ${key}',
    files: {
      'params.yaml': 'sizes:\n  small: 1\n  big: 3\nseed: 7\n',
      'sub/in.txt': 'in\n',
      'dvc.yaml': `vars:
  - greeting: hi
stages:
  gen:
    foreach: \${sizes}
    do:
      cmd: ${log('gen@${key}')} && echo \${greeting} \${item} > out-\${key}.txt
      outs:
      - out-\${key}.txt
  mat:
    matrix:
      a: [1, 2]
      b: [x]
    cmd: ${log('mat@${key}')} && echo \${key} \${seed} > m-\${item.a}.txt
    params:
    - seed
    outs:
    - m-\${item.a}.txt
  sub:
    wdir: sub
    cmd:
    - ${log('sub')}
    - cat in.txt ../out-big.txt > joined.txt
    deps:
    - in.txt
    - ../out-big.txt
    outs:
    - joined.txt
`,
    },
    steps: [
      { what: 'first repro' },
      { what: 'one foreach item', edit: { 'params.yaml': 'sizes:\n  small: 1\n  big: 4\nseed: 7\n' } },
      { what: 'matrix param', edit: { 'params.yaml': 'sizes:\n  small: 1\n  big: 4\nseed: 8\n' } },
      { what: 'wdir dep', edit: { 'sub/in.txt': 'in2\n' } },
    ],
  },
  {
    name: 'data tracked by .dvc files as a dep source',
    files: {
      'raw/a.csv': 'x,y\n1,2\n',
      'raw/b.csv': 'x,y\n3,4\n',
      'labels.txt': 'cat\ndog\n',
      'dvc.yaml': `stages:
  merge:
    cmd: ${log('merge')} && cat raw/*.csv labels.txt > merged.txt
    deps:
    - raw
    - labels.txt
    outs:
    - merged.txt
`,
    },
    steps: [
      { what: 'add and first repro', run: [['add', 'raw', 'labels.txt']] },
      { what: 'edit tracked file, no add', edit: { 'labels.txt': 'cat\ndog\nbird\n' } },
      { what: 'add again', run: [['add', 'labels.txt']] },
      { what: 'new file in tracked folder, add', edit: { 'raw/c.csv': 'x,y\n5,6\n' }, run: [['add', 'raw']] },
    ],
  },
  {
    name: 'nested pipelines: sub/dvc.yaml and a deeper one, deps across files, params beside each file',
    locks: ['dvc.lock', 'sub/dvc.lock', 'lib/b/dvc.lock'],
    files: {
      'params.yaml': 'top: 1\n',
      'sub/params.yaml': 'n: 1.0\nname: a\n',
      'sub/in.txt': 'in\n',
      'lib/b/src.txt': 'b\n',
      'dvc.yaml': `stages:
  report:
    cmd: ${log('report')} && cat sub/out.txt lib/b/built/x.txt > report.txt
    deps:
    - sub/out.txt
    - lib/b/built
    params:
    - top
    outs:
    - report.txt
`,
      'sub/dvc.yaml': `stages:
  make:
    cmd: ${log('make')} && echo \${name} $(cat in.txt) > out.txt
    deps:
    - in.txt
    params:
    - n
    outs:
    - out.txt
  side:
    wdir: w
    cmd: ${log('side')} && mkdir -p . && cat ../in.txt > side.txt
    deps:
    - ../in.txt
    outs:
    - side.txt
`,
      'sub/w/.keep': '',
      'lib/b/dvc.yaml': `stages:
  build:
    cmd: ${log('build')} && mkdir -p built && cat src.txt > built/x.txt
    deps:
    - src.txt
    outs:
    - built
`,
    },
    steps: [
      { what: 'first repro' },
      { what: 'no-op' },
      { what: 'sub param', edit: { 'sub/params.yaml': 'n: 2.0\nname: a\n' } },
      { what: 'sub dep used by two stages', edit: { 'sub/in.txt': 'in2\n' } },
      { what: 'deeper dep', edit: { 'lib/b/src.txt': 'b2\n' } },
      { what: 'root param', edit: { 'params.yaml': 'top: 2\n' } },
      { what: 'sub interpolated param', edit: { 'sub/params.yaml': 'n: 2.0\nname: b\n' } },
    ],
  },
];

async function write(dir: string, files: Files): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), text);
  }
}

async function gitInit(dir: string): Promise<void> {
  await execa('git', ['init', '-q', '-b', 'main'], { cwd: dir });
}

async function readIf(file: string): Promise<string | null> {
  return fs.readFile(file, 'utf8').catch(() => null);
}

async function dvcFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      if (e.name === '.git' || e.name === '.dvc' || e.name === '.cache' || e.name === '.lockstep') continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.name.endsWith('.dvc')) out[r] = (await readIf(path.join(dir, r))) ?? '';
    }
  };
  await walk('');
  return out;
}

/** Lines appended to ran.log since the last call, sorted (independent stages may run in any order). */
async function ranSince(logFile: string): Promise<string[]> {
  const text = (await readIf(logFile)) ?? '';
  await fs.writeFile(logFile, '');
  return text.split('\n').filter(Boolean).sort();
}

/** The stale stage and .dvc file names of `status --json`. */
function staleNames(json: string): string[] {
  const data = JSON.parse(json || '{}') as Record<string, unknown>;
  return Object.keys(data).sort();
}

test('differential: lock files, .dvc files, status and the stages that ran match DVC 3.67', {
  skip,
  timeout: 900_000,
}, async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-dvcdiff-'));
  let checks = 0;
  const differences: string[] = [];
  const compare = (where: string, ours: unknown, theirs: unknown) => {
    checks++;
    if (JSON.stringify(ours) !== JSON.stringify(theirs))
      differences.push(`${where}: lockstep ${JSON.stringify(ours)} vs dvc ${JSON.stringify(theirs)}`);
  };
  try {
    await Promise.all(
      SHAPES.map(async (shape, i) => {
        const dvcDir = path.join(tmp, `dvc-${i}`);
        const lsDir = path.join(tmp, `lockstep-${i}`);
        for (const d of [dvcDir, lsDir]) {
          await fs.mkdir(d, { recursive: true });
          await gitInit(d);
          await write(d, shape.files);
        }
        await execa(DVC, ['init', '-q'], { cwd: dvcDir });
        // DVC's analytics and update checks off: nothing leaves the machine
        const env = (dir: string) => ({
          ROOT_LOG: path.join(dir, 'ran.log'),
          DVC_NO_ANALYTICS: '1',
          DVC_IGNORE_UPDATES: '1',
          SHELL: '/bin/sh',
        });
        const dvc = (args: string[]) => execa(DVC, args, { cwd: dvcDir, env: env(dvcDir), reject: false, all: true });
        const ls = (args: string[]) => runCli(lsDir, args, { env: env(lsDir) });
        for (const step of shape.steps) {
          const where = `${shape.name} / ${step.what}`;
          if (step.edit) for (const d of [dvcDir, lsDir]) await write(d, step.edit);
          for (const args of step.run ?? []) {
            const [a, b] = [await dvc(args), await ls(args)];
            assert.equal(a.exitCode, 0, `dvc ${args.join(' ')}: ${a.all}`);
            assert.equal(b.exitCode, 0, `lockstep ${args.join(' ')}: ${b.all}`);
          }
          const [sa, sb] = [await dvc(['status', '--json']), await ls(['status', '--json'])];
          compare(`${where}: status`, staleNames(sb.stdout), staleNames(String(sa.stdout)));
          const [ra, rb] = [await dvc(['repro']), await ls(['repro'])];
          assert.equal(ra.exitCode, 0, `dvc repro: ${ra.all}`);
          assert.equal(rb.exitCode, 0, `lockstep repro: ${rb.all}`);
          compare(
            `${where}: stages run`,
            await ranSince(path.join(lsDir, 'ran.log')),
            await ranSince(path.join(dvcDir, 'ran.log')),
          );
          for (const lock of shape.locks ?? ['dvc.lock'])
            compare(`${where}: ${lock}`, await readIf(path.join(lsDir, lock)), await readIf(path.join(dvcDir, lock)));
          compare(`${where}: .dvc files`, await dvcFiles(lsDir), await dvcFiles(dvcDir));
        }
      }),
    );
  } finally {
    // DVC's background daemons may still write under .dvc/tmp for a moment
    await fs.rm(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }).catch(() => undefined);
  }
  process.stdout.write(`# differential: ${checks} paired checks, ${differences.length} differences\n`);
  for (const d of differences) process.stdout.write(`#   ${d}\n`);
  assert.deepEqual(differences, [], `${differences.length} of ${checks} paired checks differ`);
});
