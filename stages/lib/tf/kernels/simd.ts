/**
 * Kernels hand-written in WebAssembly text with SIMD, for the loops that JavaScript runs too slowly
 * on the heap (the 2x2 max-pool gradient: ~23 ns per output in JS, ~1 ns here) or that XNNPACK
 * serves badly (a GEMM with few rows and a long reduction, where packing its operand dominates). The text is
 * assembled at start-up by wabt (the WebAssembly Binary Toolkit, compiled to JS) and instantiated
 * on tfjs-backend-wasm's own memory, so the kernels read and write tensors where they are:
 * `backend.wasm.asm.memory` in the single-threaded build, the shared `backend.wasm.wasmMemory` in
 * the threaded one. They run on the calling (main) thread.
 */
import wabtInit from 'wabt';
import type { WasmBackend } from './wasm-heap.js';

/** Per row r of the four: its accumulators $c{r}0, $c{r}1 (output columns col…col+7). */
const ROWS = [0, 1, 2, 3];
const acc = (r: number, h: number) => `(local.get $c${r}${h})`;

/**
 * gemm4Acc (see SimdKernels): for each block of 8 output columns, 4 × 2 f32x4 accumulators stay in
 * registers across the whole reduction; per step one row of b (2 loads) meets one value of each a row.
 */
const gemm4AccWat = `  (func (export "gemm4Acc") (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32)
    (param $b i32) (param $n i32) (param $c i32) (param $k i32)
    (local $rowBytes i32) (local $col i32) (local $bp i32) (local $o i32) (local $kk i32) (local $cp i32)
    (local $s v128) (local $b0 v128) (local $b1 v128)
    ${ROWS.map((r) => `(local $c${r}0 v128) (local $c${r}1 v128)`).join(' ')}
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $col (i32.const 0))
    (block $cols (loop $colBlocks
      (br_if $cols (i32.ge_u (local.get $col) (local.get $rowBytes)))
${ROWS.map(
  (r) => `      (local.set $c${r}0 (v128.const i32x4 0 0 0 0))
      (local.set $c${r}1 (v128.const i32x4 0 0 0 0))`,
).join('\n')}
      (local.set $bp (i32.add (local.get $b) (local.get $col)))
      (local.set $o (i32.const 0))
      (local.set $kk (local.get $k))
      (block $done (loop $steps
        (br_if $done (i32.eqz (local.get $kk)))
        (local.set $b0 (v128.load (local.get $bp)))
        (local.set $b1 (v128.load offset=16 (local.get $bp)))
${ROWS.map(
  (r) => `        (local.set $s (f32x4.splat (f32.load (i32.add (local.get $a${r}) (local.get $o)))))
        (local.set $c${r}0 (f32x4.add ${acc(r, 0)} (f32x4.mul (local.get $s) (local.get $b0))))
        (local.set $c${r}1 (f32x4.add ${acc(r, 1)} (f32x4.mul (local.get $s) (local.get $b1))))`,
).join('\n')}
        (local.set $bp (i32.add (local.get $bp) (local.get $rowBytes)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (local.set $kk (i32.sub (local.get $kk) (i32.const 1)))
        (br $steps)))
      ;; c[r, col…col+7] += the accumulators, row by row
      (local.set $cp (i32.add (local.get $c) (local.get $col)))
${ROWS.map(
  (r) => `      (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) ${acc(r, 0)}))
      (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) ${acc(r, 1)}))
      (local.set $cp (i32.add (local.get $cp) (local.get $rowBytes)))`,
).join('\n')}
      (local.set $col (i32.add (local.get $col) (i32.const 32)))
      (br $colBlocks))))
`;

/**
 * maxPoolGrad2x2(x, dy, dx, rows, wo, c): byte offsets of x [.., 2·rows, 2·wo, c], dy [.., rows,
 * wo, c] and dx (x's shape); `rows` = images × output rows; c a multiple of 4. Every dx value is
 * written: dy at the first maximum of its window (a strictly greater value wins, so NaN never
 * does, and a window of -Infinity gets none, as in the cpu backend), 0 elsewhere.
 */
const watSource = (memory: string) => `(module
  (import "env" "memory" ${memory})
  (func (export "maxPoolGrad2x2") (param $x i32) (param $dy i32) (param $dx i32) (param $rows i32) (param $wo i32)
    (param $c i32)
    (local $cBytes i32) (local $rowBytes i32) (local $ow i32) (local $k i32)
    (local $a v128) (local $b v128) (local $e v128) (local $f v128) (local $v v128) (local $gv v128)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128) (local $r v128)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    (local.set $rowBytes (i32.mul (i32.shl (local.get $wo) (i32.const 1)) (local.get $cBytes)))
    (block $done (loop $pairs
      (br_if $done (i32.eqz (local.get $rows)))
      (local.set $ow (local.get $wo))
      (loop $windows
        (local.set $k (local.get $cBytes))
        (loop $lanes
          (local.set $a (v128.load (local.get $x)))
          (local.set $b (v128.load (i32.add (local.get $x) (local.get $cBytes))))
          (local.set $e (v128.load (i32.add (local.get $x) (local.get $rowBytes))))
          (local.set $f (v128.load (i32.add (i32.add (local.get $x) (local.get $rowBytes)) (local.get $cBytes))))
          (local.set $v (f32x4.splat (f32.const -inf)))
          (local.set $g0 (f32x4.gt (local.get $a) (local.get $v)))
          (local.set $v (v128.bitselect (local.get $a) (local.get $v) (local.get $g0)))
          (local.set $g1 (f32x4.gt (local.get $b) (local.get $v)))
          (local.set $v (v128.bitselect (local.get $b) (local.get $v) (local.get $g1)))
          (local.set $g2 (f32x4.gt (local.get $e) (local.get $v)))
          (local.set $v (v128.bitselect (local.get $e) (local.get $v) (local.get $g2)))
          (local.set $g3 (f32x4.gt (local.get $f) (local.get $v)))
          (local.set $gv (v128.load (local.get $dy)))
          ;; the last position that raised the running maximum holds the first maximum
          (v128.store (i32.add (i32.add (local.get $dx) (local.get $rowBytes)) (local.get $cBytes))
            (v128.and (local.get $gv) (local.get $g3)))
          (local.set $r (local.get $g3))
          (v128.store (i32.add (local.get $dx) (local.get $rowBytes))
            (v128.and (local.get $gv) (v128.andnot (local.get $g2) (local.get $r))))
          (local.set $r (v128.or (local.get $r) (local.get $g2)))
          (v128.store (i32.add (local.get $dx) (local.get $cBytes))
            (v128.and (local.get $gv) (v128.andnot (local.get $g1) (local.get $r))))
          (local.set $r (v128.or (local.get $r) (local.get $g1)))
          (v128.store (local.get $dx) (v128.and (local.get $gv) (v128.andnot (local.get $g0) (local.get $r))))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
          (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
          (br_if $lanes (local.tee $k (i32.sub (local.get $k) (i32.const 16)))))
        ;; past the window's first pixel: skip its second
        (local.set $x (i32.add (local.get $x) (local.get $cBytes)))
        (local.set $dx (i32.add (local.get $dx) (local.get $cBytes)))
        (br_if $windows (local.tee $ow (i32.sub (local.get $ow) (i32.const 1)))))
      ;; past the first row of the pair: skip the second
      (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
      (local.set $dx (i32.add (local.get $dx) (local.get $rowBytes)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $pairs))))
${gemm4AccWat})
`;

/** The slice of the WebAssembly JS API used here (TypeScript's types for it come with the DOM lib only). */
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
declare const WebAssembly: {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
};

export interface SimdKernels {
  maxPoolGrad2x2(x: number, dy: number, dx: number, rows: number, wo: number, c: number): void;
  /**
   * c[r, :] += Σ_k a_r[k] · b[k, :] for the four rows r = 0…3 (a0…a3 each k float32s), b a
   * row-major [k, n] matrix, c four rows of n; n a multiple of 8; byte offsets. A GEMM without
   * XNNPACK's packing of b (~5 ns per element), for when b is long and the rows are few.
   */
  gemm4Acc(a0: number, a1: number, a2: number, a3: number, b: number, n: number, c: number, k: number): void;
}

interface EmscriptenMemory {
  wasmMemory?: WasmMemory;
  asm?: { memory?: WasmMemory };
}

let kernels: SimdKernels | null = null;
let pending: Promise<SimdKernels | null> | null = null;

/**
 * The SIMD kernels on the active wasm backend's memory, once prepareSimdKernels has run; else null (callers keep
 * their JS path).
 */
export function simdKernels(): SimdKernels | null {
  return kernels;
}

/**
 * Assembles and instantiates the kernels on this backend's memory. Resolves null (and the JS
 * paths stay in use) when the memory cannot be found or the runtime lacks wasm SIMD.
 */
export function prepareSimdKernels(backend: WasmBackend): Promise<SimdKernels | null> {
  pending ??= (async () => {
    const m = backend.wasm as unknown as EmscriptenMemory;
    const memory = m.wasmMemory ?? m.asm?.memory;
    if (!(memory instanceof WebAssembly.Memory)) return null;
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    try {
      const wabt = await wabtInit();
      const parsed = wabt.parseWat('lockstep-simd.wat', watSource(shared ? '(memory 1 65536 shared)' : '(memory 1)'), {
        simd: true,
        threads: true,
      });
      const { buffer } = parsed.toBinary({});
      parsed.destroy();
      const instance = new WebAssembly.Instance(new WebAssembly.Module(buffer), { env: { memory } });
      kernels = instance.exports as unknown as SimdKernels;
    } catch {
      kernels = null;
    }
    return kernels;
  })();
  return pending;
}
