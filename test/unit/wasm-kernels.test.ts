/**
 * Every lockstep wasm training kernel against the cpu backend on random inputs: the models' shapes
 * in small sizes, odd sizes, and the inputs that take the fallback paths.
 *
 * Error measure: max |wasm - cpu| / max |cpu|, i.e. relative to the tensor's scale, so values near
 * zero (most relu/pool gradients) do not make a correct result look wrong. Bound 1e-5, except
 * reductions over thousands of terms (filter gradients, dense gradients over the batch, sums over
 * N·H·W): XNNPACK accumulates in float32 in another order than the cpu backend's float64 loop, and
 * float32 rounding grows with the number of terms, hence 1e-4 there.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import type { NamedAttrMap, Tensor } from '@tensorflow/tfjs';
import { useWasmBackend } from '../../stages/lib/tf/kernels/node-wasm.js';
import { WASM_TRAINING_KERNELS } from '../../stages/lib/tf/kernels/index.js';
import { setKernelTuning } from '../../stages/lib/tf/kernels/tuning.js';
import { simdKernels } from '../../stages/lib/tf/kernels/simd.js';

const TIGHT = 1e-5;
const LONG_REDUCTION = 1e-4;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomArray(size: number, seed: number, opts: { reluLike?: boolean; nanEvery?: number } = {}): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const v = r() * 2 - 1;
    // relu-like data has many exact zeros, which exercises max-pool tie-breaking.
    out[i] = opts.reluLike === true ? Math.max(0, v) : v;
    if (opts.nanEvery !== undefined && i % opts.nanEvery === 0) out[i] = Number.NaN;
  }
  return out;
}

interface Spec {
  shape: number[];
  seed: number;
  reluLike?: boolean;
  dtype?: 'float32' | 'int32';
  values?: ArrayLike<number>;
  nanEvery?: number;
}

function materialise(spec: Spec): Tensor {
  const size = spec.shape.reduce((p, q) => p * q, 1);
  if (spec.values !== undefined) return tf.tensor(Float32Array.from(spec.values), spec.shape);
  if (spec.dtype === 'int32') {
    const r = rng(spec.seed);
    return tf.tensor(
      Int32Array.from({ length: size }, () => Math.floor(r() * 1000) - 500),
      spec.shape,
      'int32',
    );
  }
  return tf.tensor(randomArray(size, spec.seed, spec), spec.shape);
}

async function runKernelOn(
  backend: 'cpu' | 'wasm',
  kernel: string,
  inputs: Record<string, Spec>,
  attrs: NamedAttrMap,
): Promise<{ values: Float32Array | Int32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const ins = Object.fromEntries(Object.entries(inputs).map(([k, s]) => [k, materialise(s)]));
  const out = tf.engine().runKernel(kernel, ins, attrs) as Tensor;
  const res = { values: out.dataSync() as Float32Array | Int32Array, shape: out.shape.slice() };
  tf.dispose([out, ...Object.values(ins)]);
  return res;
}

function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'element count');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  if (Number.isNaN(diff)) return Number.POSITIVE_INFINITY;
  return scale === 0 ? diff : diff / scale;
}

async function checkKernel(
  kernel: string,
  inputs: Record<string, Spec>,
  attrs: NamedAttrMap,
  tol = TIGHT,
): Promise<void> {
  const want = await runKernelOn('cpu', kernel, inputs, attrs);
  const got = await runKernelOn('wasm', kernel, inputs, attrs);
  assert.deepEqual(got.shape, want.shape, `${kernel} output shape`);
  const err = relErr(got.values, want.values);
  assert.ok(err <= tol, `${kernel} ${JSON.stringify(attrs)}: relative error ${err} > ${tol}`);
}

before(async () => {
  // Production mode only silences tfjs' console banner about tfjs-node; kernels run the same.
  tf.enableProdMode();
  await useWasmBackend({ training: true });
});

test('the SIMD kernels assembled and are in use (else the kernels below would test only their fallbacks)', () => {
  const simd = simdKernels();
  assert.ok(simd !== null, 'prepareSimdKernels gave null: wabt or wasm SIMD failed');
  assert.equal(typeof simd.maxPoolGrad2x2, 'function');
  assert.equal(typeof simd.gemm4Acc, 'function');
});

test('the registered kernel list names every replaced kernel', () => {
  for (const k of [
    'Conv2DBackpropFilter',
    'Conv2DBackpropInput',
    'BatchMatMul',
    'MaxPoolGrad',
    'Sum',
    'Mean',
    'Tile',
    'Identity',
    'Cast',
    'Multiply',
    'Add',
    'FusedBatchNorm',
  ]) {
    assert.ok(WASM_TRAINING_KERNELS.includes(k), k);
    assert.ok(tf.getKernel(k, 'wasm') !== undefined, `${k} registered for wasm`);
  }
});

describe('Conv2DBackpropFilter', () => {
  const cases: Array<{
    x: number[];
    f: number[];
    strides: number;
    pad: 'same' | 'valid';
    dy: number[];
    small?: boolean;
  }> = [
    { x: [2, 8, 8, 3], f: [3, 3, 3, 8], strides: 1, pad: 'same', dy: [2, 8, 8, 8] },
    { x: [1, 7, 7, 1], f: [3, 3, 1, 4], strides: 1, pad: 'same', dy: [1, 7, 7, 4] },
    { x: [3, 9, 9, 5], f: [3, 3, 5, 6], strides: 2, pad: 'valid', dy: [3, 4, 4, 6] },
    { x: [2, 6, 6, 4], f: [5, 5, 4, 3], strides: 1, pad: 'same', dy: [2, 6, 6, 3] },
    { x: [2, 7, 7, 2], f: [2, 2, 2, 3], strides: 2, pad: 'same', dy: [2, 4, 4, 3] },
    // Padded-grid path (stride 1, 'same', >= 8 channels, images >= ~12 pixels a side), odd sizes.
    { x: [4, 16, 16, 16], f: [3, 3, 16, 8], strides: 1, pad: 'same', dy: [4, 16, 16, 8] },
    { x: [3, 13, 11, 8], f: [3, 3, 8, 5], strides: 1, pad: 'same', dy: [3, 13, 11, 5] },
    { x: [2, 12, 12, 9], f: [2, 2, 9, 3], strides: 1, pad: 'same', dy: [2, 12, 12, 3] },
    { x: [1, 24, 24, 16], f: [5, 5, 16, 8], strides: 1, pad: 'same', dy: [1, 24, 24, 8] },
    // Wide layers (512 channels) on tiny images, both paths.
    { x: [1, 4, 4, 512], f: [3, 3, 512, 2], strides: 1, pad: 'same', dy: [1, 4, 4, 2] },
    { x: [1, 12, 12, 2], f: [3, 3, 2, 512], strides: 1, pad: 'same', dy: [1, 12, 12, 512] },
    // With the chunk sizes shrunk below (the cpu reference is too slow for full-size chunks):
    // several padded-grid chunks and several im2col chunks, uneven last chunks.
    { x: [5, 12, 12, 8], f: [3, 3, 8, 6], strides: 1, pad: 'same', dy: [5, 12, 12, 6], small: true },
    { x: [5, 6, 6, 8], f: [3, 3, 8, 6], strides: 1, pad: 'same', dy: [5, 6, 6, 6], small: true },
    // Few input channels, Co a multiple of 8: the SIMD kernel (rows in blocks of four, the last
    // block padded; dy in slices), in one chunk and in several.
    { x: [2, 10, 10, 5], f: [3, 3, 5, 24], strides: 1, pad: 'same', dy: [2, 10, 10, 24] },
    { x: [2, 9, 9, 1], f: [3, 3, 1, 8], strides: 1, pad: 'same', dy: [2, 9, 9, 8] },
    { x: [5, 12, 12, 3], f: [3, 3, 3, 16], strides: 1, pad: 'same', dy: [5, 12, 12, 16], small: true },
  ];
  for (const c of cases) {
    test(`x ${c.x} filter ${c.f} stride ${c.strides} \
${c.pad}${c.small === true ? ' (small chunks)' : ''}`, async () => {
      const prev = setKernelTuning(
        c.small === true ? { gridDyChunk: 2000, gridSimdSlice: 96, im2colDyChunk: 500, im2colColChunk: 5000 } : {},
      );
      try {
        await checkKernel(
          'Conv2DBackpropFilter',
          { x: { shape: c.x, seed: 1 }, dy: { shape: c.dy, seed: 2 } },
          {
            strides: c.strides,
            pad: c.pad,
            dataFormat: 'NHWC',
            dimRoundingMode: undefined,
            filterShape: c.f,
          } as unknown as NamedAttrMap,
          LONG_REDUCTION,
        );
      } finally {
        setKernelTuning(prev);
      }
    });
  }
  test('channels-first input is transposed, not rejected', async () => {
    await checkKernel(
      'Conv2DBackpropFilter',
      { x: { shape: [2, 3, 6, 6], seed: 3 }, dy: { shape: [2, 4, 6, 6], seed: 4 } },
      { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] } as unknown as NamedAttrMap,
      LONG_REDUCTION,
    );
  });
});

describe('Conv2DBackpropInput', () => {
  const cases: Array<{ dy: number[]; f: number[]; inputShape: number[]; strides: number; pad: 'same' | 'valid' }> = [
    { dy: [2, 8, 8, 16], f: [3, 3, 8, 16], inputShape: [2, 8, 8, 8], strides: 1, pad: 'same' },
    { dy: [1, 7, 7, 4], f: [3, 3, 1, 4], inputShape: [1, 7, 7, 1], strides: 1, pad: 'same' },
    { dy: [3, 5, 5, 6], f: [3, 3, 5, 6], inputShape: [3, 7, 7, 5], strides: 1, pad: 'valid' },
    { dy: [2, 4, 4, 64], f: [3, 3, 128, 64], inputShape: [2, 4, 4, 128], strides: 1, pad: 'same' },
    { dy: [2, 3, 3, 512], f: [3, 3, 2, 512], inputShape: [2, 3, 3, 2], strides: 1, pad: 'same' },
    // Fallback: strided gradients keep wasm's own kernel.
    { dy: [2, 4, 4, 3], f: [3, 3, 2, 3], inputShape: [2, 8, 8, 2], strides: 2, pad: 'same' },
  ];
  for (const c of cases) {
    test(`dy ${c.dy} filter ${c.f} stride ${c.strides} ${c.pad}`, async () => {
      await checkKernel('Conv2DBackpropInput', { dy: { shape: c.dy, seed: 5 }, filter: { shape: c.f, seed: 6 } }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
        inputShape: c.inputShape,
      } as unknown as NamedAttrMap);
    });
  }
});

describe('BatchMatMul', () => {
  const cases: Array<{ a: number[]; b: number[]; tA: boolean; tB: boolean; tol?: number }> = [
    { a: [16, 40], b: [16, 24], tA: true, tB: false, tol: LONG_REDUCTION },
    { a: [16, 40], b: [24, 40], tA: false, tB: true },
    { a: [40, 16], b: [24, 40], tA: true, tB: true },
    { a: [1, 7], b: [7, 1], tA: false, tB: false },
    { a: [1, 33, 9], b: [1, 33, 5], tA: true, tB: false },
    // Fallback: a real batch keeps wasm's own kernel.
    { a: [3, 8, 5], b: [3, 6, 5], tA: false, tB: true },
  ];
  for (const c of cases) {
    test(`a ${c.a} b ${c.b} transposeA=${c.tA} transposeB=${c.tB}`, async () => {
      await checkKernel(
        'BatchMatMul',
        { a: { shape: c.a, seed: 7 }, b: { shape: c.b, seed: 8 } },
        { transposeA: c.tA, transposeB: c.tB },
        c.tol ?? TIGHT,
      );
    });
  }
});

describe('MaxPoolGrad', () => {
  const cases: Array<{ x: number[]; filter: number; strides: number; pad: 'same' | 'valid'; nanEvery?: number }> = [
    // channels in fours, the pool covering the input: the SIMD kernel (relu-like input: ties at 0)
    { x: [2, 8, 8, 4], filter: 2, strides: 2, pad: 'valid' },
    { x: [4, 16, 16, 32], filter: 2, strides: 2, pad: 'valid' },
    // NaN inputs: the cpu backend's argmax skips them (and drops the gradient of all-NaN windows).
    { x: [2, 8, 8, 8], filter: 2, strides: 2, pad: 'valid', nanEvery: 3 },
    { x: [2, 8, 8, 1], filter: 2, strides: 2, pad: 'valid', nanEvery: 2 },
    { x: [1, 7, 7, 1], filter: 2, strides: 2, pad: 'valid' },
    { x: [2, 7, 7, 3], filter: 2, strides: 2, pad: 'same' },
    { x: [2, 6, 6, 2], filter: 3, strides: 1, pad: 'same' },
    { x: [1, 9, 9, 2], filter: 3, strides: 2, pad: 'valid' },
    { x: [3, 5, 7, 6], filter: 2, strides: 2, pad: 'valid' },
  ];
  for (const c of cases) {
    test(`x ${c.x} pool ${c.filter} stride ${c.strides} ${c.pad}${c.nanEvery ? ' with NaN' : ''}`, async () => {
      const input: Spec = { shape: c.x, seed: 9, reluLike: true, nanEvery: c.nanEvery };
      // The forward output MaxPoolGrad receives is the cpu backend's max-pool of the same input.
      const y = await runKernelOn(
        'cpu',
        'MaxPool',
        { x: input },
        { filterSize: c.filter, strides: c.strides, pad: c.pad },
      );
      await checkKernel(
        'MaxPoolGrad',
        {
          dy: { shape: y.shape, seed: 10 },
          input,
          output: { shape: y.shape, seed: 0, values: y.values },
        },
        { filterSize: c.filter, strides: c.strides, pad: c.pad },
      );
    });
  }
});

describe('Sum and Mean', () => {
  const cases: Array<{ shape: number[]; axis: number[]; keepDims: boolean; tol?: number }> = [
    { shape: [16, 8, 8, 32], axis: [0, 1, 2], keepDims: false, tol: LONG_REDUCTION },
    { shape: [4, 7, 7, 1], axis: [0, 1, 2], keepDims: true },
    { shape: [128, 10], axis: [0], keepDims: false },
    { shape: [3, 5], axis: [1], keepDims: false },
    { shape: [2, 3, 4, 5], axis: [1, 2], keepDims: true },
    { shape: [6, 4], axis: [0, 1], keepDims: false },
    // Pairwise tree with odd row counts on the way down (999 -> 998 -> 499 -> 498 ...).
    { shape: [999, 3], axis: [0], keepDims: false },
  ];
  for (const kernel of ['Sum', 'Mean']) {
    for (const c of cases) {
      test(`${kernel} ${c.shape} over ${c.axis} keepDims=${c.keepDims}`, async () => {
        await checkKernel(
          kernel,
          { x: { shape: c.shape, seed: 12 } },
          { axis: c.axis, keepDims: c.keepDims },
          c.tol ?? TIGHT,
        );
      });
    }
  }
  test('Sum of int32 keeps the original kernel', async () => {
    await checkKernel('Sum', { x: { shape: [5, 3], seed: 13, dtype: 'int32' } }, { axis: [0], keepDims: false });
  });
});

describe('Tile', () => {
  const cases: Array<{ shape: number[]; reps: number[]; dtype?: 'int32' }> = [
    { shape: [1, 1, 1, 32], reps: [8, 6, 6, 1] },
    { shape: [1, 1, 1, 1], reps: [1, 7, 7, 1] },
    { shape: [2, 3], reps: [3, 2] },
    { shape: [3, 1, 2], reps: [1, 4, 3] },
    { shape: [5], reps: [1] },
    { shape: [2, 2], reps: [2, 3], dtype: 'int32' },
  ];
  for (const c of cases) {
    test(`${c.shape} by ${c.reps}${c.dtype ? ' int32' : ''}`, async () => {
      await checkKernel('Tile', { x: { shape: c.shape, seed: 14, dtype: c.dtype } }, { reps: c.reps });
    });
  }
});

describe('Identity and Cast', () => {
  test('Identity of float32 and int32', async () => {
    await checkKernel('Identity', { x: { shape: [3, 4, 5], seed: 15 } }, {});
    await checkKernel('Identity', { x: { shape: [7], seed: 16, dtype: 'int32' } }, {});
  });
  test('Cast to the same dtype and to another (original kernel)', async () => {
    await checkKernel('Cast', { x: { shape: [2, 9], seed: 17 } }, { dtype: 'float32' });
    await checkKernel('Cast', { x: { shape: [2, 9], seed: 18, dtype: 'int32' } }, { dtype: 'float32' });
    await checkKernel('Cast', { x: { shape: [2, 9], seed: 19 } }, { dtype: 'int32' });
  });
  test('a shared output outlives its disposed input', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor([1.5, -2, 3]);
    const y = tf.engine().runKernel('Identity', { x }, {}) as Tensor;
    const z = tf.cast(y, 'float32');
    x.dispose();
    y.dispose();
    assert.deepEqual(Array.from(z.dataSync()), [1.5, -2, 3]);
    z.dispose();
  });
});

describe('Multiply and Add with a channel vector', () => {
  const cases: Array<{ a: number[]; b: number[]; dtype?: 'int32' }> = [
    { a: [1, 1, 1, 8], b: [3, 5, 5, 8] },
    { a: [8], b: [3, 5, 5, 8] },
    { a: [3, 5, 5, 8], b: [8] },
    { a: [3, 5, 5, 8], b: [1, 1, 1, 8] },
    { a: [1], b: [4, 1] },
    { a: [3, 5, 5, 8], b: [3, 5, 5, 8] },
    { a: [], b: [2, 3] },
    { a: [2, 1, 3], b: [2, 4, 3] },
    { a: [4], b: [3, 4], dtype: 'int32' },
  ];
  for (const kernel of ['Multiply', 'Add']) {
    for (const c of cases) {
      test(`${kernel} ${JSON.stringify(c.a)} and ${JSON.stringify(c.b)}${c.dtype ? ' int32' : ''}`, async () => {
        await checkKernel(
          kernel,
          { a: { shape: c.a, seed: 20, dtype: c.dtype }, b: { shape: c.b, seed: 21, dtype: c.dtype } },
          {},
        );
      });
    }
  }
});

describe('FusedBatchNorm', () => {
  const positive = (shape: number[], seed: number): Spec => {
    const r = rng(seed);
    return { shape, seed, values: Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => 0.1 + r()) };
  };
  test('per-channel parameters, with and without offset and scale', async () => {
    for (const withParams of [true, false]) {
      const inputs: Record<string, Spec> = {
        x: { shape: [3, 5, 5, 8], seed: 22 },
        mean: { shape: [8], seed: 23 },
        variance: positive([8], 24),
      };
      if (withParams) Object.assign(inputs, { offset: { shape: [8], seed: 25 }, scale: { shape: [8], seed: 26 } });
      await checkKernel('FusedBatchNorm', inputs, { varianceEpsilon: 0.001 });
    }
  });
  test('a large mean against a small spread stays accurate', async () => {
    const x = positive([2, 4, 4, 3], 27);
    const shifted: Spec = { ...x, values: Array.from(x.values!, (v) => v + 1000) };
    await checkKernel(
      'FusedBatchNorm',
      { x: shifted, mean: { shape: [3], seed: 0, values: [1000.5, 1000.5, 1000.5] }, variance: positive([3], 28) },
      { varianceEpsilon: 0.001 },
    );
  });
  test('broadcast parameters of full rank keep the original kernel', async () => {
    await checkKernel(
      'FusedBatchNorm',
      {
        x: { shape: [2, 3, 3, 4], seed: 29 },
        mean: { shape: [1, 1, 1, 4], seed: 30 },
        variance: positive([1, 1, 1, 4], 31),
      },
      { varianceEpsilon: 0.001 },
    );
  });
});
