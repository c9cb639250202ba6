/**
 * Seeded randomness for data order: a 32-bit PRNG (mulberry32) and a Fisher-Yates shuffle on top.
 * Same seed → same order on every machine and Node version (integer maths only, no Math.random).
 * Does NOT aim at statistical quality beyond shuffling data; not for cryptography.
 */

/** mulberry32: returns a function giving floats in [0, 1). Example: mulberry32(1)() -> 0.6270739405881613 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Derives an independent stream seed from (seed, k), e.g. one per epoch: a murmur3-style integer mix. */
export function mixSeed(seed: number, k: number): number {
  let h = (seed ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * In-place Fisher-Yates shuffle, walking from the end: for i = n-1..1 swap a[i] with a[j], j = floor(rng()*(i+1)).
 * Returns the same array. Example: shuffleInPlace([0,1,2,3], mulberry32(0)) is the same permutation every run.
 */
export function shuffleInPlace<T>(a: T[], rng: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

/** [0, 1, ..., n-1] shuffled by a fresh mulberry32(seed). */
export function seededPermutation(n: number, seed: number): number[] {
  return shuffleInPlace(Array.from({ length: n }, (_, i) => i), mulberry32(seed));
}
