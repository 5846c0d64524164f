/**
 * A tiny learnable data set in the prepare stage's format, for the train/evaluate tests: each class
 * is a colour plus a stripe direction, with seeded noise, so a one-conv model beats chance in an epoch.
 */
import { Mulberry32 } from '../../stages/lib/common/prng.js';
import { writePrepared, SPLITS, type SplitName } from '../../stages/lib/ml/prepared.js';

export const FIXTURE_CLASSES = ['red', 'green', 'blue', 'yellow'];

export interface FixtureOptions {
  size?: number;
  channels?: number;
  counts?: Record<SplitName, number>;
  seed?: number;
}

export async function writeFixture(dir: string, opts: FixtureOptions = {}): Promise<void> {
  const size = opts.size ?? 16;
  const channels = opts.channels ?? 3;
  const counts = opts.counts ?? { train: 160, val: 40, test: 40 };
  const rng = new Mulberry32(opts.seed ?? 7);
  const palette = [
    [200, 40, 40],
    [40, 200, 40],
    [40, 40, 200],
    [200, 200, 40],
  ];
  const splits = {} as Record<
    SplitName,
    { images: Uint8Array; labels: Uint8Array; ids: { id: string; path: string }[] }
  >;
  let serial = 0;
  for (const split of SPLITS) {
    const n = counts[split];
    const images = new Uint8Array(n * size * size * channels);
    const labels = new Uint8Array(n);
    const ids: { id: string; path: string }[] = [];
    for (let i = 0; i < n; i++) {
      const label = i % FIXTURE_CLASSES.length;
      labels[i] = label;
      const colour = palette[label]!;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const stripe = (label % 2 === 0 ? y : x) % 4 < 2 ? 30 : -30;
          for (let c = 0; c < channels; c++) {
            const v = colour[c % 3]! + stripe + Math.round((rng.next() - 0.5) * 120);
            images[((i * size + y) * size + x) * channels + c] = Math.max(0, Math.min(255, v));
          }
        }
      }
      const id = `fx-${String(serial++).padStart(5, '0')}`;
      ids.push({ id, path: `data/raw/${FIXTURE_CLASSES[label]}/${id}.png` });
    }
    splits[split] = { images, labels, ids };
  }
  await writePrepared(dir, { height: size, width: size, channels, classes: FIXTURE_CLASSES }, splits);
}
