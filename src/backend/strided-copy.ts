/**
 * Transpose and slice as plain strided copies between typed arrays, for the wasm kernels that replace
 * tfjs-backend-wasm's (wasm-patches.ts): its Transpose walks element by element with index arithmetic
 * (a [4096, 288] float transpose: ~9.6 ms) and its non-contiguous Slice first copies the whole input out
 * of the heap. Here both work directly on heap views, in runs: a permutation that keeps the last axis in
 * place copies contiguous rows, one that swaps the last two axes is a cache-blocked 2-D transpose that
 * writes its output in order (the same [4096, 288]: ~1.4 ms).
 *
 * Does: pure index work on any typed array (so it is tested on plain arrays). Does NOT: allocate outputs
 * or know about backends.
 */

type Arr = Float32Array | Int32Array | Uint8Array;

/** Row-major strides of `shape`: [2, 3, 4] -> [12, 4, 1]. */
function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/**
 * The same permutation on fewer axes: size-1 axes dropped, and input axes that stay neighbours in the
 * output merged. [16, 256, 6, 48] with perm [0, 2, 1, 3] stays as it is; [B, H, g, T, d] with
 * [0, 3, 1, 2, 4] becomes [B, H·g, T, d] with [0, 2, 1, 3]; [8, 1, 5, 7] with [0, 2, 3, 1] becomes [280]
 * with [0] (an identity: a plain copy).
 */
export function collapsePermutation(shape: number[], perm: number[]): { shape: number[]; perm: number[] } {
  const kept = shape.map((d, i) => i).filter((i) => shape[i] !== 1);
  const renumber = new Map(kept.map((axis, i) => [axis, i]));
  const s1 = kept.map((i) => shape[i]);
  const p1 = perm.filter((a) => shape[a] !== 1).map((a) => renumber.get(a)!);
  // Merge runs p1[k], p1[k]+1, ... (consecutive input axes kept in order by the output).
  const groups: number[][] = [];
  for (const a of p1) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === a) last.push(a);
    else groups.push([a]);
  }
  const byFirstAxis = [...groups].sort((x, y) => x[0] - y[0]);
  const newIndex = new Map(byFirstAxis.map((g, i) => [g[0], i]));
  return {
    shape: byFirstAxis.map((g) => g.reduce((m, a) => m * s1[a], 1)),
    perm: groups.map((g) => newIndex.get(g[0])!),
  };
}

type TransposeKind = 'identity' | 'runs' | 'swap' | 'other';

/** The kind of an already collapsed permutation (see transposeKind). */
function kindOf(p: number[]): TransposeKind {
  const r = p.length;
  if (p.every((a, i) => a === i)) return 'identity';
  if (p[r - 1] === r - 1) return 'runs';
  return p[r - 1] === r - 2 && p[r - 2] === r - 1 && p.slice(0, -2).every((a, i) => a === i) ? 'swap' : 'other';
}

/**
 * How transposeInto copies (shape, perm): 'identity' (one block copy), 'runs' (the last axis stays last:
 * contiguous rows), 'swap' (only the last two axes swap, after collapsing: a blocked 2-D transpose per
 * matrix), or 'other' (not handled).
 */
export function transposeKind(shape: number[], perm: number[]): TransposeKind {
  return kindOf(collapsePermutation(shape, perm).perm);
}

/**
 * dst = transpose(src viewed as `shape`, perm). Returns false (dst untouched) for a permutation this does
 * not handle fast: one that moves the last axis anywhere but into the second-last place of a plain
 * last-two swap, e.g. [2, 1, 0]; the caller then uses its general kernel.
 */
export function transposeInto(src: Arr, dst: Arr, shape: number[], perm: number[]): boolean {
  const c = collapsePermutation(shape, perm);
  const kind = kindOf(c.perm);
  const r = c.perm.length;
  if (kind === 'other') return false;
  if (kind === 'identity') {
    dst.set(src.subarray(0, dst.length));
  } else if (kind === 'runs') {
    const inStrides = strides(c.shape);
    copyRuns(src, dst, c.perm.slice(0, -1).map((a) => c.shape[a]), c.perm.slice(0, -1).map((a) => inStrides[a]), 0, c.shape[r - 1]);
  } else {
    const rows = c.shape[r - 2];
    const cols = c.shape[r - 1];
    const batch = c.shape.slice(0, -2).reduce((m, d) => m * d, 1);
    for (let b = 0; b < batch; b++) transpose2d(src, dst, b * rows * cols, rows, cols);
  }
  return true;
}

/**
 * dst = src[begin : begin + size] for src viewed as `shape` (dst holds prod(size) elements).
 * The trailing axes taken whole, and the innermost partial one, make one contiguous run per index of
 * the axes before them.
 */
export function sliceInto(src: Arr, dst: Arr, shape: number[], begin: number[], size: number[]): void {
  const r = shape.length;
  const st = strides(shape);
  // The innermost axis not taken whole: everything from it inwards is one run.
  let a = r - 1;
  while (a > 0 && size[a] === shape[a] && begin[a] === 0) a--;
  const run = size[a] * st[a];
  let base = 0;
  for (let i = 0; i < r; i++) base += begin[i] * st[i];
  copyRuns(src, dst, size.slice(0, a), st.slice(0, a), base, run);
}

/**
 * For every index (i0, …, ik) over `counts` (in order), copies `run` elements from
 * src[base + Σ i·srcStrides] to the next place in dst.
 */
function copyRuns(src: Arr, dst: Arr, counts: number[], srcStrides: number[], base: number, run: number): void {
  const k = counts.length;
  if (counts.some((n) => n === 0) || run === 0) return;
  const idx = new Array<number>(k).fill(0);
  let s = base;
  let o = 0;
  const total = counts.reduce((m, n) => m * n, 1);
  const useSet = run >= 64; // subarray() costs an allocation; short runs copy faster in a loop
  for (let n = 0; n < total; n++) {
    if (useSet) dst.set(src.subarray(s, s + run), o);
    else for (let j = 0; j < run; j++) dst[o + j] = src[s + j];
    o += run;
    // Odometer step over the output order.
    for (let d = k - 1; d >= 0; d--) {
      s += srcStrides[d];
      if (++idx[d] < counts[d]) break;
      s -= srcStrides[d] * counts[d];
      idx[d] = 0;
    }
  }
}

const BLOCK = 64;

/** One [rows, cols] matrix at src[off..] transposed into dst[off..], in BLOCK² tiles, writing rows of dst in order. */
function transpose2d(src: Arr, dst: Arr, off: number, rows: number, cols: number): void {
  for (let i0 = 0; i0 < rows; i0 += BLOCK) {
    const i1 = Math.min(i0 + BLOCK, rows);
    for (let j0 = 0; j0 < cols; j0 += BLOCK) {
      const j1 = Math.min(j0 + BLOCK, cols);
      for (let j = j0; j < j1; j++) {
        const dj = off + j * rows;
        for (let i = i0; i < i1; i++) dst[dj + i] = src[off + i * cols + j];
      }
    }
  }
}

/**
 * dst = gather(src viewed as [outer, dim, inner], ids, axis 1) -> [outer, ids.length, inner]: for each outer
 * index, the `inner`-long rows picked by ids, in order. ids must already be checked to lie in [0, dim).
 */
export function gatherInto(src: Arr, dst: Arr, outer: number, dim: number, inner: number, ids: ArrayLike<number>): void {
  let o = 0;
  const useSet = inner >= 64;
  for (let a = 0; a < outer; a++) {
    const base = a * dim * inner;
    for (let i = 0; i < ids.length; i++) {
      const s = base + ids[i] * inner;
      if (useSet) dst.set(src.subarray(s, s + inner), o);
      else for (let j = 0; j < inner; j++) dst[o + j] = src[s + j];
      o += inner;
    }
  }
}
