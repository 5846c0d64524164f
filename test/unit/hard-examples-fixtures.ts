import { PNG } from 'pngjs';
import type { PredictionRun } from '../../src/report/types.js';

/** [id, true label, predicted label, probabilities in class order]; path = data/p/<true>/<id>.png. */
export type Row = [string, string, string, number[]];

export const imagePath = (id: string, label: string): string => `data/p/${label}/${id}.png`;

/** The text of an evaluate stage's predictions.csv for these rows (6-decimal probabilities). */
export function predictionsCsv(classes: string[], rows: Row[]): string {
  const head = ['id', 'path', 'true_label', 'pred_label', 'p_true', 'p_pred', ...classes.map((c) => `p_${c}`)].join(
    ',',
  );
  const lines = rows.map(([id, t, p, probs]) => {
    const pt = probs[classes.indexOf(t)] as number;
    const pp = probs[classes.indexOf(p)] as number;
    return [id, imagePath(id, t), t, p, pt.toFixed(6), pp.toFixed(6), ...probs.map((x) => x.toFixed(6))].join(',');
  });
  return `${[head, ...lines].join('\n')}\n`;
}

/** A PredictionRun built directly, as the loader would return it. */
export function run(name: string, classes: string[], rows: Row[]): PredictionRun {
  return {
    name,
    source: `experiment '${name}' results/predictions.csv`,
    classes,
    rows: rows.map(([id, t, p, probs]) => ({
      id,
      path: imagePath(id, t),
      trueLabel: t,
      predLabel: p,
      pTrue: probs[classes.indexOf(t)] as number,
      pPred: probs[classes.indexOf(p)] as number,
      probs,
    })),
  };
}

export const CLASSES = ['cat', 'dog', 'frog'];

/**
 * Two runs with hand-computed answers:
 * img1 cat: A says dog (p_true .2), B says frog (.4) -> 2/2 missed, tie dog/frog -> dog (class order),
 *           mean .3, std .1, margins -.5 and -.1 -> -.3
 * img2 dog: A right (.8), B says cat (.3) -> 1/2, mean .55, std .25, margins .7 and -.3 -> .2
 * img3 frog: A says cat (.4), B says dog (.3) -> 2/2, tie cat/dog -> cat, mean .35, std .05, margin -.15
 * img4 cat: only A, says frog (.1) -> 1/1, std 0
 */
export const RUN_A: Row[] = [
  ['img1', 'cat', 'dog', [0.2, 0.7, 0.1]],
  ['img2', 'dog', 'dog', [0.1, 0.8, 0.1]],
  ['img3', 'frog', 'cat', [0.5, 0.1, 0.4]],
  ['img4', 'cat', 'frog', [0.1, 0.1, 0.8]],
];
export const RUN_B: Row[] = [
  ['img1', 'cat', 'frog', [0.4, 0.1, 0.5]],
  ['img2', 'dog', 'cat', [0.6, 0.3, 0.1]],
  ['img3', 'frog', 'dog', [0.2, 0.5, 0.3]],
];

/** A solid-colour PNG (CIFAR size by default). */
export function solidPng(rgb: [number, number, number], size = 32): Buffer {
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) {
    png.data[i * 4] = rgb[0];
    png.data[i * 4 + 1] = rgb[1];
    png.data[i * 4 + 2] = rgb[2];
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}
