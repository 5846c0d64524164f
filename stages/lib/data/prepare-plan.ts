/**
 * Pure planning for the prepare stage: which partitions `data` names, and the stratified, seeded
 * train/val/test split of their images. Unit-tested without a file system.
 */
import { StageError } from '../common/stage.js';
import { Mulberry32, labelSeed, shuffled } from '../common/prng.js';

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];
export type SplitFractions = Record<SplitName, number>;

export interface PreparedItem {
  id: string;
  label: number;
  /** Repository-relative path of the partition copy of the PNG. */
  path: string;
}

/**
 * `v1`, `v1+v2`, ...: a '+'-joined set of distinct, existing partitions. Returns them in the order
 * given; the split itself does not depend on that order (items are sorted by id before shuffling).
 */
export function parseDataSpec(spec: string, valid: readonly string[]): string[] {
  const parts = spec.split('+').map((s) => s.trim());
  const problem = parts.some((p) => p === '')
    ? 'has an empty name'
    : parts.find((p) => !valid.includes(p)) !== undefined
      ? `names unknown partition '${parts.find((p) => !valid.includes(p))}'`
      : new Set(parts).size !== parts.length
        ? 'names a partition twice'
        : undefined;
  if (problem) {
    throw new StageError(
      `data '${spec}' ${problem}: it must be a '+'-joined set of distinct partitions from ${valid.join(', ')}`,
      `Set data to e.g. ${valid[0] ?? 'v1'}${valid[1] ? ` or ${valid[0]}+${valid[1]}` : ''} in params.yaml (or ` +
        `lockstep exp run --data).`,
    );
  }
  return parts;
}

/** Fractions must be positive and sum to 1 (within 1e-9). Returns the problem, or undefined when fine. */
export function splitProblem(split: Record<string, unknown>): string | undefined {
  const keys = Object.keys(split);
  const extra = keys.filter((k) => !(SPLITS as readonly string[]).includes(k));
  if (extra.length)
    return `has unknown key${extra.length > 1 ? 's' : ''} ${extra.join(', ')} (expected ${SPLITS.join(', ')})`;
  const missing = SPLITS.filter((k) => !(k in split));
  if (missing.length) return `lacks ${missing.join(', ')}`;
  for (const k of SPLITS) {
    const v = split[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      return `${k} must be a positive number, got ${JSON.stringify(v)}`;
  }
  const sum = SPLITS.reduce((s, k) => s + (split[k] as number), 0);
  if (Math.abs(sum - 1) > 1e-9) return `fractions sum to ${sum}, not 1`;
  return undefined;
}

/**
 * Splits n items by the fractions: floors first, then the leftover items one each to the splits
 * with the largest remainders (ties in train, val, test order). Always sums to n.
 */
export function splitCounts(n: number, f: SplitFractions): Record<SplitName, number> {
  const exact = SPLITS.map((k) => n * f[k]);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = SPLITS.map((_, i) => i).sort((a, b) => exact[b]! - counts[b]! - (exact[a]! - counts[a]!) || a - b);
  for (const i of order) {
    if (left <= 0) break;
    counts[i]! += 1;
    left--;
  }
  return { train: counts[0]!, val: counts[1]!, test: counts[2]! };
}

/**
 * Stratified split: each class is sorted by id, shuffled with a stream from (seed, class name) and
 * cut by splitCounts; each split is then shuffled as a whole so classes are interleaved.
 */
export function planSplits(
  items: readonly PreparedItem[],
  classes: readonly string[],
  f: SplitFractions,
  seed: number,
): Record<SplitName, PreparedItem[]> {
  const byClass = classes.map((): PreparedItem[] => []);
  for (const it of items) byClass[it.label]?.push(it);
  const out: Record<SplitName, PreparedItem[]> = { train: [], val: [], test: [] };
  byClass.forEach((list, label) => {
    const order = shuffled(
      list.slice().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      new Mulberry32(labelSeed(seed, classes[label]!)),
    );
    const c = splitCounts(order.length, f);
    out.train.push(...order.slice(0, c.train));
    out.val.push(...order.slice(c.train, c.train + c.val));
    out.test.push(...order.slice(c.train + c.val));
  });
  for (const k of SPLITS) out[k] = shuffled(out[k], new Mulberry32(labelSeed(seed, `split:${k}`)));
  return out;
}
