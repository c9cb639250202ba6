/**
 * A small seeded PRNG (sfc32 seeded through splitmix32) so that random init and sampling are
 * reproducible on every backend and Node version. Not cryptographic.
 *
 * Does: uniform floats in [0, 1), standard normals (Box-Muller), state save/restore.
 * Does NOT: touch TF.js (callers turn the numbers into tensors).
 */

/** splitmix32: spreads a small integer seed over 32 bits, e.g. 0 -> 0x92ef3d7b-ish. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * The seed of one row's sampling stream in a batch: prompt `promptIndex`, sample `sampleIndex` of a
 * request seeded with `seed`. A row draws only from its own Rng(rowSeed(...)), so its tokens do not depend on
 * which other rows share the batch, and generate(model, prompt, {seed: rowSeed(seed, i, j)}) gives row (i, j)'s
 * tokens. e.g. rowSeed(0, 0, 0) and rowSeed(0, 0, 1) are unrelated 32-bit integers.
 */
export function rowSeed(seed: number, promptIndex: number, sampleIndex: number): number {
  const a = splitmix32((Math.floor(seed) | 0) ^ Math.imul(promptIndex | 0, 0x85ebca6b));
  return splitmix32((a ^ Math.imul(sampleIndex | 0, 0xc2b2ae35)) | 0) | 0;
}

export class Rng {
  private s: Uint32Array;
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng seed must be a finite number; got ${seed}`);
    const base = Math.floor(seed) | 0;
    this.s = new Uint32Array([splitmix32(base), splitmix32(base + 1), splitmix32(base + 2), splitmix32(base + 3)]);
    for (let i = 0; i < 12; i++) this.nextUint32(); // warm up: early sfc32 outputs are correlated with the seed
  }

  /** sfc32 step: a uint32. */
  nextUint32(): number {
    const s = this.s;
    const t = (((s[0] + s[1]) >>> 0) + s[3]) >>> 0;
    s[3] = (s[3] + 1) >>> 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) >>> 0;
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) >>> 0;
    s[2] = (s[2] + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next(); // log(0) guard
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** A Float32Array of n normals with the given std: `normals(3, 0.02)` -> [0.013, -0.021, 0.004]-ish. */
  normals(n: number, std: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * std;
    return out;
  }

  /** The full state, so a trainer can checkpoint and resume the exact stream. */
  getState(): number[] {
    return [...this.s, this.spare === null ? NaN : this.spare];
  }

  setState(state: number[]): void {
    if (state.length !== 5) throw new RangeError(`Rng state must have 5 numbers; got ${state.length}`);
    this.s = new Uint32Array(state.slice(0, 4));
    this.spare = Number.isNaN(state[4]) ? null : state[4];
  }
}
