/**
 * Batch order: which example indices form each batch, epoch after epoch, reproducibly.
 * Epoch e uses its own seed mixSeed(seed, e). Plain: a seeded shuffle cut into batches.
 * Length-bucketed (`bucket`): the shuffled indices are cut into chunks of `chunkBatches` batches, each
 * chunk is sorted by length (so a batch holds similar lengths and pads less), cut into batches, and the
 * batches of the whole epoch are shuffled again (so lengths do not arrive in a pattern).
 * Exact resume: the state {epoch, index, seed} (index = batches of that epoch already handed out)
 * rebuilds the same order, so a restored iterator continues with the very next batch.
 * Does NOT collate (collate.ts does) or know what the indices point at.
 */
import { mixSeed, mulberry32, shuffleInPlace } from './rng';

export interface BatchOrderOptions {
  batchSize: number;
  /** @default 0 */
  seed?: number;
  /** Shuffle each epoch. @default true */
  shuffle?: boolean;
  /** Leave out the last, smaller batch of an epoch. @default false */
  dropLast?: boolean;
  /** Length-bucketed batching (needs `lengths`). @default false */
  bucket?: boolean;
  /** Batches per sorted chunk when bucketing. @default 50 */
  chunkBatches?: number;
  /** Example lengths (tokens of the longest row), for bucketing and padding reports. */
  lengths?: ArrayLike<number>;
}

export interface EpochState {
  epoch: number;
  /** Batches of `epoch` already handed out. */
  index: number;
  seed: number;
}

function chunk(order: number[], size: number, dropLast: boolean): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += size) {
    const b = order.slice(i, i + size);
    if (b.length < size && dropLast) break;
    out.push(b);
  }
  return out;
}

/** The batches of one epoch. Example: epochBatches(5, 0, {batchSize: 2, shuffle: false}) -> [[0,1],[2,3],[4]]. */
export function epochBatches(n: number, epoch: number, o: BatchOrderOptions): number[][] {
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = mulberry32(mixSeed(o.seed ?? 0, epoch));
  if (o.shuffle !== false) shuffleInPlace(order, rng);
  if (!o.bucket) return chunk(order, o.batchSize, !!o.dropLast);
  const lengths = o.lengths;
  if (!lengths || lengths.length !== n) throw new Error(`bucketed batching needs one length per example (got ${lengths?.length ?? 0} for ${n})`);
  const span = o.batchSize * (o.chunkBatches ?? 50);
  let batches: number[][] = [];
  for (let i = 0; i < n; i += span) {
    // Stable order for equal lengths: by position in the shuffled order.
    const part = order.slice(i, i + span).sort((a, b) => lengths[a] - lengths[b]);
    batches = batches.concat(chunk(part, o.batchSize, false));
  }
  if (o.dropLast) batches = batches.filter((b) => b.length === o.batchSize);
  return o.shuffle !== false ? shuffleInPlace(batches, rng) : batches;
}

/** Padding share of the padded cells when every batch is padded to its longest example: 1 - real / padded. */
export function paddingFraction(batches: number[][], lengths: ArrayLike<number>): number {
  let real = 0, padded = 0;
  for (const b of batches) {
    let longest = 0;
    for (const i of b) {
      real += lengths[i];
      longest = Math.max(longest, lengths[i]);
    }
    padded += longest * b.length;
  }
  return padded === 0 ? 0 : 1 - real / padded;
}

/** Endless batches over n examples, epoch after epoch, with a saveable position. */
export class EpochIterator {
  private epochCache: { epoch: number; batches: number[][] } | null = null;
  private pos: EpochState;

  /** Starts at epoch 0 or at a saved `state` (its seed must match o.seed). */
  constructor(readonly n: number, private readonly o: BatchOrderOptions, state?: EpochState) {
    if (n <= 0) throw new Error('EpochIterator needs at least one example');
    if (o.batchSize <= 0 || !Number.isInteger(o.batchSize)) throw new Error(`batchSize is ${o.batchSize}; expected a positive integer`);
    const seed = o.seed ?? 0;
    if (state && state.seed !== seed) throw new Error(`saved data-order seed ${state.seed} differs from the run's seed ${seed}; expected the same seed to resume exactly`);
    // A saved state comes from a file: a negative or fractional position would index past the batches.
    const okPos = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
    if (state && !(okPos(state.epoch) && okPos(state.index))) {
      throw new Error(`saved data position {epoch: ${JSON.stringify(state.epoch)}, index: ${JSON.stringify(state.index)}} is not a pair of non-negative integers`);
    }
    this.pos = state ? { ...state } : { epoch: 0, index: 0, seed };
  }

  /** The batches of the given epoch (cached for the current one). */
  batchesOf(epoch: number): number[][] {
    if (this.epochCache?.epoch !== epoch) this.epochCache = { epoch, batches: epochBatches(this.n, epoch, this.o) };
    return this.epochCache.batches;
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.batchesOf(this.pos.epoch).length;
  }

  /** Padding share of an epoch's batches (needs `lengths`): what bucketing is there to cut. */
  paddingFraction(epoch = this.pos.epoch): number {
    if (!this.o.lengths) throw new Error('paddingFraction needs the example lengths (BatchOrderOptions.lengths)');
    return paddingFraction(this.batchesOf(epoch), this.o.lengths);
  }

  /** The position to save: restoring it gives the batch `next()` would give now. */
  get state(): EpochState {
    return { ...this.pos };
  }

  /** The next batch of indices, with the epoch and index it came from. */
  next(): { epoch: number; index: number; indices: number[] } {
    let batches = this.batchesOf(this.pos.epoch);
    if (batches.length === 0) throw new Error(`no full batch of ${this.o.batchSize} in ${this.n} examples with dropLast; expected a smaller batch size`);
    if (this.pos.index >= batches.length) {
      this.pos = { epoch: this.pos.epoch + 1, index: 0, seed: this.pos.seed };
      batches = this.batchesOf(this.pos.epoch);
    }
    const out = { epoch: this.pos.epoch, index: this.pos.index, indices: batches[this.pos.index] };
    this.pos.index++;
    return out;
  }
}
