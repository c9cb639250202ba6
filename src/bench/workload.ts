/**
 * The benchmark's inputs: which models, the batch shape, and the token ids both sides train on.
 * Ids are drawn from a seeded generator so TF.js and PyTorch see exactly the same numbers; every row
 * is full length (no padding), so "tokens" means the same thing on both sides.
 *
 *   pairs (DPO, reward, scoring): B pairs -> 2B rows [chosen..., rejected...], each prompt(P) + completion(T-P);
 *     the steps read them as the toolkit does by default, packed with each prompt once (sharedPairBatch), or
 *     as 2B padded rows with --layout padded (pairsAsRead)
 *   sequences (SFT): the B chosen rows
 *   prompts (sample, greedy): samplePrompts ragged prompts, each continued by exactly newTokens new tokens
 *
 * Does: build batches as plain typed arrays (data/collate.ts shapes) and the JSON the Python side reads.
 * Does NOT: create tensors or models.
 */
import type { PairBatch, SequenceBatch } from '../data/collate';
import { packPairs, type PackedPairBatch } from '../data/packing';
import { mulberry32 } from '../data/rng';

export interface Workload {
  /** Pairs per DPO/reward step and per scoring batch; sequences per SFT step. */
  batch: number;
  /** Tokens per row (prompt + completion). */
  seqLen: number;
  /** Prompt tokens per row (the rest is completion). */
  promptLen: number;
  /** Ids are drawn from [firstId, vocab): below it sit pad/bos/eos, which would move HF's "last real token". */
  vocab: number;
  firstId: number;
  seed: number;
  /** How the pair steps read the pairs: packed, each prompt once (the toolkit's default), or 2B padded rows. */
  layout: PairLayout;
  /** Sampling kinds: prompts per batch and new tokens per row (every row makes exactly that many: no stop tokens). */
  samplePrompts: number;
  newTokens: number;
}

/** packed: data/packing.ts with shared prompts and padding-free rows; padded: data/collate.ts's 2B rows. */
export const PAIR_LAYOUTS = ['packed', 'padded'] as const;
export type PairLayout = (typeof PAIR_LAYOUTS)[number];

/** Row-major ids: promptIds [B·P], chosen/rejected completions [B·(T−P)] each. */
export interface PairIds {
  prompt: Int32Array;
  chosen: Int32Array;
  rejected: Int32Array;
}

export function makeWorkload(o: Partial<Workload> & { vocab: number }): Workload {
  const seqLen = o.seqLen ?? 256;
  return {
    batch: o.batch ?? 8, seqLen, promptLen: o.promptLen ?? Math.floor(seqLen / 4), firstId: o.firstId ?? 3, seed: o.seed ?? 1234, vocab: o.vocab,
    layout: o.layout ?? 'packed', samplePrompts: o.samplePrompts ?? 16, newTokens: o.newTokens ?? 64,
  };
}

/**
 * The sampling kinds' prompts: `samplePrompts` seeded id rows (no special ids) of ragged lengths from
 * promptLen/2 to promptLen, so both sides left-pad. e.g. promptLen 64 -> 16 prompts of 32..64 tokens.
 */
export function samplePromptIds(w: Workload): number[][] {
  const rng = mulberry32(w.seed + 7);
  const lo = Math.max(1, Math.floor(w.promptLen / 2));
  return Array.from({ length: w.samplePrompts }, () => {
    const n = lo + Math.floor(rng() * (w.promptLen - lo + 1));
    return Array.from({ length: n }, () => w.firstId + Math.floor(rng() * (w.vocab - w.firstId)));
  });
}

/** The seeded ids; the same workload always gives the same ids. */
export function pairIds(w: Workload): PairIds {
  const rng = mulberry32(w.seed);
  const draw = (n: number) => {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = w.firstId + Math.floor(rng() * (w.vocab - w.firstId));
    return a;
  };
  const C = w.seqLen - w.promptLen;
  return { prompt: draw(w.batch * w.promptLen), chosen: draw(w.batch * C), rejected: draw(w.batch * C) };
}

/** Row r of `rows` [B, T] = prompt[i] + completion[i]. */
function fillRows(w: Workload, ids: PairIds, which: ('chosen' | 'rejected')[]): { inputIds: Int32Array; attentionMask: Float32Array; completionMask: Float32Array } {
  const { batch: B, seqLen: T, promptLen: P } = w;
  const C = T - P;
  const rows = which.length * B;
  const inputIds = new Int32Array(rows * T);
  const completionMask = new Float32Array(rows * T);
  which.forEach((side, s) => {
    for (let i = 0; i < B; i++) {
      const r = s * B + i;
      inputIds.set(ids.prompt.subarray(i * P, (i + 1) * P), r * T);
      inputIds.set(ids[side].subarray(i * C, (i + 1) * C), r * T + P);
      completionMask.fill(1, r * T + P, (r + 1) * T);
    }
  });
  return { inputIds, attentionMask: new Float32Array(rows * T).fill(1), completionMask };
}

/** B pairs as 2B rows (chosen first), as data/collate produces them. */
export function pairBatch(w: Workload, ids = pairIds(w)): PairBatch {
  return { size: w.batch, seqLen: w.seqLen, ...fillRows(w, ids, ['chosen', 'rejected']), records: [] };
}

/**
 * The same B pairs in the toolkit's default layout (data/packing.ts): one row per pair with the prompt computed
 * once for both completions. Tokens keep their meaning (2·B·T, the prompt counted per side, as TRL computes it).
 * Where the fused segment kernel runs, the toolkit packs a whole batch into one row; with every pair the same length
 * that holds the same cells and the same attention work, so rows per pair stand for it.
 */
export function sharedPairBatch(w: Workload, ids = pairIds(w)): PackedPairBatch {
  const C = w.seqLen - w.promptLen;
  const record = { prompt: '', chosen: '', rejected: '', id: 'bench', source: 'bench' };
  const examples = Array.from({ length: w.batch }, (_, i) => {
    const prompt = Array.from(ids.prompt.subarray(i * w.promptLen, (i + 1) * w.promptLen));
    const side = (x: Int32Array) => ({ ids: [...prompt, ...x.subarray(i * C, (i + 1) * C)], completionStart: w.promptLen });
    return { record, chosen: side(ids.chosen), rejected: side(ids.rejected) };
  });
  return packPairs(examples, 0, { sharePrompt: true, paddingFree: true });
}

/** The B pairs in the workload's layout: what the DPO, reward and scoring steps read. */
export function pairsAsRead(w: Workload): PairBatch | PackedPairBatch {
  return w.layout === 'padded' ? pairBatch(w) : sharedPairBatch(w);
}

/** The B chosen sequences (SFT trains on prompt + chosen, loss on the completion). */
export function sequenceBatch(w: Workload, ids = pairIds(w)): SequenceBatch {
  return { size: w.batch, seqLen: w.seqLen, ...fillRows(w, ids, ['chosen']), records: [] };
}

/** The same ids as nested arrays for the Python side: per pair {prompt_ids, chosen_ids, rejected_ids}. */
export function pairIdsJson(w: Workload, ids = pairIds(w)): { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }[] {
  const C = w.seqLen - w.promptLen;
  return Array.from({ length: w.batch }, (_, i) => ({
    prompt_ids: Array.from(ids.prompt.subarray(i * w.promptLen, (i + 1) * w.promptLen)),
    chosen_ids: Array.from(ids.chosen.subarray(i * C, (i + 1) * C)),
    rejected_ids: Array.from(ids.rejected.subarray(i * C, (i + 1) * C)),
  }));
}
