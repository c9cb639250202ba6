/**
 * strided-copy.ts against naive index-by-index transpose and slice, on hand-worked cases and on seeded
 * random shapes, permutations and slices (ranks 1-5, size-1 axes, empty slices).
 */
import { collapsePermutation, sliceInto, transposeInto, transposeKind } from '../../src/backend/strided-copy';
import { mulberry32 } from '../../src/data/rng';

function stridesOf(shape: number[]): number[] {
  const s = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** out[i_perm...] = x[i...], one element at a time. */
function naiveTranspose(x: Float32Array, shape: number[], perm: number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]);
  const inS = stridesOf(shape);
  const outS = stridesOf(outShape);
  const out = new Float32Array(x.length);
  for (let flat = 0; flat < x.length; flat++) {
    let rem = flat;
    let src = 0;
    for (let k = 0; k < outShape.length; k++) {
      const i = Math.floor(rem / outS[k]);
      rem -= i * outS[k];
      src += i * inS[perm[k]];
    }
    out[flat] = x[src];
  }
  return out;
}

function naiveSlice(x: Float32Array, shape: number[], begin: number[], size: number[]): Float32Array {
  const inS = stridesOf(shape);
  const outS = stridesOf(size);
  const n = size.reduce((m, d) => m * d, 1);
  const out = new Float32Array(n);
  for (let flat = 0; flat < n; flat++) {
    let rem = flat;
    let src = 0;
    for (let k = 0; k < size.length; k++) {
      const i = Math.floor(rem / outS[k]);
      rem -= i * outS[k];
      src += (begin[k] + i) * inS[k];
    }
    out[flat] = x[src];
  }
  return out;
}

const iota = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

describe('collapsePermutation', () => {
  it('merges axes that stay neighbours and drops size-1 axes', () => {
    expect(collapsePermutation([16, 256, 6, 48], [0, 2, 1, 3])).toEqual({ shape: [16, 256, 6, 48], perm: [0, 2, 1, 3] });
    expect(collapsePermutation([2, 3, 4, 5, 6], [0, 3, 1, 2, 4])).toEqual({ shape: [2, 12, 5, 6], perm: [0, 2, 1, 3] });
    expect(collapsePermutation([8, 1, 5, 7], [0, 2, 3, 1])).toEqual({ shape: [280], perm: [0] });
    expect(collapsePermutation([1, 1], [1, 0])).toEqual({ shape: [], perm: [] });
  });
});

describe('transposeKind', () => {
  it('names how each permutation is copied', () => {
    expect(transposeKind([4, 1, 5], [1, 0, 2])).toBe('identity'); // only a size-1 axis moves
    expect(transposeKind([16, 256, 6, 48], [0, 2, 1, 3])).toBe('runs');
    expect(transposeKind([16, 6, 256, 48], [0, 1, 3, 2])).toBe('swap');
    expect(transposeKind([2, 3, 4], [2, 0, 1])).toBe('swap'); // collapses to [6, 4] -> [4, 6]
    expect(transposeKind([2, 3, 4], [2, 1, 0])).toBe('other');
  });
});

describe('transposeInto', () => {
  it('transposes a 2x3 matrix (hand-worked)', () => {
    const dst = new Float32Array(6);
    expect(transposeInto(Float32Array.from([1, 2, 3, 4, 5, 6]), dst, [2, 3], [1, 0])).toBe(true);
    expect(Array.from(dst)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('declines a permutation that moves the last axis elsewhere, leaving dst alone', () => {
    const dst = new Float32Array(24).fill(-1);
    expect(transposeInto(iota(24), dst, [2, 3, 4], [2, 1, 0])).toBe(false);
    expect(dst.every((v) => v === -1)).toBe(true);
  });

  it('equals the naive transpose on the model layouts, across tile edges', () => {
    const cases: [number[], number[]][] = [
      [[130, 70], [1, 0]], // not a multiple of the 64 tile
      [[3, 65, 129], [0, 2, 1]], // batched swap of the last two
      [[4, 9, 3, 8], [0, 2, 1, 3]], // [B, T, H, d] -> [B, H, T, d]
      [[2, 3, 2, 5, 4], [0, 3, 1, 2, 4]], // attention output back to [B, T, kvH, g, d]
      [[2, 3, 2, 5, 4], [0, 2, 3, 1, 4]],
    ];
    for (const [shape, perm] of cases) {
      const n = shape.reduce((m, d) => m * d, 1);
      const x = iota(n);
      const dst = new Float32Array(n);
      expect(transposeInto(x, dst, shape, perm)).toBe(true);
      expect(Array.from(dst)).toEqual(Array.from(naiveTranspose(x, shape, perm)));
    }
  });

  it('equals the naive transpose for seeded random shapes and permutations, or declines', () => {
    const rnd = mulberry32(7);
    let handled = 0;
    for (let t = 0; t < 300; t++) {
      const r = 1 + Math.floor(rnd() * 5);
      const shape = Array.from({ length: r }, () => 1 + Math.floor(rnd() * 5));
      const perm = [...Array(r).keys()].sort(() => rnd() - 0.5);
      const n = shape.reduce((m, d) => m * d, 1);
      const x = iota(n);
      const dst = new Float32Array(n);
      if (!transposeInto(x, dst, shape, perm)) continue;
      handled++;
      expect(Array.from(dst)).toEqual(Array.from(naiveTranspose(x, shape, perm)));
    }
    expect(handled).toBeGreaterThan(150);
  });

  it('works on int32 and bool (uint8) arrays', () => {
    const d32 = new Int32Array(6);
    transposeInto(Int32Array.from([1, 2, 3, 4, 5, 6]), d32, [3, 2], [1, 0]);
    expect(Array.from(d32)).toEqual([1, 3, 5, 2, 4, 6]);
    const d8 = new Uint8Array(4);
    transposeInto(Uint8Array.from([1, 0, 0, 1]), d8, [2, 2], [1, 0]);
    expect(Array.from(d8)).toEqual([1, 0, 0, 1]);
  });
});

describe('sliceInto', () => {
  it('takes a strided block (hand-worked)', () => {
    const dst = new Float32Array(4);
    sliceInto(iota(12), dst, [3, 4], [1, 1], [2, 2]);
    expect(Array.from(dst)).toEqual([5, 6, 9, 10]);
  });

  it('equals the naive slice for seeded random shapes and slices, including empty ones', () => {
    const rnd = mulberry32(11);
    for (let t = 0; t < 300; t++) {
      const r = 1 + Math.floor(rnd() * 5);
      const shape = Array.from({ length: r }, () => 1 + Math.floor(rnd() * 6));
      const begin = shape.map((d) => Math.floor(rnd() * d));
      const size = shape.map((d, i) => Math.floor(rnd() * (d - begin[i] + 1)));
      if (rnd() < 0.3) for (let i = r - 1; i >= Math.floor(rnd() * r); i--) { begin[i] = 0; size[i] = shape[i]; } // whole trailing axes
      const n = size.reduce((m, d) => m * d, 1);
      const x = iota(shape.reduce((m, d) => m * d, 1));
      const dst = new Float32Array(n);
      sliceInto(x, dst, shape, begin, size);
      expect(Array.from(dst)).toEqual(Array.from(naiveSlice(x, shape, begin, size)));
    }
  });
});
