/**
 * Fills gaps in @tensorflow/tfjs-backend-wasm 4.22 that training needs.
 *
 * Does: (1) register an `UnsortedSegmentSum` kernel for `wasm` (TF.js uses it for the gradient of
 * tf.gather, i.e. every embedding lookup; wasm has none, so backprop through an embedding throws);
 * (2) replace wasm's `Slice` and `SplitV` kernels: the stock ones copy the WHOLE input out of the wasm
 * heap (readSync) for every slice, so taking n slices of a tensor costs O(n * size); these copy only the
 * slice, in contiguous runs, straight from a heap view (strided-copy.ts); (3) replace wasm's `Identity`
 * kernel, which copies its input, with one that shares the input's memory (as wasm's own Reshape does and
 * the cpu and tensorflow backends' Identity do): tensors are immutable, and the engine clones (Identity)
 * every tensor it saves for a gradient, so the copy cost a full pass per saved tensor in every training
 * forward (15m DPO step: ~750 copies, ~160 ms); (4) replace wasm's `Transpose`, which walks element by
 * element for swaps of the last two axes, with a cache-blocked 2-D transpose (strided-copy.ts; [4096, 288]:
 * 10.7 -> 3.0 ms), keeping the stock kernel for every other permutation; (5) replace wasm's `GatherV2` (without
 * batch dims) with row copies from a heap view (the 15m embedding lookup: 39 ms -> ~2 ms); (6) replace
 * wasm's `BatchMatMul` with one that runs every product on XNNPACK (wasm-matmul.ts).
 * Does NOT: change results on other backends. bench/wasm-kernels.ts times each patch against the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { gatherInto, sliceInto, transposeInto, transposeKind } from './strided-copy';
import { makeBatchMatMulWasm } from './wasm-matmul';
import type { WasmBackendLike } from './wasm-types';

/**
 * out[s, ...] = Σ_{i : ids[i] = s} x[i, ...] for s in [0, numSegments); ids outside that range are dropped
 * (as in TensorFlow). Example: x [[1,2],[3,4],[5,6]], ids [1,0,1], numSegments 2 -> [[3,4],[6,8]].
 * segmentIds may have any rank k matching x's first k dims.
 */
function unsortedSegmentSumWasm(args: {
  inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown;
}): tf.TensorInfo {
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const backend = args.backend as WasmBackendLike;
  // readSync copies out of the wasm heap, so these stay valid when makeOutput grows the heap below.
  const xs = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  const n = ids.length;
  const inner = n === 0 ? 0 : xs.length / n;
  const out = backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  const o = backend.typedArrayFromHeap(out);
  o.fill(0);
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j];
  }
  return out;
}

/** Whether the heap-view kernels below handle this dtype (strings and complex values keep the stock kernels). */
function plainDtype(dtype: tf.DataType): boolean {
  return dtype === 'float32' || dtype === 'int32' || dtype === 'bool';
}

/** A new output holding x[begin : begin + size], copied from a heap view. */
function sliceFromHeap(backend: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  // Views taken after makeOutput: allocating may grow (and move) the heap.
  sliceInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), x.shape, begin, size);
  return out;
}

function makeSliceWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (!plainDtype(x.dtype)) return stock(args);
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [begin_, size_] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
    return sliceFromHeap(args.backend as unknown as WasmBackendLike, x, begin_, size_);
  };
}

/** tf.split: one heap-view slice per piece along the axis. */
function makeSplitVWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (!plainDtype(x.dtype)) return stock(args);
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const backend = args.backend as unknown as WasmBackendLike;
    const begin = x.shape.map(() => 0);
    return sizes.map((n) => {
      const size = x.shape.slice();
      size[ax] = n;
      const piece = sliceFromHeap(backend, x, begin.slice(), size);
      begin[ax] += n;
      return piece;
    });
  };
}

function makeTransposeWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { perm } = args.attrs as { perm: number[] };
    // The stock kernel is faster when the last axis stays in place (15m heads [16,256,6,48] -> [16,6,256,48]:
    // 1.4 vs 3.0 ms); it is the 2-D swaps (every transposed matMul operand) that it does element by element.
    const kind = transposeKind(x.shape, perm);
    if (!plainDtype(x.dtype) || (kind !== 'swap' && kind !== 'identity')) return stock(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
    transposeInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), x.shape, perm);
    return out;
  };
}

/** tf.gather without batch dims: whole rows copied from a heap view; ids checked as the stock kernel does. */
function makeGatherWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
    if (!plainDtype(x.dtype) || batchDims !== 0) return stock(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const dim = x.shape[ax];
    const ids = backend.typedArrayFromHeap(indices);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      tf.util.assert(id <= dim - 1 && id >= 0, () => `GatherV2: the index value ${id} is not in [0, ${dim - 1}]`);
    }
    const outer = x.shape.slice(0, ax).reduce((m, d) => m * d, 1);
    const inner = x.shape.slice(ax + 1).reduce((m, d) => m * d, 1);
    const out = backend.makeOutput([...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)], x.dtype);
    // Views taken after makeOutput: allocating may grow (and move) the heap.
    gatherInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), outer, dim, inner, backend.typedArrayFromHeap(indices));
    return out;
  };
}

/** Identity without a copy: one more reference to the same memory (strings keep the stock kernel). */
function makeIdentityShared(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return stock(args);
    (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

let applied = false;
const stockKernels = new Map<string, tf.KernelConfig>();

/** The stock tfjs-backend-wasm kernel a patch replaced (for bench/wasm-kernels.ts's before/after), or undefined. */
export function stockWasmKernel(name: string): tf.KernelConfig | undefined {
  return stockKernels.get(name);
}

/** Registers the missing kernels for `wasm`; idempotent, and a no-op for kernels a later TF.js provides. */
export function applyWasmPatches(): void {
  if (applied) return;
  applied = true;
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm as tf.KernelFunc });
  }
  const stockIdentity = tf.getKernel('Identity', 'wasm');
  if (stockIdentity) {
    stockKernels.set('Identity', stockIdentity);
    tf.unregisterKernel('Identity', 'wasm');
    tf.registerKernel({ ...stockIdentity, kernelFunc: makeIdentityShared(stockIdentity.kernelFunc) });
  }
  for (const [name, make] of [['Slice', makeSliceWasm], ['SplitV', makeSplitVWasm], ['Transpose', makeTransposeWasm], ['GatherV2', makeGatherWasm],
    ['BatchMatMul', makeBatchMatMulWasm]] as const) {
    const stock = tf.getKernel(name, 'wasm');
    if (!stock) continue;
    stockKernels.set(name, stock);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...stock, kernelFunc: make(stock.kernelFunc) });
  }
}
