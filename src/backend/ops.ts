/**
 * Backend-sensitive building blocks the model uses instead of raw TF.js ops, so that a backend's
 * slow paths can be routed around in one place (see BACKENDS.md: wasm only runs plain 2-D,
 * non-transposed matmuls fast; every transposed or batched product, including all those autodiff
 * makes in the backward pass, falls into a naive loop there).
 *
 * Does: dense projections in HF's [out, in] weight layout (`linear`) and batched products for
 * attention (`batchMatMul`). On wasm both forward and backward issue only plain 2-D matmuls, with
 * explicit transposes (cheap copies) where a transposed operand is needed; elsewhere they are plain
 * tf.matMul. Same values on every backend (up to float summation order).
 * Does NOT: pick or initialise backends (see index.ts).
 */
import * as tf from '@tensorflow/tfjs';

function onWasm(): boolean {
  return tf.getBackend() === 'wasm';
}

/** 2-D swap of the last two axes: [n, m, k] -> [n, k, m], [m, k] -> [k, m]. */
function swapLast(t: tf.Tensor): tf.Tensor {
  const r = t.rank;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(t, perm);
}

/**
 * x2 [N, in] · wᵀ for w [out, in], as plain 2-D products in both directions:
 * y = x2 · T(w);  dx = dy · w;  dw = T(dy) · x2 (or T(T(x2) · dy), whichever copies less).
 */
const linearPlain = tf.customGrad<tf.Tensor2D>((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x2, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x2, w]);
  return {
    value: tf.matMul(x2, tf.transpose(w)) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const [n, inDim] = xs.shape;
      const outDim = ws.shape[0];
      // dw = T(dy)·x, or T(T(x)·dy) when that transposes fewer elements (wider outputs than inputs).
      const dw = n * inDim + inDim * outDim < n * outDim
        ? tf.transpose(tf.matMul(tf.transpose(xs), dy))
        : tf.matMul(tf.transpose(dy), xs);
      return [tf.matMul(dy, ws), dw];
    },
  };
});

/** y = x · wᵀ (+ b) for x [..., in], w [out, in] (HF/PyTorch nn.Linear layout) -> [..., out]. */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.shape.length - 1];
    const outDim = w.shape[0];
    const x2 = x.reshape([-1, inDim]);
    let y = onWasm() ? linearPlain(x2, w) : tf.matMul(x2, w, false, true);
    if (b) y = y.add(b);
    return y.reshape([...x.shape.slice(0, -1), outDim]);
  });
}

/** [..., m, k] -> [n, m, k], folding the leading batch dims. */
function toBatch3(t: tf.Tensor): tf.Tensor3D {
  const s = t.shape as number[];
  return t.reshape([-1, s[s.length - 2], s[s.length - 1]]) as tf.Tensor3D;
}

/** [n, m, k] · [n, k, p] -> [n, m, p] as n plain 2-D products (wasm's fast path). */
function sliced(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [n, m, k] = a.shape;
  const p = b.shape[2];
  const outs: tf.Tensor2D[] = [];
  // tf.slice, not tf.unstack: wasm's Unpack copies the whole input once per slice (see wasm-patches.ts).
  for (let i = 0; i < n; i++) {
    outs.push(tf.matMul(a.slice([i, 0, 0], [1, m, k]).reshape([m, k]), b.slice([i, 0, 0], [1, k, p]).reshape([k, p])));
  }
  return tf.stack(outs) as tf.Tensor3D;
}

/** Batched product with a gradient that is itself sliced: da = dy · T(b), db = T(a) · dy. */
const bmmSliced = tf.customGrad<tf.Tensor3D>((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: sliced(a, b),
    gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [sliced(dy, swapLast(bs) as tf.Tensor3D), sliced(swapLast(as) as tf.Tensor3D, dy)];
    },
  };
});

/**
 * op(a) · op(b) over leading batch dims, op = transpose of the last two axes when asked; as tf.matMul.
 * Example: q [B, H, T, d], k [B, H, T, d], transposeB -> scores [B, H, T, T].
 * On wasm, equal batch dims are routed through per-slice 2-D products (see bench/wasm-ops.ts for the gain).
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  return tf.tidy(() => {
    const batchA = a.shape.slice(0, -2);
    const sameBatch = a.rank >= 3 && a.rank === b.rank && batchA.every((d, i) => d === b.shape[i]);
    if (!onWasm() || !sameBatch) return tf.matMul(a, b, transposeA, transposeB);
    const a3 = toBatch3(transposeA ? swapLast(a) : a);
    const b3 = toBatch3(transposeB ? swapLast(b) : b);
    const y = bmmSliced(a3, b3);
    return y.reshape([...batchA, a3.shape[1], b3.shape[2]]);
  });
}
