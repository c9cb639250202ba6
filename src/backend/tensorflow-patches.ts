/**
 * Per-call overhead removed from @tensorflow/tfjs-node 4.22's kernels (the `tensorflow` backend).
 *
 * Does: replace tfjs-node's `Reshape` kernel with one that reuses the int32 shape operand. The stock kernel
 * builds that operand as a new engine tensor on every call (tensor1d, then dispose), so a reshape costs an engine
 * allocation, a host-to-TensorFlow copy and a dispose besides the TensorFlow op itself: ~46 us against ~15 us
 * with the operand reused (a 2-core Xeon, one thread). A training step reshapes a lot (the stories260K DPO step:
 * 230 reshapes, ~10% of its time), as tf.matMul, the gradients of reshape and the model's head split all do.
 * The operands live outside the engine (backend.write), one per distinct shape, in a least-recently-used cache
 * of SHAPE_CACHE_SIZE entries per backend instance; an evicted one is freed with backend.disposeData. Decoding,
 * whose shapes grow by a token a step, only cycles the cache.
 * Does NOT: change any result (TensorFlow's own Reshape op still runs), count the cached operands as engine
 * tensors (tf.memory().numTensors does not see them; numDataBuffers does), or touch other backends.
 */
import * as tf from '@tensorflow/tfjs';

/** How many distinct shapes' operands are kept per backend instance. */
export const SHAPE_CACHE_SIZE = 256;

interface NodeBackendLike {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number; TF_INT32: number; TF_BOOL: number; TF_COMPLEX64: number; TF_STRING: number };
  write(values: Int32Array, shape: number[], dtype: 'int32'): tf.DataId;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tf.TensorInfo[]): tf.TensorInfo;
}

const caches = new WeakMap<object, Map<string, tf.TensorInfo>>();

/**
 * The int32 operand holding `shape` on `backend`, created on first use and kept (LRU). Example: shapeOperand(be,
 * [8, 320, 64]) twice -> the same TensorInfo, whose data TensorFlow turned into a tensor handle once.
 */
export function shapeOperand(backend: NodeBackendLike, shape: readonly number[]): tf.TensorInfo {
  let cache = caches.get(backend);
  if (!cache) caches.set(backend, (cache = new Map()));
  const key = shape.join(',');
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key); // re-inserted last: a Map iterates in insertion order, so the first key is the least recent
    cache.set(key, hit);
    return hit;
  }
  const info: tf.TensorInfo = { dataId: backend.write(Int32Array.from(shape), [shape.length], 'int32'), shape: [shape.length], dtype: 'int32' };
  cache.set(key, info);
  if (cache.size > SHAPE_CACHE_SIZE) {
    const [oldest, evicted] = cache.entries().next().value as [string, tf.TensorInfo];
    cache.delete(oldest);
    backend.disposeData(evicted.dataId, true);
  }
  return info;
}

/** How many operands are cached for `backend` now (tests). */
export function cachedShapeCount(backend: object): number {
  return caches.get(backend)?.size ?? 0;
}

/**
 * TensorFlow's type code of a TF.js dtype, as tfjs-node's own getTFDType (not imported: it lives in
 * @tensorflow/tfjs-node or -gpu, whichever is installed). A switch, not a lookup object: this runs per reshape.
 */
function tfDtype(binding: NodeBackendLike['binding'], dtype: tf.DataType): number {
  switch (dtype) {
    case 'float32': return binding.TF_FLOAT;
    case 'int32': return binding.TF_INT32;
    case 'bool': return binding.TF_BOOL;
    case 'complex64': return binding.TF_COMPLEX64;
    case 'string': return binding.TF_STRING;
    default: throw new Error(`Reshape: dtype ${dtype} has no TensorFlow type`);
  }
}

const reshapeKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as NodeBackendLike;
  const x = (inputs as { x: tf.TensorInfo }).x;
  const shape = (attrs as unknown as { shape: number[] }).shape;
  const typeAttrs = [
    { name: 'T', type: be.binding.TF_ATTR_TYPE, value: tfDtype(be.binding, x.dtype) },
    { name: 'Tshape', type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_INT32 },
  ];
  return be.executeSingleOutput('Reshape', typeAttrs, [x, shapeOperand(be, shape)]);
};

let stockReshape: tf.KernelConfig | undefined;

/** Installs the patched kernels for the `tensorflow` backend (idempotent); `false` puts the stock ones back (tests, benchmarks). */
export function applyTensorflowPatches(on = true): void {
  const current = tf.getKernel('Reshape', 'tensorflow');
  if (!current) return; // tfjs-node is not loaded
  if (on === (current.kernelFunc === reshapeKernel)) return;
  tf.unregisterKernel('Reshape', 'tensorflow');
  if (on) {
    stockReshape = current;
    tf.registerKernel({ ...current, kernelFunc: reshapeKernel });
  } else {
    tf.registerKernel(stockReshape as tf.KernelConfig);
  }
}
