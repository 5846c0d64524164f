/**
 * Seeded randomness for the stage programs (Math.random cannot be seeded). Every random choice
 * (partitions, splits, weight init, dropout, shuffling, augmentation) derives from a seed param
 * through these functions, so two runs with the same params draw the same numbers on every machine
 * and Node version. mulberry32 keeps its whole state in one uint32, which makes it trivial to checkpoint.
 */
export class Mulberry32 {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  get state(): number {
    return this.s;
  }
  set state(value: number) {
    this.s = value >>> 0;
  }
  /** Next uint32. */
  nextU32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/**
 * A uint32 derived from a base seed and labels, so independent streams (per layer, per purpose,
 * per step) never share a sequence. FNV-1a over the labels, then a murmur3 finaliser.
 */
export function deriveSeed(base: number, ...labels: (string | number)[]): number {
  let h = (0x811c9dc5 ^ (base >>> 0)) >>> 0;
  for (const label of labels) {
    const text = `|${label}`;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The seed of a per-label stream for the data stages (partition and prepare shuffle each class with
 * `labelSeed(seed, className)`), so adding a class does not reshuffle the others. FNV-1a over the
 * label mixed with the seed, then one mulberry32 draw. It predates deriveSeed and differs from it; it
 * stays as it is because changing it would change every partition and split already made.
 */
export function labelSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // One round of the mixer so nearby seeds give unrelated streams.
  return Math.floor(new Mulberry32(h ^ Math.imul(seed >>> 0, 0x9e3779b1)).next() * 4294967296);
}

/** Fisher-Yates shuffle of a copy of `items`. */
export function shuffled<T>(items: readonly T[], rng: Mulberry32): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}

/** Fisher-Yates shuffle of 0..n-1 drawn from `rng`. */
export function permutation(n: number, rng: Mulberry32): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}
