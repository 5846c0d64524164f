/**
 * Chunk sizes of the filter-gradient kernels, in float32 elements. Tuned on a 2-core AMD EPYC with
 * 1 MB of L2 per core; tests shrink them to exercise the chunking on small tensors.
 */
export const tuning = {
  /**
   * Padded-grid method: dy cells per chunk × Co. 1 MB: fewer XNNPACK operator creations (each packs dy) against L2
   * reuse.
   */
  gridDyChunk: 1 << 18,
  /** Padded-grid method: inputs with fewer channels than this take the SIMD kernel (when Co is a multiple of 8). */
  gridSimdBelow: 16,
  /** Padded-grid SIMD kernel: dy elements per slice (64 KB: re-read once per four filter rows, so kept in L1/L2). */
  gridSimdSlice: 1 << 14,
  /** im2col method: dy slice per GEMM (256 KB), re-read once per row block of colᵀ, so kept in L2. */
  im2colDyChunk: 1 << 16,
  /** im2col method: cap on the colᵀ buffer. */
  im2colColChunk: 1 << 21,
};

export type KernelTuning = typeof tuning;

/** Overrides some chunk sizes; returns the previous values so a test can restore them. */
export function setKernelTuning(patch: Partial<KernelTuning>): KernelTuning {
  const prev = { ...tuning };
  Object.assign(tuning, patch);
  return prev;
}
