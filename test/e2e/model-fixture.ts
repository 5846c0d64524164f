import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempProject, type TempProject } from '../helpers/project.js';
import { tempDir } from '../helpers/tmp.js';

const PULL = `import fs from 'node:fs';
const src = fs.readFileSync('params.yaml', 'utf8').match(/source: (.*)/)[1].trim();
fs.rmSync('data/raw', { recursive: true, force: true });
fs.mkdirSync('data/raw', { recursive: true });
for (const f of fs.readdirSync(src).sort()) fs.copyFileSync(src + '/' + f, 'data/raw/' + f);
`;

const PREPARE = `import fs from 'node:fs';
const files = fs.readdirSync('data/raw').sort();
fs.mkdirSync('data/prepared', { recursive: true });
const test = files.filter((_, i) => i % 4 === 3);
const train = files.filter((_, i) => i % 4 !== 3);
const read = (f) => f + ' ' + fs.readFileSync('data/raw/' + f, 'utf8').trim();
fs.writeFileSync('data/prepared/train.txt', train.map(read).join('\\n') + '\\n');
fs.writeFileSync('data/prepared/test.ids.tsv', test.map(read).join('\\n') + '\\n');
`;

const TRAIN = `import fs from 'node:fs';
const q = Number(fs.readFileSync('params.yaml', 'utf8').match(/quality: (.*)/)[1]);
const lines = fs.readFileSync('data/prepared/train.txt', 'utf8').trim().split('\\n');
const signal = lines.reduce((s, l) => s + Number(l.split(' ')[1]), 0) / lines.length;
fs.mkdirSync('models/model', { recursive: true });
fs.writeFileSync('models/model/weights.json', JSON.stringify({ q, n: lines.length, signal }) + '\\n');
`;

const EVALUATE = `import fs from 'node:fs';
const m = JSON.parse(fs.readFileSync('models/model/weights.json', 'utf8'));
const test = fs.readFileSync('data/prepared/test.ids.tsv', 'utf8').trim().split('\\n');
const hard = test.reduce((s, l) => s + Number(l.split(' ')[1]), 0) / test.length;
const acc = Math.round(((m.q * m.n) / (m.n + 4)) * (1 - 0.01 * hard) * (m.signal / 3) * 10000) / 10000;
fs.mkdirSync('metrics', { recursive: true });
fs.writeFileSync('metrics/eval.json', JSON.stringify({ accuracy: acc, test_images: test.length }) + '\\n');
`;

export const PIPELINE = `stages:
  pull:
    cmd: node pull.mjs
    deps: [pull.mjs]
    params: [pull]
    outs: [data/raw]
  prepare:
    cmd: node prepare.mjs
    deps: [prepare.mjs, data/raw]
    outs: [data/prepared]
  train:
    cmd: node train.mjs
    deps: [train.mjs, data/prepared]
    params: [train]
    outs: [models/model]
  evaluate:
    cmd: node evaluate.mjs
    deps: [evaluate.mjs, models/model, data/prepared]
    metrics:
      - metrics/eval.json:
          cache: false
`;

export const CONFIG = `models:
  cnn:
    path: models/model
    data: data/raw
    test_set: data/prepared/test.ids.tsv
promote:
  model: cnn
  stage: prod
  metric: metrics/eval.json:accuracy
  direction: max
  min_delta: 0.002
  same_test_set: true
  evaluate: evaluate
`;

export interface ModelProject {
  p: TempProject;
  source: string;
  /** Put images 0..n-1 in the source folder (image i has value 1 + i % 3, or `value`). */
  grow(n: number, value?: (i: number) => number): Promise<void>;
}

export async function modelProject(quality = 0.9): Promise<ModelProject> {
  const source = await tempDir('lockstep-model-source-');
  const p = await tempProject({
    'pipeline.yaml': PIPELINE,
    'params.yaml': `pull:\n  source: ${source}\ntrain:\n  quality: ${quality}\n`,
    'pull.mjs': PULL,
    'prepare.mjs': PREPARE,
    'train.mjs': TRAIN,
    'evaluate.mjs': EVALUATE,
    '.lockstep/config.yaml': CONFIG,
    '.gitignore': '.cache/\n/data/\n/models/\n.lockstep/tmp/\n',
  });
  const grow = async (n: number, value: (i: number) => number = (i) => 1 + (i % 3)) => {
    for (let i = 0; i < n; i++)
      await fs.writeFile(path.join(source, `img${String(i).padStart(3, '0')}.txt`), `${value(i)}\n`);
  };
  return { p, source, grow };
}
