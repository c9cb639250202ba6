/**
 * Rotary position embedding in Hugging Face's rotate-half convention: a head vector is split into
 * halves (x1, x2) and rotated pairwise (x1[i], x2[i]) by angle pos * theta^(-2i/d).
 * (llama2.c rotates interleaved pairs (2i, 2i+1) instead; HF checkpoints permute q/k rows to match.)
 *
 * Does: keep cos/sin tables (grown on demand, kept out of tidy scopes, freed by dispose()), rotate q/k.
 * Does NOT: scaled/extended RoPE variants (rope_scaling); they would slot in where the angles are made.
 */
import * as tf from '@tensorflow/tfjs';

export class RotaryTables {
  private cos: tf.Tensor2D | null = null; // [L, d/2]
  private sin: tf.Tensor2D | null = null; // [L, d/2]
  private length = 0;

  constructor(private readonly headDim: number, private readonly theta: number, private readonly initialLength = 256) {}

  /** cos and sin for positions offset..offset+T-1, each [T, 1, d/2] (broadcasts over heads). */
  slice(offset: number, T: number): { cos: tf.Tensor3D; sin: tf.Tensor3D } {
    this.ensure(offset + T);
    const half = this.headDim / 2;
    return tf.tidy(() => ({
      cos: this.cos!.slice([offset, 0], [T, half]).reshape([T, 1, half]) as tf.Tensor3D,
      sin: this.sin!.slice([offset, 0], [T, half]).reshape([T, 1, half]) as tf.Tensor3D,
    }));
  }

  /**
   * cos and sin for per-row positions (a left-padded batch: each row counts its own real tokens), each
   * [B, T, 1, d/2]. positions [B·T] row-major. e.g. positions [0, 0, 1, 0, 1, 2] for B 2, T 3.
   */
  gather(positions: Int32Array, B: number, T: number): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
    let top = 0;
    for (const p of positions) top = Math.max(top, p);
    this.ensure(top + 1);
    const half = this.headDim / 2;
    return tf.tidy(() => {
      const at = tf.tensor1d(positions, 'int32');
      return {
        cos: tf.gather(this.cos!, at).reshape([B, T, 1, half]) as tf.Tensor4D,
        sin: tf.gather(this.sin!, at).reshape([B, T, 1, half]) as tf.Tensor4D,
      };
    });
  }

  /**
   * x [B, T, h, d] -> rotated [B, T, h, d]:  (x1, x2) -> (x1·cos − x2·sin, x2·cos + x1·sin).
   * On tensorflow (and cpu) as x·[cos, cos] + swap(x)·[−sin, sin], swap(x) = (x2, x1) a reverse over a
   * size-2 axis: fewer, larger kernels than split + four products + concat (fwd+bwd of one call on
   * [8, 256, 6, 48]: 4.5 vs 7.8 ms native). wasm's Reverse kernel is slow (39.6 vs 12.7 ms), so wasm keeps
   * the split form. Both give the same products and sums per element, i.e. the same values.
   */
  static apply(x: tf.Tensor4D, cos: tf.Tensor3D | tf.Tensor4D, sin: tf.Tensor3D | tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [B, T, h, d] = x.shape;
      const half = d / 2;
      const last = cos.rank - 1; // tables are [T, 1, d/2], or [B, T, 1, d/2] for per-row positions
      if (tf.getBackend() === 'wasm') {
        const [x1, x2] = tf.split(x, [half, half], 3); // [B, T, h, d/2] each
        return tf.concat([x1.mul(cos).sub(x2.mul(sin)), x2.mul(cos).add(x1.mul(sin))], 3) as tf.Tensor4D;
      }
      const cosFull = tf.concat([cos, cos], last); // [T, 1, d]
      const sinSigned = tf.concat([sin.neg(), sin], last); // [T, 1, d]
      const swapped = tf.reverse(x.reshape([B, T, h, 2, half]), 3).reshape([B, T, h, d]); // (x2, x1)
      return x.mul(cosFull).add(swapped.mul(sinSigned)) as tf.Tensor4D;
    });
  }

  dispose(): void {
    this.cos?.dispose();
    this.sin?.dispose();
    this.cos = this.sin = null;
    this.length = 0;
  }

  /** Grows the tables (doubling) to cover `needed` positions. Angles in float64, stored as float32. */
  private ensure(needed: number): void {
    if (needed <= this.length) return;
    let L = Math.max(this.initialLength, this.length);
    while (L < needed) L *= 2;
    const half = this.headDim / 2;
    const cos = new Float32Array(L * half);
    const sin = new Float32Array(L * half);
    for (let i = 0; i < half; i++) {
      const invFreq = 1 / Math.pow(this.theta, (2 * i) / this.headDim);
      for (let p = 0; p < L; p++) {
        cos[p * half + i] = Math.cos(p * invFreq);
        sin[p * half + i] = Math.sin(p * invFreq);
      }
    }
    // Old tables may be referenced by a recorded slice op, but slice's gradient needs no input values.
    this.dispose();
    this.cos = tf.keep(tf.tensor2d(cos, [L, half]));
    this.sin = tf.keep(tf.tensor2d(sin, [L, half]));
    this.length = L;
  }
}
