/**
 * The parts of tfjs-backend-wasm's internals that our wasm kernels use (wasm-patches.ts, wasm-matmul.ts), typed
 * in one file both import, so neither kernel file imports the other for its types.
 *
 * Does NOT: hold code (types only).
 */
import type * as tf from '@tensorflow/tfjs';

/** The emscripten module under the wasm backend, as far as our kernels use it. */
export interface WasmModule {
  cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
  tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
}

/** tfjs-backend-wasm's BackendWasm, as far as our kernels use it. */
export interface WasmBackendLike {
  wasm: WasmModule;
  /** Source of tensor ids for the C++ side's registry. */
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: unknown): { id: number; memoryOffset: number } };
  incRef(dataId: unknown): void;
  readSync(dataId: unknown): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
  disposeData(dataId: unknown): boolean;
}
