import { LockstepError } from '../errors.js';
import type {
  ClassSummary,
  Confusion,
  HardExampleOptions,
  HardExamplesReport,
  ImageStats,
  PredictionRun,
  RunSummary,
} from './types.js';

/** Accumulates one image's predictions across runs. */
interface Tally {
  id: string;
  path: string;
  trueLabel: string;
  /** Run that first reported the true label, for the inconsistency message. */
  firstSource: string;
  pTrue: number[];
  margins: number[];
  /** Wrong-label counts indexed by class index. */
  wrong: number[];
  missedBy: string[];
}

/**
 * Per-image statistics over every run's predictions and the images that are hard: missed in at least
 * `minRate` of the runs that saw them, over at least `minRuns` runs. Pure: no I/O.
 * Throws LockstepError('report') when runs disagree on the label set or on an image's true label.
 */
export function computeHardExamples(runs: readonly PredictionRun[], opts: HardExampleOptions): HardExamplesReport {
  checkOptions(opts);
  const first = runs[0];
  if (!first) throw new LockstepError('report', 'no predictions to analyse', 'Run lockstep exp run first.');
  const classes = [...first.classes];
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  for (const run of runs) checkSameClasses(first, run);

  const tallies = new Map<string, Tally>();
  const runSummaries: RunSummary[] = [];
  for (const run of runs) {
    // A run's file may order its p_<class> columns differently; map them onto the first run's order.
    const toCanonical = run.classes.map((c) => classIndex.get(c) as number);
    const sameOrder = toCanonical.every((k, i) => k === i);
    let correct = 0;
    for (const row of run.rows) {
      const probs = sameOrder ? row.probs : reorder(row.probs, toCanonical);
      const trueIdx = classIndex.get(row.trueLabel);
      const predIdx = classIndex.get(row.predLabel);
      if (trueIdx === undefined || predIdx === undefined) {
        throw new LockstepError(
          'report',
          `${run.source}: image ${row.id} has a label outside the class list ${classes.join(',')}`,
          'Re-run the evaluate stage.',
        );
      }
      let tally = tallies.get(row.id);
      if (!tally) {
        tally = {
          id: row.id,
          path: row.path,
          trueLabel: row.trueLabel,
          firstSource: run.source,
          pTrue: [],
          margins: [],
          wrong: new Array<number>(classes.length).fill(0),
          missedBy: [],
        };
        tallies.set(row.id, tally);
      } else if (tally.trueLabel !== row.trueLabel) {
        throw new LockstepError(
          'report',
          `image ${row.id} is labelled '${tally.trueLabel}' in ${tally.firstSource} but '${row.trueLabel}' in ` +
            `${run.source}`,
          'Compare experiments evaluated on the same labels (select them with --exp or --rev).',
        );
      }
      tally.pTrue.push(row.pTrue);
      tally.margins.push(row.pTrue - maxOther(probs, trueIdx));
      if (predIdx === trueIdx) {
        correct++;
      } else {
        tally.wrong[predIdx] = (tally.wrong[predIdx] ?? 0) + 1;
        tally.missedBy.push(run.name);
      }
    }
    runSummaries.push({
      name: run.name,
      source: run.source,
      images: run.rows.length,
      accuracy: run.rows.length ? correct / run.rows.length : 0,
    });
  }

  const all = [...tallies.values()].map((t) => toStats(t, classes));
  const hard = all.filter((s) => isHard(s, opts)).sort(hardestFirst);
  return {
    options: { ...opts },
    classes,
    runs: runSummaries,
    imagesSeen: all.length,
    imagesBelowMinRuns: all.filter((s) => s.runs < opts.minRuns).length,
    hard,
    byClass: summariseClasses(all, hard, classes),
    confusions: countConfusions(hard, classes),
  };
}

function checkOptions(opts: HardExampleOptions): void {
  if (!(opts.minRate >= 0 && opts.minRate <= 1)) {
    throw new LockstepError(
      'usage',
      `--min-rate ${opts.minRate} is not a number between 0 and 1`,
      'Pass e.g. --min-rate 0.8.',
    );
  }
  if (!Number.isInteger(opts.minRuns) || opts.minRuns < 1) {
    throw new LockstepError(
      'usage',
      `--min-runs ${opts.minRuns} is not a whole number >= 1`,
      'Pass e.g. --min-runs 2.',
    );
  }
}

function checkSameClasses(a: PredictionRun, b: PredictionRun): void {
  const setA = new Set(a.classes);
  const same = a.classes.length === b.classes.length && b.classes.every((c) => setA.has(c));
  if (!same) {
    throw new LockstepError(
      'report',
      `${b.source} has classes ${b.classes.join(',')} but ${a.source} has ${a.classes.join(',')}`,
      'Compare experiments of one label set (select them with --exp or --rev).',
    );
  }
}

function reorder(probs: readonly number[], toCanonical: readonly number[]): number[] {
  const out = new Array<number>(probs.length).fill(0);
  for (const [i, p] of probs.entries()) out[toCanonical[i] as number] = p;
  return out;
}

function maxOther(probs: readonly number[], skip: number): number {
  let best = -Infinity;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    if (i !== skip && p > best) best = p;
  }
  return best === -Infinity ? 0 : best;
}

function mean(xs: readonly number[]): number {
  let sum = 0;
  for (const x of xs) sum += x;
  return xs.length ? sum / xs.length : 0;
}

/** Population standard deviation, two-pass so near-equal probabilities do not cancel badly. */
export function populationStd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / xs.length);
}

function toStats(t: Tally, classes: readonly string[]): ImageStats {
  const runs = t.pTrue.length;
  const misses = t.missedBy.length;
  const topIdx = argmaxFirst(t.wrong);
  return {
    id: t.id,
    path: t.path,
    trueLabel: t.trueLabel,
    runs,
    misses,
    missRate: misses / runs,
    topWrongLabel: topIdx >= 0 ? (classes[topIdx] ?? null) : null,
    topWrongCount: topIdx >= 0 ? (t.wrong[topIdx] ?? 0) : 0,
    meanPTrue: mean(t.pTrue),
    stdPTrue: populationStd(t.pTrue),
    meanMargin: mean(t.margins),
    missedBy: t.missedBy,
  };
}

/**
 * Compares misses against minRate * runs rather than the rounded quotient, so --min-rate 0.6667
 * and --min-rate 2/3-as-typed both accept 2 misses out of 3 only when meant (tolerance 1e-9).
 */
export function isHard(s: Pick<ImageStats, 'runs' | 'misses'>, opts: HardExampleOptions): boolean {
  return s.runs >= opts.minRuns && s.misses > 0 && s.misses >= opts.minRate * s.runs - 1e-9;
}

/** Miss rate desc, then mean p_true asc, then id asc (code-unit order, independent of locale). */
export function hardestFirst(a: ImageStats, b: ImageStats): number {
  if (a.missRate !== b.missRate) return b.missRate - a.missRate;
  if (a.meanPTrue !== b.meanPTrue) return a.meanPTrue - b.meanPTrue;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Index of the most frequent value; strict > while scanning in class order, so a tie goes to the
 * label earlier in the class order, whatever order the runs were loaded in. -1 when all zero.
 */
function argmaxFirst(counts: readonly number[]): number {
  let best = -1;
  let bestCount = 0;
  counts.forEach((n, i) => {
    if (n > bestCount) {
      best = i;
      bestCount = n;
    }
  });
  return best;
}

function summariseClasses(
  all: readonly ImageStats[],
  hard: readonly ImageStats[],
  classes: readonly string[],
): ClassSummary[] {
  return classes.map((label) => {
    const mine = all.filter((s) => s.trueLabel === label);
    const myHard = hard.filter((s) => s.trueLabel === label);
    const counts = classes.map((c) => myHard.filter((s) => s.topWrongLabel === c).length);
    const top = argmaxFirst(counts);
    return {
      label,
      images: mine.length,
      hard: myHard.length,
      meanMissRate: mean(mine.map((s) => s.missRate)),
      meanPTrue: mean(mine.map((s) => s.meanPTrue)),
      topConfusion: top >= 0 ? (classes[top] ?? null) : null,
    };
  });
}

function countConfusions(hard: readonly ImageStats[], classes: readonly string[]): Confusion[] {
  const order = new Map(classes.map((c, i) => [c, i]));
  const counts = new Map<string, Confusion>();
  for (const s of hard) {
    if (s.topWrongLabel === null) continue;
    const key = `${s.trueLabel}\u0000${s.topWrongLabel}`;
    const c = counts.get(key) ?? { trueLabel: s.trueLabel, wrongLabel: s.topWrongLabel, count: 0 };
    c.count++;
    counts.set(key, c);
  }
  const rank = (l: string) => order.get(l) ?? 0;
  return [...counts.values()].sort(
    (a, b) => b.count - a.count || rank(a.trueLabel) - rank(b.trueLabel) || rank(a.wrongLabel) - rank(b.wrongLabel),
  );
}
