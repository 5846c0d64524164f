import { stringify } from 'csv-stringify/sync';
import type { HardExamplesReport } from './types.js';

/** Column order of results/hard_examples.csv; part of the file's contract, append only. */
export const HARD_EXAMPLES_COLUMNS = [
  'id',
  'path',
  'true_label',
  'runs',
  'misses',
  'miss_rate',
  'top_wrong_label',
  'top_wrong_count',
  'mean_p_true',
  'std_p_true',
  'mean_margin',
] as const;

/** Fixed precision so the same predictions always give the same bytes. */
export const fixed = (x: number): string => (Object.is(x, -0) ? 0 : x).toFixed(6).replace(/^-(0\.0+)$/, '$1');

/** One row per hard image, hardest first (the report's order), LF line ends, header always present. */
export function hardExamplesCsv(report: HardExamplesReport): string {
  const rows = report.hard.map((s) => [
    s.id,
    s.path,
    s.trueLabel,
    String(s.runs),
    String(s.misses),
    fixed(s.missRate),
    s.topWrongLabel ?? '',
    String(s.topWrongCount),
    fixed(s.meanPTrue),
    fixed(s.stdPTrue),
    fixed(s.meanMargin),
  ]);
  return stringify([[...HARD_EXAMPLES_COLUMNS], ...rows], { record_delimiter: '\n' });
}
