/**
 * Plain data of the hard-examples report. The statistics (hard-examples.ts) are a pure function
 * over these types; loading them from experiment records and the cache lives in load.ts.
 */

import type { PredictionRow } from '../product/predictions.js';

export type { PredictionRow };

/** The predictions of one experiment. */
export interface PredictionRun {
  /** Display name, unique within a report (the experiment name, with @<baseline> when names repeat). */
  name: string;
  /** Where the predictions came from, for messages (e.g. "exp 'a' results/predictions.csv"). */
  source: string;
  /** Class names in the order of the file's p_<class> columns. */
  classes: string[];
  rows: PredictionRow[];
}

export interface HardExampleOptions {
  /** An image is hard when misses / runs >= minRate … */
  minRate: number;
  /** … over at least minRuns runs. */
  minRuns: number;
}

export const DEFAULT_OPTIONS: HardExampleOptions = { minRate: 1.0, minRuns: 2 };

export interface ImageStats {
  id: string;
  path: string;
  trueLabel: string;
  /** Runs whose predictions include this image. */
  runs: number;
  misses: number;
  missRate: number;
  /**
   * The wrong label predicted most often (null when never missed). Ties go to the label that comes
   * first in the class order, so the answer does not depend on the order runs were loaded in.
   */
  topWrongLabel: string | null;
  topWrongCount: number;
  /** Mean over runs of the probability of the true label (dataset cartography's "confidence"). */
  meanPTrue: number;
  /** Population standard deviation (divide by runs, not runs - 1) of that probability ("variability"). */
  stdPTrue: number;
  /** Mean over runs of p_true minus the highest probability of any other class (negative when missed). */
  meanMargin: number;
  /** Names of the runs that got it wrong, in run order. */
  missedBy: string[];
}

export interface ClassSummary {
  label: string;
  /** Images of this true class seen by at least one run. */
  images: number;
  hard: number;
  /** Mean over this class's images of their miss rate. */
  meanMissRate: number;
  /** Mean over this class's images of their mean p_true. */
  meanPTrue: number;
  /** The most frequent top wrong label among this class's hard images (ties: class order), or null. */
  topConfusion: string | null;
}

export interface Confusion {
  trueLabel: string;
  wrongLabel: string;
  /** Hard images of `trueLabel` whose most frequent wrong label is `wrongLabel`. */
  count: number;
}

export interface RunSummary {
  name: string;
  source: string;
  images: number;
  accuracy: number;
}

export interface HardExamplesReport {
  options: HardExampleOptions;
  classes: string[];
  runs: RunSummary[];
  /** Distinct images seen by at least one run. */
  imagesSeen: number;
  /** Images seen by fewer than minRuns runs (never hard, whatever their misses). */
  imagesBelowMinRuns: number;
  /** Hard images, hardest first: miss rate desc, then mean p_true asc, then id asc. */
  hard: ImageStats[];
  byClass: ClassSummary[];
  /** Most common first: count desc, then true label, then wrong label in class order. */
  confusions: Confusion[];
}
