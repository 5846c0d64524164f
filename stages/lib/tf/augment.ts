/**
 * Batches built straight from the uint8 pixel buffers: per-channel normalisation through a lookup
 * table, plus the training augmentation (random crop with zero or mirrored padding, horizontal flip,
 * random or alternating) drawn from a seeded PRNG. Plain loops over typed arrays: no tensors are
 * created here, so nothing can leak, and the result is bit-identical on every backend.
 */
import type { Mulberry32 } from '../common/prng.js';

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

/** Per-channel mean and standard deviation of pixel/255 over a split, saved with the model. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export function channelStats(images: Uint8Array, channels: number): Normalization {
  // Integer histograms per channel: exact and order-independent, so the stats are reproducible.
  const hist = Array.from({ length: channels }, () => new Float64Array(256));
  for (let i = 0, c = 0; i < images.length; i++) {
    hist[c]![images[i]!]!++;
    if (++c === channels) c = 0;
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (const h of hist) {
    let n = 0;
    let sum = 0;
    for (let v = 0; v < 256; v++) {
      n += h[v]!;
      sum += h[v]! * v;
    }
    const m = n ? sum / n : 0;
    let varSum = 0;
    for (let v = 0; v < 256; v++) varSum += h[v]! * (v - m) ** 2;
    const sd = n ? Math.sqrt(varSum / n) : 0;
    mean.push(m / 255);
    // A constant channel would divide by zero; 1 leaves it centred instead.
    std.push(sd > 0 ? sd / 255 : 1);
  }
  return { mean, std };
}

/** lut[c*256 + v] = (v/255 - mean[c]) / std[c]. */
export function normalizationTable(norm: Normalization): Float32Array {
  const channels = norm.mean.length;
  const lut = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - norm.mean[c]!) / norm.std[c]!;
  }
  return lut;
}

export interface Augmentation {
  rng: Mulberry32;
  /** Pixels of padding for the random crop, i.e. of translation each way (4 for CIFAR-10). */
  pad: number;
  /** A random flip with probability 1/2 (drawn from `rng`). */
  flip: boolean;
  /** Pixels brought in by the translation mirror the image at its edge instead of being 0. */
  reflect?: boolean;
  /**
   * airbench94's alternating flip instead of the random one: image i is mirrored when flipBits[i] differs from the
   * parity of the epoch (0-based), so each image shows both sides in every two epochs.
   */
  alternate?: { flipBits: Uint8Array; epoch: number };
}

/** One image's random crop offset (-pad..pad each way) and flip, drawn from `aug.rng` in this order. */
export function drawAugmentation(aug: Augmentation): { dy: number; dx: number; flip: boolean } {
  const dy = aug.pad ? aug.rng.int(2 * aug.pad + 1) - aug.pad : 0;
  const dx = aug.pad ? aug.rng.int(2 * aug.pad + 1) - aug.pad : 0;
  const flip = aug.flip && aug.rng.next() < 0.5;
  return { dy, dx, flip };
}

/** The first epoch's side of each of `count` images for the alternating flip: a seeded coin each. */
export function flipBits(count: number, rng: Mulberry32): Uint8Array {
  const bits = new Uint8Array(count);
  for (let i = 0; i < count; i++) bits[i] = rng.next() < 0.5 ? 1 : 0;
  return bits;
}

/**
 * Writes images `order[start .. start+count)` of `images` (order null: images start..start+count)
 * into `out` (count*H*W*C floats, NHWC),
 * normalised, and augmented when `aug` is given. Padding pixels get the value 0, i.e. the channel
 * mean after normalisation.
 */
export function fillImages(
  out: Float32Array,
  images: Uint8Array,
  shape: ImageShape,
  lut: Float32Array,
  order: ArrayLike<number> | null,
  start: number,
  count: number,
  aug?: Augmentation,
): void {
  const { height: H, width: W, channels: C } = shape;
  const size = H * W * C;
  for (let b = 0; b < count; b++) {
    const src = (order ? order[start + b]! : start + b) * size;
    const dst = b * size;
    if (!aug) {
      normalizePixels(out, dst, images, src, H * W, C, lut);
      continue;
    }
    const { dy, dx, flip } = drawAugmentation(aug);
    const alt = aug.alternate;
    const mirrored = alt ? alt.flipBits[src / size]! !== (alt.epoch & 1) : flip;
    writeShifted(out, dst, images, src, shape, lut, { dy, dx, flip: mirrored }, aug.reflect === true);
  }
}

/** How one image is moved: output pixel (y, x) is source pixel (y + dy, x' + dx), x' = W-1-x when flipped. */
export interface View {
  dy: number;
  dx: number;
  flip: boolean;
}

/**
 * Index `i` mirrored into 0..n-1 at the edges without repeating the edge pixel (PyTorch's 'reflect'); held at the
 * edge when the shift is longer than the image.
 */
const reflectIndex = (i: number, n: number) => {
  const r = i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
  return r < 0 ? 0 : r >= n ? n - 1 : r;
};

/**
 * Writes the image at `src` of `images` into `out` at `dst`, normalised and moved by `view`; pixels from outside
 * the image get 0 (the channel mean after normalisation), as the training crops' zero padding, or with `reflect`
 * the image mirrored at its edge.
 */
export function writeShifted(
  out: Float32Array,
  dst: number,
  images: Uint8Array,
  src: number,
  shape: ImageShape,
  lut: Float32Array,
  view: View,
  reflect = false,
): void {
  const { height: H, width: W, channels: C } = shape;
  const { dy, dx, flip } = view;
  const row = W * C;
  for (let y = 0; y < H; y++) {
    const sy = reflect ? reflectIndex(y + dy, H) : y + dy;
    const rowOut = dst + y * row;
    if (sy < 0 || sy >= H) {
      out.fill(0, rowOut, rowOut + row);
      continue;
    }
    const rowSrc = src + sy * row;
    if (!reflect && !flip && dx >= -W && dx <= W) {
      // A straight shift: zeros, then one run of source pixels, then zeros.
      const first = Math.max(0, -dx);
      const end = Math.min(W, W - dx);
      out.fill(0, rowOut, rowOut + first * C);
      normalizePixels(out, rowOut + first * C, images, rowSrc + (first + dx) * C, end - first, C, lut);
      out.fill(0, rowOut + end * C, rowOut + row);
      continue;
    }
    for (let x = 0; x < W; x++) {
      const sx = reflect ? reflectIndex((flip ? W - 1 - x : x) + dx, W) : (flip ? W - 1 - x : x) + dx;
      const o = rowOut + x * C;
      if (sx < 0 || sx >= W) out.fill(0, o, o + C);
      else normalizePixels(out, o, images, rowSrc + sx * C, 1, C, lut);
    }
  }
}

/** `pixels` pixels of `images` from `src` on, normalised through `lut`, into `out` from `dst` on. */
function normalizePixels(
  out: Float32Array,
  dst: number,
  images: Uint8Array,
  src: number,
  pixels: number,
  C: number,
  lut: Float32Array,
): void {
  if (C === 3) {
    for (let i = 0, n = pixels * 3; i < n; i += 3) {
      out[dst + i] = lut[images[src + i]!]!;
      out[dst + i + 1] = lut[256 + images[src + i + 1]!]!;
      out[dst + i + 2] = lut[512 + images[src + i + 2]!]!;
    }
    return;
  }
  for (let i = 0, c = 0, n = pixels * C; i < n; i++) {
    out[dst + i] = lut[c * 256 + images[src + i]!]!;
    if (++c === C) c = 0;
  }
}

/** Writes images start..start+count of `images` into `out`, each normalised and moved by `view`. */
export function fillView(
  out: Float32Array,
  images: Uint8Array,
  shape: ImageShape,
  lut: Float32Array,
  start: number,
  count: number,
  view: View,
): void {
  const size = shape.height * shape.width * shape.channels;
  for (let b = 0; b < count; b++) writeShifted(out, b * size, images, (start + b) * size, shape, lut, view);
}

/** Mirrors `count` NHWC images of `buf` left to right, in place (test-time augmentation). */
export function mirrorImages(buf: Float32Array, count: number, shape: ImageShape): void {
  const { height: H, width: W, channels: C } = shape;
  for (let b = 0; b < count; b++) {
    for (let y = 0; y < H; y++) {
      const row = (b * H + y) * W * C;
      for (let x = 0; x < W >> 1; x++) {
        const l = row + x * C;
        const r = row + (W - 1 - x) * C;
        for (let c = 0; c < C; c++) {
          const t = buf[l + c]!;
          buf[l + c] = buf[r + c]!;
          buf[r + c] = t;
        }
      }
    }
  }
}

/** One-hot labels for the same slice of `order`; with `smoothing` ε, 1 - ε + ε/classes and ε/classes. */
export function fillOneHot(
  out: Float32Array,
  labels: Uint8Array,
  classes: number,
  order: ArrayLike<number> | null,
  start: number,
  count: number,
  smoothing = 0,
): void {
  const off = smoothing / classes;
  out.fill(off, 0, count * classes);
  for (let b = 0; b < count; b++)
    out[b * classes + labels[order ? order[start + b]! : start + b]!] = 1 - smoothing + off;
}
