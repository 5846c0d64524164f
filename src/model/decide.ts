/** The promotion rule as a pure function: is the challenger better than the champion by enough? */
import type { PromoteRule } from './config.js';

export interface Verdict {
  promoted: boolean;
  /** Signed improvement in the rule's direction (positive: the challenger is better). */
  improvement: number | null;
  reason: string;
}

const fmt = (n: number): string => String(Number(n.toPrecision(6)));

export function decide(rule: PromoteRule, challenger: number, champion: number | null): Verdict {
  const metric = `${rule.metricFile}:${rule.metricKey}`;
  if (champion === null) {
    return { promoted: true, improvement: null, reason: `no model is in ${rule.stage} yet` };
  }
  const improvement = rule.direction === 'max' ? challenger - champion : champion - challenger;
  // Round away float noise (0.9 - 0.898 is 0.0020000000000000018) before comparing with min_delta.
  const rounded = Number(improvement.toFixed(12));
  const promoted = rounded > 0 && rounded >= rule.minDelta;
  const cmp = `${metric} ${fmt(challenger)} vs ${fmt(champion)} (${rule.direction}, min_delta ${rule.minDelta})`;
  if (promoted) return { promoted, improvement, reason: `better: ${cmp}` };
  if (rounded <= 0) return { promoted, improvement, reason: `not better: ${cmp}` };
  return { promoted, improvement, reason: `better by less than min_delta: ${cmp}` };
}
