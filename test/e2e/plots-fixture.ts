/**
 * A small project whose `train` stage is a fake training run (no TensorFlow): it writes per-epoch
 * curves to plots/train.json (epochs and lr from params.yaml), per-image predictions to a cached
 * results/pred.csv, and per-class scores to plots/per_class.json, with DVC plot definitions for them.
 */
import { tempProject, type TempProject } from '../helpers/project.js';

export const FAKE_TRAIN = `import fs from 'node:fs';
const text = fs.readFileSync('params.yaml', 'utf8');
const epochs = Number(/epochs: *(\\d+)/.exec(text)[1]);
const lr = Number(/lr: *([\\d.]+)/.exec(text)[1]);
const seed = Number(/seed: *(\\d+)/.exec(text)[1]);
const data = /data: *(\\S+)/.exec(text)[1];
const delay = Number(process.env.FAKE_EPOCH_MS ?? 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
fs.mkdirSync('plots', { recursive: true });
fs.mkdirSync('results', { recursive: true });
fs.mkdirSync('metrics', { recursive: true });
const history = [];
for (let e = 1; e <= epochs; e++) {
  if (delay) await sleep(delay);
  history.push({ epoch: e, loss: +(2 / (e * lr * 10)).toFixed(4), accuracy: +(0.5 + e / 40).toFixed(4),
    val_loss: +(2.2 / (e * lr * 10)).toFixed(4), val_acc: +(0.45 + e / 45).toFixed(4), lr });
  // written whole after each epoch (temp + rename), as the real train stage does
  fs.writeFileSync('plots/train.json.tmp', JSON.stringify(history, null, 1));
  fs.renameSync('plots/train.json.tmp', 'plots/train.json');
  console.log('epoch ' + e + '/' + epochs + ': loss ' + history[e - 1].loss);
}
const classes = ['cat', 'dog', 'ship'];
let csv = 'id,true_label,pred_label\\n';
for (let i = 0; i < 30; i++) csv += i + ',' + classes[i % 3] + ',' + classes[(i * epochs) % 7 % 3] + '\\n';
fs.writeFileSync('results/pred.csv', csv);
const perClass = classes.map((c, i) => ({ class: c, f1: +(0.5 + i / 10 + epochs / 100).toFixed(3) }));
fs.writeFileSync('plots/per_class.json', JSON.stringify(perClass));
const bonus = (data === 'v1' ? 0 : 0.05) + seed / 1000;
fs.writeFileSync('metrics/eval.json', JSON.stringify({ accuracy: +(0.5 + epochs / 40 + bonus).toFixed(4) }));
`;

export const PARAMS_YAML = 'epochs: 4\nlr: 0.1\ndata: v1\nseed: 1\n';

export const PIPELINE = `stages:
  train:
    cmd: node fake-train.mjs
    deps: [fake-train.mjs]
    params: [epochs, lr, data, seed]
    outs: [results/pred.csv]
    metrics:
      - metrics/eval.json:
          cache: false
    plots:
      - plots/train.json:
          cache: false
          x: epoch
          y: [loss, val_loss]
          title: Loss per epoch
          y_label: cross-entropy
      - plots/per_class.json:
          cache: false
          template: bar_horizontal_sorted
          x: f1
          y: class
          title: F1 per class
plots:
  - accuracy:
      x: epoch
      y: {plots/train.json: [accuracy, val_acc]}
      title: Accuracy per epoch
  - confusion:
      template: confusion
      x: true_label
      y: {results/pred.csv: pred_label}
      x_label: true class
      y_label: predicted class
`;

/** The project with one run committed (epochs 4, lr 0.1); the workspace left as that run wrote it. */
export async function plotsProject(): Promise<TempProject> {
  const p = await tempProject({
    'pipeline.yaml': PIPELINE,
    'params.yaml': PARAMS_YAML,
    'fake-train.mjs': FAKE_TRAIN,
    '.gitignore': '.cache/\n/results/\n/dvc_plots/\n',
  });
  const r = await p.run(['repro']);
  if (r.exitCode !== 0) throw new Error(r.all);
  const { simpleGit } = await import('simple-git');
  await simpleGit(p.dir).add('.').commit('first run');
  return p;
}
