/**
 * Pure planning of the partitions v1..vK: disjoint, equal-sized, stratified by class, drawn with a
 * seeded PRNG. No file system here, so the rules are unit-tested directly.
 */
import { StageError } from '../common/stage.js';
import { Mulberry32, labelSeed, shuffled } from '../common/prng.js';

export interface LabeledId {
  id: string;
  label: number;
}

export const partitionName = (k: number): string => `v${k + 1}`;

/** The largest partition size: each class can give at most floor(n / parts) images to every partition. */
export const maxPartitionSize = (classCounts: readonly number[], parts: number): number =>
  classCounts.reduce((sum, n) => sum + Math.floor(n / parts), 0);

/**
 * How many images of each class go into every partition: equal shares, the remainder to the lowest
 * labels, and a class too small for its share gives the rest to the others (water-filling).
 */
export function classQuotas(classCounts: readonly number[], size: number, parts: number): number[] {
  const caps = classCounts.map((n) => Math.floor(n / parts));
  const max = caps.reduce((a, b) => a + b, 0);
  if (size > max) throw new RangeError(`size ${size} over maximum ${max}`);
  const quotas = caps.map(() => 0);
  let remaining = size;
  while (remaining > 0) {
    const open = quotas.map((_q, i) => i).filter((i) => quotas[i]! < caps[i]!);
    const share = Math.floor(remaining / open.length);
    if (share === 0) {
      for (const i of open.slice(0, remaining)) quotas[i]! += 1;
      break;
    }
    for (const i of open) {
      const give = Math.min(share, caps[i]! - quotas[i]!);
      quotas[i]! += give;
      remaining -= give;
    }
  }
  return quotas;
}

/**
 * Ids of each partition, sorted. Each class's ids are sorted, shuffled with a stream derived from
 * (seed, class name) and cut into consecutive runs, so partitions are disjoint by construction and
 * the result depends only on the set of images, never on the order they were listed in.
 */
export function planPartitions(
  items: readonly LabeledId[],
  classes: readonly string[],
  size: number,
  parts: number,
  seed: number,
): string[][] {
  const byClass = classes.map((): string[] => []);
  for (const it of items) {
    const bucket = byClass[it.label];
    if (!bucket)
      throw new StageError(
        `image ${it.id} has label ${it.label}, but there are ${classes.length} classes`,
        'Re-run the pull stage.',
      );
    bucket.push(it.id);
  }
  const counts = byClass.map((ids) => ids.length);
  const max = maxPartitionSize(counts, parts);
  if (size > max) {
    throw new StageError(
      `partition.size ${size} is too large: ${parts} disjoint stratified partitions of ${items.length} images allow ` +
        `at most ${max}`,
      `Set partition.size to ${max} or less in params.yaml.`,
    );
  }
  const quotas = classQuotas(counts, size, parts);
  const out = Array.from({ length: parts }, (): string[] => []);
  byClass.forEach((ids, label) => {
    const q = quotas[label]!;
    const order = shuffled(ids.slice().sort(), new Mulberry32(labelSeed(seed, classes[label]!)));
    for (let k = 0; k < parts; k++) out[k]!.push(...order.slice(k * q, (k + 1) * q));
  });
  return out.map((ids) => ids.sort());
}
