/**
 * By hand: `npx tsc -p . && node dist/bench/hard-examples.js [runs] [images]`.
 * Parses and analyses synthetic predictions of a CIFAR-10-sized sweep (default 15 runs x 6,000 test
 * images, 10 classes) the way `lockstep hard-examples` does, and prints the time of each step.
 */
import { performance } from 'node:perf_hooks';
import { computeHardExamples, hardExamplesCsv, parsePredictionsCsv } from '../src/report/index.js';

const RUNS = Number(process.argv[2] ?? 15);
const IMAGES = Number(process.argv[3] ?? 6000);
const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** mulberry32: a deterministic stream so every run of the bench sees the same data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function predictions(seed: number): string {
  const rand = rng(seed);
  const lines = [
    ['id', 'path', 'true_label', 'pred_label', 'p_true', 'p_pred', ...CLASSES.map((c) => `p_${c}`)].join(','),
  ];
  for (let i = 0; i < IMAGES; i++) {
    const t = i % CLASSES.length;
    // every 50th image looks like the next class, so some images are hard in every run
    const like = i % 50 === 0 ? (t + 1) % CLASSES.length : t;
    const raw = CLASSES.map((_, k) => rand() + (k === like ? 1.5 + (i % 7) / 3 : 0));
    const sum = raw.reduce((a, b) => a + b, 0);
    const probs = raw.map((x) => x / sum);
    const pred = probs.indexOf(Math.max(...probs));
    const id = `train-${String(i).padStart(5, '0')}`;
    lines.push(
      [
        id,
        `data/partitions/v1/${CLASSES[t]}/${id}.png`,
        CLASSES[t],
        CLASSES[pred],
        (probs[t] as number).toFixed(6),
        (probs[pred] as number).toFixed(6),
        ...probs.map((p) => p.toFixed(6)),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

const texts = Array.from({ length: RUNS }, (_, i) => predictions(i + 1));
const t0 = performance.now();
const runs = texts.map((text, i) => ({
  name: `exp-${i}`,
  source: `exp-${i}`,
  ...parsePredictionsCsv(text, `exp-${i}`),
}));
const t1 = performance.now();
const report = computeHardExamples(runs, { minRate: 1, minRuns: 2 });
const t2 = performance.now();
const csv = hardExamplesCsv(report);
const t3 = performance.now();
const mb = texts.reduce((a, t) => a + t.length, 0) / 1e6;
console.log(
  `${RUNS} runs x ${IMAGES} images (${mb.toFixed(1)} MB of CSV): parse ${(t1 - t0).toFixed(0)} ms, statistics ${(t2 - t1).toFixed(0)} ms, CSV ${(t3 - t2).toFixed(0)} ms; ${report.hard.length} hard, ${csv.length} bytes`,
);
