/** Seeded splits and batch order: determinism, exact resume, bucketing that cuts padding. */
import { mulberry32, seededPermutation } from '../../src/data/rng';
import { splitTrainEval } from '../../src/data/split';
import { EpochIterator, epochBatches, paddingFraction } from '../../src/data/batching';
import { DataError } from '../../src/data/errors';

test('mulberry32 matches the C reference (values from an independent Python transcription, seed 1)', () => {
  // uint32 t = a += 0x6D2B79F5; t = (t ^ t>>15) * (t|1); t ^= t + (t ^ t>>7) * (t|61); return t ^ t>>14;
  // transcribed to Python with explicit & 0xffffffff gives 2693262067, 11749833, 2265367787.
  const r = mulberry32(1);
  expect([r(), r(), r()].map((x) => x * 4294967296)).toEqual([2693262067, 11749833, 2265367787]);
});

test('seeded permutation: a permutation, the same for the same seed, different for another', () => {
  const p = seededPermutation(100, 7);
  expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  expect(seededPermutation(100, 7)).toEqual(p);
  expect(seededPermutation(100, 8)).not.toEqual(p);
});

describe('train/eval split', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  test('by count and by fraction: disjoint, complete, original order kept, deterministic', () => {
    const a = splitTrainEval(items, { evalCount: 5, seed: 3 });
    expect(a.eval).toHaveLength(5);
    expect([...a.train, ...a.eval].sort((x, y) => x - y)).toEqual(items);
    expect(a.train).toEqual([...a.train].sort((x, y) => x - y));
    expect(splitTrainEval(items, { evalCount: 5, seed: 3 })).toEqual(a);
    expect(splitTrainEval(items, { evalCount: 5, seed: 4 }).eval).not.toEqual(a.eval);
    // The eval set is the first k of the seeded permutation.
    expect(a.eval).toEqual(seededPermutation(50, 3).slice(0, 5).sort((x, y) => x - y));
    expect(splitTrainEval(items, { evalFraction: 0.1, seed: 3 })).toEqual(a);
  });
  test('impossible sizes give a DataError that quotes the numbers', () => {
    expect(() => splitTrainEval(items, { evalCount: 50 })).toThrow(DataError);
    expect(() => splitTrainEval(items, { evalCount: 50 })).toThrow(/evalCount is 50 with 50 records; expected an integer between 1 and 49/);
    expect(() => splitTrainEval(items, { evalFraction: 1.5 })).toThrow(/evalFraction is 1.5/);
    expect(() => splitTrainEval([1, 2], { evalFraction: 0.1 })).toThrow(/gives 0 eval records/);
  });
});

describe('batch order', () => {
  test('plain: every example once per epoch, epochs differ, dropLast', () => {
    const e0 = epochBatches(10, 0, { batchSize: 3, seed: 1 });
    expect(e0.map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(e0.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(epochBatches(10, 1, { batchSize: 3, seed: 1 }).flat()).not.toEqual(e0.flat());
    expect(epochBatches(10, 0, { batchSize: 3, seed: 1, dropLast: true })).toHaveLength(3);
    expect(epochBatches(5, 0, { batchSize: 2, shuffle: false })).toEqual([[0, 1], [2, 3], [4]]);
  });

  test('exact resume: a restored iterator continues with the very next batch, across epochs', () => {
    const o = { batchSize: 4, seed: 11 };
    const it = new EpochIterator(10, o);
    const seen: number[][] = [];
    for (let i = 0; i < 5; i++) seen.push(it.next().indices);
    const saved = JSON.parse(JSON.stringify(it.state));
    expect(saved).toEqual({ epoch: 1, index: 2, seed: 11 });
    const rest = [it.next(), it.next(), it.next()];
    const resumed = new EpochIterator(10, o, saved);
    expect([resumed.next(), resumed.next(), resumed.next()]).toEqual(rest);
    expect(() => new EpochIterator(10, { ...o, seed: 12 }, saved)).toThrow(/saved data-order seed 11 differs/);
  });

  test('bucketing: same examples, less padding, still deterministic', () => {
    const rng = mulberry32(5);
    const lengths = Array.from({ length: 400 }, () => 5 + Math.floor(rng() * 200));
    const o = { batchSize: 8, seed: 2 };
    const plain = epochBatches(400, 0, o);
    const bucketed = epochBatches(400, 0, { ...o, bucket: true, lengths, chunkBatches: 10 });
    expect(bucketed.flat().sort((a, b) => a - b)).toEqual(plain.flat().sort((a, b) => a - b));
    expect(epochBatches(400, 0, { ...o, bucket: true, lengths, chunkBatches: 10 })).toEqual(bucketed);
    const pf = paddingFraction(plain, lengths), bf = paddingFraction(bucketed, lengths);
    expect(bf).toBeLessThan(pf / 3);
    expect(bf).toBeGreaterThanOrEqual(0);
    expect(new EpochIterator(400, { ...o, bucket: true, lengths, chunkBatches: 10 }).paddingFraction()).toBe(bf);
  });

  test('padding fraction, hand-worked: lengths [2, 4] in one batch -> 1 - 6/8', () => {
    expect(paddingFraction([[0, 1]], [2, 4])).toBeCloseTo(0.25, 12);
    expect(paddingFraction([[0], [1]], [2, 4])).toBe(0);
  });
});

test('a separate eval file instead of a split', async () => {
  const { loadTrainEval } = await import('../../src/data/split');
  const { fix } = await import('./helpers');
  const r = await loadTrainEval({ data: fix('explicit.jsonl'), evalData: fix('conversational.jsonl'), evalFraction: 0.5 });
  expect(r.train).toHaveLength(3);
  expect(r.eval).toHaveLength(2);
  expect(r.evalStats?.conversational).toBe(2);
});
