/**
 * Fills gaps in @tensorflow/tfjs-backend-wasm 4.22 that training needs.
 *
 * Does: (1) register an `UnsortedSegmentSum` kernel for `wasm` (TF.js uses it for the gradient of
 * tf.gather, i.e. every embedding lookup; wasm has none, so backprop through an embedding throws);
 * (2) replace wasm's `Slice` kernel for contiguous slices: the stock one copies the WHOLE input out of
 * the wasm heap (readSync) for every slice, so taking n slices of a tensor costs O(n * size); this one
 * copies only the slice. Non-contiguous slices still go to the stock kernel.
 * Does NOT: change results on other backends, or speed up matmuls (ops.ts routes those).
 */
import * as tf from '@tensorflow/tfjs';

interface WasmBackendLike {
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } | undefined };
  readSync(dataId: unknown): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

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

/** Slice that reads the input through a heap view instead of a full copy (contiguous case only). */
function makeSliceWasm(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [begin_, size_] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
    if (x.dtype === 'string' || !tf.slice_util.isSliceContinous(x.shape, begin_, size_)) return stock(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(size_, x.dtype);
    // Views taken after makeOutput: allocating may grow (and move) the heap.
    const src = backend.typedArrayFromHeap(x);
    const offset = tf.slice_util.computeFlatOffset(begin_, tf.util.computeStrides(x.shape));
    backend.typedArrayFromHeap(out).set(src.subarray(offset, offset + tf.util.sizeFromShape(size_)));
    return out;
  };
}

let applied = false;

/** Registers the missing kernels for `wasm`; idempotent, and a no-op for kernels a later TF.js provides. */
export function applyWasmPatches(): void {
  if (applied) return;
  applied = true;
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm as tf.KernelFunc });
  }
  const stockSlice = tf.getKernel('Slice', 'wasm');
  if (stockSlice) {
    tf.unregisterKernel('Slice', 'wasm');
    tf.registerKernel({ ...stockSlice, kernelFunc: makeSliceWasm(stockSlice.kernelFunc) });
  }
}
