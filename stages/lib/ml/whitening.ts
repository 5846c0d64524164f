/**
 * The frozen patch-whitening first convolution of Keller Jordan's airbench ("94% on CIFAR-10 in 3.29 Seconds on a
 * Single GPU", 2024), computed from the training images: the eigenvectors of the covariance of their k×k patches
 * (normalised pixels), each scaled by 1/sqrt(eigenvalue + ε), and the same filters negated, so the ReLU after the
 * convolution passes both signs of every decorrelated direction. For 2×2 patches of 3 channels: 12 directions, 24
 * filters. Plain float64 loops in a fixed order and a deterministic symmetric eigensolver (ml-matrix), so the same
 * images give the same kernel bits on every machine and backend.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface PatchShape {
  height: number;
  width: number;
  channels: number;
}

/**
 * The uncentred covariance (1/n Σ p pᵀ, as airbench) of every k×k patch (stride 1, no padding) of the first
 * `count` images, pixel values mapped through `lut` (lut[c*256 + v], the stages' normalisation). Index order of a
 * patch vector: (dy*k + dx)*C + c, the order of a [k, k, C, out] convolution kernel's first three axes.
 */
export function patchCovariance(
  images: Uint8Array,
  count: number,
  shape: PatchShape,
  lut: Float32Array,
  k: number,
): Float64Array {
  const { height: H, width: W, channels: C } = shape;
  const d = k * k * C;
  const sums = new Float64Array(d * d);
  const p = new Float64Array(d);
  const size = H * W * C;
  let n = 0;
  for (let img = 0; img < count; img++) {
    const base = img * size;
    for (let y = 0; y + k <= H; y++) {
      for (let x = 0; x + k <= W; x++) {
        for (let dy = 0; dy < k; dy++)
          for (let dx = 0; dx < k; dx++)
            for (let c = 0; c < C; c++)
              p[(dy * k + dx) * C + c] = lut[c * 256 + images[base + ((y + dy) * W + x + dx) * C + c]!]!;
        for (let i = 0; i < d; i++) {
          const pi = p[i]!;
          for (let j = i; j < d; j++) sums[i * d + j]! += pi * p[j]!;
        }
        n++;
      }
    }
  }
  for (let i = 0; i < d; i++)
    for (let j = i; j < d; j++) {
      const v = n ? sums[i * d + j]! / n : 0;
      sums[i * d + j] = v;
      sums[j * d + i] = v;
    }
  return sums;
}

/**
 * The whitening kernel in tf's [k, k, C, 2·k·k·C] layout from a d×d covariance: filter o < d is the eigenvector of
 * the o-th largest eigenvalue λ divided by sqrt(λ + eps), filter d + o the same negated (airbench's eps is 5e-4).
 */
export function whiteningKernel(covariance: Float64Array, d: number, eps: number): Float32Array {
  const rows = Array.from({ length: d }, (_, i) => Array.from(covariance.subarray(i * d, (i + 1) * d)));
  const eig = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const vectors = eig.eigenvectorMatrix;
  // ml-matrix returns ascending eigenvalues; largest first as airbench (ties keep the solver's order).
  const order = values.map((_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
  const out = 2 * d;
  const kernel = new Float32Array(d * out);
  order.forEach((col, o) => {
    const scale = 1 / Math.sqrt(Math.max(values[col]!, 0) + eps);
    for (let i = 0; i < d; i++) {
      const w = vectors.get(i, col) * scale;
      kernel[i * out + o] = w;
      kernel[i * out + d + o] = -w;
    }
  });
  return kernel;
}

/** airbench whitens with the first 5,000 training images; more changes the estimate little. */
export const WHITENING_IMAGES = 5000;
export const WHITENING_EPS = 5e-4;
