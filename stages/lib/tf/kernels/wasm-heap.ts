/**
 * The small slice of tfjs-backend-wasm's internals the training kernels use: tensor records in
 * `dataIdMap` (each float32 tensor is a block of the emscripten heap at `memoryOffset`), temporary
 * tensors made with `makeOutput` and released with `disposeData`, and the backend's own kernels
 * (Transpose, BatchMatMul, Conv2D …) called directly, as the backend itself does inside its kernels.
 *
 * Heap views must be taken after the last allocation: `_malloc` may grow the wasm memory, which
 * detaches every typed array made over the old buffer.
 */
import { getKernel } from '@tensorflow/tfjs-core';
import type {
  DataType,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';

export interface WasmModule {
  HEAPF32: Float32Array;
  HEAP32: Int32Array;
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  tfjs: { disposeData(id: number): void };
}

interface TensorRecord {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: DataType;
  refCount: number;
}

/** The parts of tfjs-backend-wasm's BackendWasm the kernels touch (its class is not exported by the node bundle). */
export interface WasmBackend extends KernelBackend {
  wasm: WasmModule;
  dataIdMap: {
    get(dataId: object): TensorRecord | undefined;
    has(dataId: object): boolean;
    delete(dataId: object): boolean;
  };
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: KernelBackend;
  attrs?: NamedAttrMap;
}

export function asWasm(backend: KernelBackend): WasmBackend {
  const b = backend as Partial<WasmBackend>;
  if (b.wasm === undefined || b.dataIdMap === undefined || typeof b.makeOutput !== 'function') {
    throw new Error('lockstep wasm kernels: the active backend is not tfjs-backend-wasm');
  }
  return b as WasmBackend;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function offsetOf(backend: WasmBackend, t: TensorInfo): number {
  const rec = backend.dataIdMap.get(t.dataId);
  if (rec === undefined) throw new Error('lockstep wasm kernels: tensor is not on the wasm backend');
  return rec.memoryOffset;
}

/** Index (in float32 elements) of a tensor's first value in HEAPF32. */
export function f32Index(backend: WasmBackend, t: TensorInfo): number {
  return offsetOf(backend, t) >>> 2;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A fresh float32 tensor on the heap, uninitialised; release it with `release` unless it is the kernel's output. */
export function alloc(backend: WasmBackend, shape: number[], dtype: DataType = 'float32'): TensorInfo {
  return backend.makeOutput(shape, dtype);
}

export function release(backend: WasmBackend, ...ts: TensorInfo[]): void {
  for (const t of ts) backend.disposeData(t.dataId);
}

/**
 * A float32 tensor aliasing `count` elements of `t` from element `start` (no copy), for handing a
 * slice to a wasm kernel. It must be dropped with `releaseView`, never disposed: it owns no memory.
 */
export function viewOf(backend: WasmBackend, t: TensorInfo, start: number, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, 'float32', offsetOf(backend, t) + 4 * start);
}

/** Forgets a view: unregisters it in wasm (which also drops XNNPACK operators cached for it) without freeing memory. */
export function releaseView(backend: WasmBackend, view: TensorInfo): void {
  const rec = backend.dataIdMap.get(view.dataId);
  if (rec === undefined) return;
  backend.wasm.tfjs.disposeData(rec.id);
  backend.dataIdMap.delete(view.dataId);
}

/**
 * Original (backend-shipped) kernel functions, captured before ours replace them, so fast paths can
 * fall back and can call wasm's XNNPACK-backed kernels without going through the engine.
 */
const originals = new Map<string, KernelConfig>();

export function captureOriginal(kernelName: string): KernelConfig | undefined {
  const known = originals.get(kernelName);
  if (known !== undefined) return known;
  const cfg = getKernel(kernelName, 'wasm');
  if (cfg === undefined) return undefined;
  originals.set(kernelName, cfg);
  return cfg;
}

export function original(kernelName: string): KernelFunc {
  const cfg = originals.get(kernelName) ?? captureOriginal(kernelName);
  if (cfg === undefined) throw new Error(`lockstep wasm kernels: no original wasm kernel '${kernelName}'`);
  return cfg.kernelFunc;
}

/** Runs an original kernel directly; the result is a backend tensor the caller owns (release or return it). */
export function callOriginal(
  kernelName: string,
  backend: KernelBackend,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const out = original(kernelName)({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`lockstep wasm kernels: '${kernelName}' returned several outputs`);
  return out;
}

export function transposeWasm(backend: WasmBackend, x: TensorInfo, perm: number[]): TensorInfo {
  return callOriginal('Transpose', backend, { x }, { perm });
}

/**
 * a[M,K] · b[K,N] on XNNPACK (wasm's BatchMatMul takes its fast path only when nothing is transposed and batch is 1).
 */
export function matMulWasm(backend: WasmBackend, a: TensorInfo, b: TensorInfo): TensorInfo {
  return callOriginal('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false });
}
