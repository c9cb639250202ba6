/**
 * A BatchMatMul kernel for the wasm backend that sends every product down XNNPACK's fast path.
 *
 * tfjs-backend-wasm 4.22 uses XNNPACK (packed, SIMD, on the thread pool) only for one plain product: batch 1
 * and no transposes. Everything else — any batch, any transposed operand, i.e. attention and every matMul
 * autodiff makes in a backward pass — falls into a naive triple loop, 6-28x slower on the 15m model's
 * products (bench/wasm-kernels.ts). This kernel
 * transposes an operand when asked (strided-copy.ts, a blocked copy) and runs the batch as one XNNPACK
 * product per matrix, on views into the operands' and the output's memory: each view is registered with
 * the C++ side under a fresh tensor id for the one call and unregistered after, so nothing is copied per
 * matrix, and the operator XNNPACK caches on the view's id is freed with it.
 *
 * Does: float32, batch dims equal or one side's of size 1 (broadcast). Does NOT: other broadcasts or
 * dtypes, or tiny products (the stock kernel takes those), or fused bias/activation (_FusedMatMul keeps the stock kernel).
 */
import * as tf from '@tensorflow/tfjs';
import { transposeInto } from './strided-copy';
import type { WasmBackendLike, WasmModule } from './wasm-types';

type CBatchMatMul = (aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number,
  transposeA: boolean, transposeB: boolean, outId: number) => void;

/** The C entry point, per module instance (a re-created wasm backend has a new module). */
const cEntry = new WeakMap<WasmModule, CBatchMatMul>();

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** t [batch, r, c] -> a new [batch, c, r] output (the caller disposes it). */
function transposedCopy(backend: WasmBackendLike, t: tf.TensorInfo, batch: number, r: number, c: number): tf.TensorInfo {
  const out = backend.makeOutput([batch, c, r], 'float32');
  transposeInto(backend.typedArrayFromHeap(t), backend.typedArrayFromHeap(out), [batch, r, c], [0, 2, 1]);
  return out;
}

/** Multiply-adds per matrix below which the stock kernel's loop beats an XNNPACK call. */
export const TINY_PRODUCT = 1 << 14;

export function makeBatchMatMulWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args);
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    if (batchA !== batchB && batchA !== 1 && batchB !== 1) return stock(args);
    const [ar, ac] = a.shape.slice(-2);
    const [br, bc] = b.shape.slice(-2);
    const [m, k] = transposeA ? [ac, ar] : [ar, ac];
    const [k2, n] = transposeB ? [bc, br] : [br, bc];
    tf.util.assert(k === k2, () => `Error in matMul: inner shapes (${k}) and (${k2}) of Tensors with shapes ${a.shape} and ` +
      `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
    const outBatchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = Math.max(batchA, batchB);
    // Tiny products (decode-time attention: one query row per head against a short cache) cost XNNPACK more to
    // set up per matrix than the stock loop takes to compute: 64 products of 2×8×68 took 82 ms here, stock well
    // under 1 ms.
    if (m * k * n <= TINY_PRODUCT) return stock(args);
    const backend = args.backend as unknown as WasmBackendLike;
    if (batch * m * n === 0 || k === 0) {
      const empty = backend.makeOutput([...outBatchShape, m, n], 'float32');
      backend.typedArrayFromHeap(empty).fill(0); // a sum over nothing
      return empty;
    }
    if (!cEntry.has(backend.wasm)) {
      cEntry.set(backend.wasm, backend.wasm.cwrap('BatchMatMul', null,
        ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as unknown as CBatchMatMul);
    }

    const out = backend.makeOutput([...outBatchShape, m, n], 'float32');
    // Operands in the layout XNNPACK's product takes: a [m, k] and b [k, n] per matrix.
    const aPlain = transposeA ? transposedCopy(backend, a, batchA, ar, ac) : a;
    const bPlain = transposeB ? transposedCopy(backend, b, batchB, br, bc) : b;
    try {
      products(backend, aPlain, batchA, bPlain, batchB, out, batch, m, k, n);
    } finally {
      if (aPlain !== a) backend.disposeData(aPlain.dataId);
      if (bPlain !== b) backend.disposeData(bPlain.dataId);
    }
    return out;
  };
}

/**
 * out[i] = a[i] · b[i] for i < batch (a [m, k], b [k, n] row-major; an operand of batch 1 is shared), each
 * product one XNNPACK call on views registered for that call only.
 */
function products(backend: WasmBackendLike, a: tf.TensorInfo, batchA: number, b: tf.TensorInfo, batchB: number,
  out: tf.TensorInfo, batch: number, m: number, k: number, n: number): void {
  // Offsets read now, after the caller's allocations: allocating may move the heap.
  const aOff = backend.dataIdMap.get(a.dataId).memoryOffset;
  const bOff = backend.dataIdMap.get(b.dataId).memoryOffset;
  const oOff = backend.dataIdMap.get(out.dataId).memoryOffset;
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, n]);
  const view = (offset: number, size: number): number => {
    const id = backend.dataIdNextNumber++;
    backend.wasm.tfjs.registerTensor(id, size, offset);
    return id;
  };
  // One b view for a broadcast b: XNNPACK packs it once and reuses the operator for the whole batch.
  const run = cEntry.get(backend.wasm)!;
  const sharedB = batchB === 1 ? view(bOff, k * n) : 0;
  try {
    for (let i = 0; i < batch; i++) {
      const aId = view(aOff + (batchA === 1 ? 0 : i * m * k * 4), m * k);
      const bId = sharedB || view(bOff + i * k * n * 4, k * n);
      const oId = view(oOff + i * m * n * 4, m * n);
      run(aId, aShape, 3, bId, bShape, 3, false, false, oId);
      backend.wasm.tfjs.disposeData(aId);
      if (!sharedB) backend.wasm.tfjs.disposeData(bId);
      backend.wasm.tfjs.disposeData(oId);
    }
  } finally {
    if (sharedB) backend.wasm.tfjs.disposeData(sharedB);
  }
}
