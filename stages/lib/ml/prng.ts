/**
 * Seeded randomness for the stage programs. Every random choice of training (weight init, dropout,
 * shuffling, augmentation) derives from the `seed` param through these functions, so two runs with
 * the same params draw the same numbers. mulberry32 keeps its whole state in one uint32, which makes
 * it trivial to checkpoint.
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
