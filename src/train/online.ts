/**
 * What the online trainers (GRPO/RLOO, online DPO) share: a resumable source of prompt batches whose sampling
 * seeds are a pure function of (seed, rollout number, prompt, sample), sampling them with the current policy,
 * scoring them with the reward, packing prompt + completion rows for a forward, per-token log-probs and entropies
 * at the sampling temperature, and TRL's rollout metrics (reward, rewards/<name>/mean|std, completions/*).
 *
 * Exact resume: the sampling random stream is not state that drifts; row (k, i, j) of rollout k always draws from
 * Rng(rolloutSeed(seed, k, i, j)), so the source's state (epoch position, rollouts made, and a batch still being
 * reused under num_iterations > 1) is all a checkpoint needs.
 * Row order is prompt-major: row i·n + j is sample j of prompt i (TRL's repeat_interleave order).
 *
 * Does NOT: compute losses (losses/) or advantages' formulas (losses/grpo.ts), or read prompt files (stages do).
 */
import * as tf from '@tensorflow/tfjs';
import { EpochIterator, type EpochState } from '../data';
import type { LanguageModel } from '../model/language-model';
import { tokenLogProbs } from '../model/logprobs';
import { sampleBatch, type FinishReason } from '../model/sample-batch';
import { completionText } from '../model/sample-prompts';
import { meanStd } from '../rewards/combine';
import type { RewardSource } from '../rewards/types';
import type { Tokenizer } from '../tokenizer/types';
import type { BatchSource } from './loop';

/** One prompt, tokenised ([BOS] + encode(rendered prompt)), with its text and where it came from. */
export interface PromptExample {
  ids: number[];
  text: string;
  /** `file:line`, for errors. */
  source: string;
}

export interface SamplingSettings {
  /** Samples per prompt (TRL num_generations). */
  n: number;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  /** A row ends at one of these; it is kept as the completion's last token (TRL trains on the EOS). */
  stopTokenIds: number[];
}

/** One rollout's request: which prompts, and the number that seeds its rows. Filled by a task's prepare(). */
export interface OnlineBatch<P = unknown> {
  /** Rollout number (0, 1, ...; eval rollouts are numbered from EVAL_ROLLOUT). */
  index: number;
  prompts: PromptExample[];
  /** What the task computed from the samples (once per rollout, reused under num_iterations > 1). */
  prepared?: P;
}

/** Seeds of eval rollouts are numbered from here, so held-out samples never share a stream with training ones. */
export const EVAL_ROLLOUT = 0x40000000;

/** splitmix32-style mixing of integers into one 31-bit seed. Example: rolloutSeed(42, 0, 0, 0) -> a fixed int. */
export function rolloutSeed(seed: number, rollout: number, prompt: number, sample: number): number {
  let h = 0x9e3779b9 ^ seed;
  for (const x of [rollout, prompt, sample]) {
    h = Math.imul(h ^ (x + 0x7f4a7c15), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h & 0x7fffffff;
}

/** A sampled row: prompt index (in the batch), completion tokens (stop token included when it stopped), why it ended. */
export interface RolloutRow {
  prompt: number;
  tokens: number[];
  finishReason: FinishReason;
}

export interface Rollout {
  rows: RolloutRow[];
  /** Per row: the prompt's text and the completion's text (the stop token not decoded). */
  promptTexts: string[];
  completionTexts: string[];
}

/** Samples n completions of each prompt of the batch with the policy, seeded per row. */
export async function sampleRollout(policy: LanguageModel, tok: Tokenizer, batch: OnlineBatch, s: SamplingSettings, seed: number): Promise<Rollout> {
  const requests = batch.prompts.map((p, i) => ({
    ids: p.ids,
    index: i,
    seeds: Array.from({ length: s.n }, (_, j) => rolloutSeed(seed, batch.index, i, j)),
  }));
  const sampled = await sampleBatch(policy, requests, {
    n: s.n, maxNewTokens: s.maxNewTokens, temperature: s.temperature, topK: s.topK, topP: s.topP, stopTokenIds: s.stopTokenIds,
  });
  // A stopped row drew a stop token that sampling does not return; TRL's completions end with it (and train on it).
  // With several stop ids the one drawn is unknown, so it is only kept when there is one.
  const stopId = s.stopTokenIds.length === 1 ? s.stopTokenIds[0] : null;
  const rows = sampled.map((r) => ({
    prompt: r.promptIndex,
    tokens: r.finishReason === 'stop' && stopId !== null ? [...r.tokens, stopId] : [...r.tokens],
    finishReason: r.finishReason,
  }));
  return {
    rows,
    promptTexts: rows.map((r) => batch.prompts[r.prompt].text),
    completionTexts: sampled.map((r) => completionText(tok, batch.prompts[r.promptIndex].ids, r.tokens)),
  };
}

/** Several rewards with weights (TRL reward_funcs / reward_weights): the weighted sum and each one's scores. */
export interface RewardSet {
  sources: RewardSource[];
  weights: number[];
}

export interface Scores {
  total: number[];
  perSource: Record<string, number[]>;
}

/** Scores every row with every source (in turn) and sums them with the weights; a non-finite score is an error naming the row. */
export async function scoreRollout(r: RewardSet, rollout: Rollout, batch: OnlineBatch): Promise<Scores> {
  const perSource: Record<string, number[]> = {};
  // What a user function gets as `row`: its place in the rollout and the prompt's file:line.
  const rows = rollout.rows.map((row, index) => ({ index, source: batch.prompts[row.prompt].source, prompt_index: row.prompt, rollout: batch.index }));
  for (const s of r.sources) {
    const v = await s.score(rollout.promptTexts, rollout.completionTexts, rows);
    if (v.length !== rollout.rows.length) throw new Error(`reward ${s.name} returned ${v.length} scores for ${rollout.rows.length} completions`);
    const bad = v.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
    if (bad >= 0) {
      const where = batch.prompts[rollout.rows[bad].prompt].source;
      throw new Error(`reward ${s.name} gave ${v[bad]} for a completion of the prompt at ${where}; a reward must be a finite number`);
    }
    perSource[s.name] = v;
  }
  const total = rollout.rows.map((_, i) => r.sources.reduce((acc, s, k) => acc + r.weights[k] * perSource[s.name][i], 0));
  return { total, perSource };
}

/** Prompt + completion rows, right padded, as typed arrays (collate-style: no tensors until the forward). */
export interface PackedRollout {
  rows: number;
  seqLen: number;
  inputIds: Int32Array;
  attentionMask: Float32Array;
  /** 1 on completion tokens. */
  completionMask: Float32Array;
  /** completionMask, with truncated rows zeroed when mask_truncated_completions is on: the loss mask. */
  lossMask: Float32Array;
  completionLengths: number[];
  /** Per row: ended without a stop token (max_new_tokens or max_length). */
  truncated: boolean[];
}

/** Packs the rollout's rows. Example: prompt [1, 5] + completion [7, 2] -> ids [1, 5, 7, 2], completion mask [0, 0, 1, 1]. */
export function packRollout(rollout: Rollout, prompts: PromptExample[], padId: number, maskTruncated: boolean): PackedRollout {
  const R = rollout.rows.length;
  const L = Math.max(2, ...rollout.rows.map((r) => prompts[r.prompt].ids.length + r.tokens.length));
  const inputIds = new Int32Array(R * L).fill(padId);
  const attentionMask = new Float32Array(R * L);
  const completionMask = new Float32Array(R * L);
  const lossMask = new Float32Array(R * L);
  const truncated = rollout.rows.map((r) => r.finishReason !== 'stop');
  rollout.rows.forEach((r, b) => {
    const p = prompts[r.prompt].ids;
    const seq = [...p, ...r.tokens];
    seq.forEach((id, t) => {
      inputIds[b * L + t] = id;
      attentionMask[b * L + t] = 1;
      if (t >= p.length) {
        completionMask[b * L + t] = 1;
        lossMask[b * L + t] = maskTruncated && truncated[b] ? 0 : 1;
      }
    });
  });
  return { rows: R, seqLen: L, inputIds, attentionMask, completionMask, lossMask, completionLengths: rollout.rows.map((r) => r.tokens.length), truncated };
}

/** The packed rows as tensors (the caller disposes them or runs inside a tidy). */
export function packedTensors(p: PackedRollout): { ids: tf.Tensor2D; attentionMask: tf.Tensor2D; completionMask: tf.Tensor2D; lossMask: tf.Tensor2D } {
  const shape: [number, number] = [p.rows, p.seqLen];
  return {
    ids: tf.tensor2d(p.inputIds, shape, 'int32'),
    attentionMask: tf.tensor2d(p.attentionMask, shape),
    completionMask: tf.tensor2d(p.completionMask, shape),
    lossMask: tf.tensor2d(p.lossMask, shape),
  };
}

/**
 * Per-token log-probs [R, L] of the packed rows under log softmax(logits / temperature), TRL's per_token_logps
 * (GRPOTrainer divides the logits by the sampling temperature); position t holds the log-prob of token t.
 */
export function scaledTokenLogps(logits: tf.Tensor3D, ids: tf.Tensor2D, temperature: number): tf.Tensor2D {
  return tf.tidy(() => tokenLogProbs(temperature === 1 ? logits : (logits.div(temperature) as tf.Tensor3D), ids));
}

/**
 * Entropy of the next-token distribution softmax(logits / temperature), aligned like tokenLogProbs: position t
 * holds the entropy of the distribution that token t was drawn from. H = logsumexp(z) − Σ softmax(z)·z.
 */
export function tokenEntropies(logits: tf.Tensor3D, temperature: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T] = logits.shape;
    const z = temperature === 1 ? logits : logits.div(temperature);
    const h = tf.logSumExp(z, 2).sub(tf.softmax(z).mul(z).sum(2)); // [B, T]: entropy at position t predicts t + 1
    return tf.concat([tf.zeros([B, 1]), h.slice([0, 0], [B, T - 1])], 1) as tf.Tensor2D;
  });
}

/** Host copy [R·L] of a model's per-token log-probs on the packed rows (no gradient; old or reference log-probs). */
export async function hostTokenLogps(model: LanguageModel, p: PackedRollout, temperature: number): Promise<Float32Array> {
  const out = tf.tidy(() => {
    const t = packedTensors(p);
    return scaledTokenLogps(model.logits(t.ids, t.attentionMask), t.ids, temperature);
  });
  try {
    return (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
}

/**
 * TRL's rollout metrics: reward, reward_std, rewards/<name>/mean|std, completions/mean_length|min_length|max_length,
 * completions/clipped_ratio (share that ended without a stop token) and the same lengths over terminated rows
 * (completions/mean_terminated_length ...; 0 when none terminated, as TRL).
 */
export function rolloutMetrics(scores: Scores, packed: PackedRollout): Record<string, number> {
  const out: Record<string, number> = {};
  const total = meanStd(scores.total);
  out.reward = total.mean;
  out.reward_std = total.std;
  for (const [name, v] of Object.entries(scores.perSource)) {
    const s = meanStd(v);
    out[`rewards/${name}/mean`] = s.mean;
    out[`rewards/${name}/std`] = s.std;
  }
  const lens = packed.completionLengths;
  out['completions/mean_length'] = lens.reduce((a, b) => a + b, 0) / lens.length;
  out['completions/min_length'] = Math.min(...lens);
  out['completions/max_length'] = Math.max(...lens);
  out['completions/clipped_ratio'] = packed.truncated.filter(Boolean).length / lens.length;
  const term = lens.filter((_, i) => !packed.truncated[i]);
  out['completions/mean_terminated_length'] = term.length ? term.reduce((a, b) => a + b, 0) / term.length : 0;
  out['completions/min_terminated_length'] = term.length ? Math.min(...term) : 0;
  out['completions/max_terminated_length'] = term.length ? Math.max(...term) : 0;
  return out;
}

/** Σ over rows of mask-weighted (a − b) per row: the k1 sequence KL estimate Σ_t log π − log πref, [R]. */
export function sequenceSums(a: Float32Array, b: Float32Array, mask: Float32Array, rows: number, seqLen: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let s = 0;
    for (let t = 0; t < seqLen; t++) s += (a[r * seqLen + t] - b[r * seqLen + t]) * mask[r * seqLen + t];
    return s;
  });
}

export interface PromptBatchesState {
  epoch: EpochState;
  /** Rollouts started so far. */
  rollouts: number;
  /** Under num_iterations > 1: the batch still being reused and how many steps have used it. */
  current: { batch: OnlineBatch; uses: number } | null;
}

/**
 * The online trainers' BatchSource: `promptsPerStep` prompts per rollout in a seeded order (or file order) that wraps around
 * epochs (EpochIterator), each rollout handed out `numIterations` times in a row (GRPO's μ: later steps reuse
 * its samples). The prepared samples of a batch still in use go into the state, so a resume between its uses
 * continues with the very same samples.
 */
export class PromptBatches<P> implements BatchSource<OnlineBatch<P>> {
  private it: EpochIterator;
  private rollouts = 0;
  private current: { batch: OnlineBatch<P>; uses: number } | null = null;

  constructor(
    private readonly prompts: PromptExample[],
    private readonly promptsPerStep: number,
    /** Seed of the prompt order; shuffle false = file order (the recipe's `shuffle`). */
    private readonly order: { seed: number; shuffle: boolean },
    private readonly numIterations: number,
    private readonly serialise: (p: P) => unknown,
    private readonly deserialise: (v: unknown) => P,
  ) {
    this.it = new EpochIterator(prompts.length, { batchSize: promptsPerStep, ...order });
  }

  get batchesPerEpoch(): number {
    return this.it.batchesPerEpoch * this.numIterations;
  }

  next(): OnlineBatch<P> {
    if (this.current && this.current.uses < this.numIterations) {
      this.current.uses += 1;
      return this.current.batch;
    }
    const batch: OnlineBatch<P> = { index: this.rollouts, prompts: this.it.next().indices.map((i) => this.prompts[i]) };
    this.rollouts += 1;
    this.current = { batch, uses: 1 };
    return batch;
  }

  getState(): PromptBatchesState {
    const c = this.current;
    const reusable = c && c.uses < this.numIterations && c.batch.prepared !== undefined;
    return {
      epoch: this.it.state,
      rollouts: this.rollouts,
      current: reusable ? { batch: { index: c.batch.index, prompts: c.batch.prompts, prepared: this.serialise(c.batch.prepared!) as P }, uses: c.uses } : null,
    };
  }

  setState(s: unknown): void {
    const st = s as PromptBatchesState;
    if (!st || typeof st !== 'object' || !Number.isSafeInteger(st.rollouts) || typeof st.epoch !== 'object') {
      throw new Error('expected {epoch, rollouts, current} (an online trainer\'s prompt position)');
    }
    this.it = new EpochIterator(this.prompts.length, { batchSize: this.promptsPerStep, ...this.order }, st.epoch);
    this.rollouts = st.rollouts;
    this.current = st.current ? { batch: { ...st.current.batch, prepared: this.deserialise(st.current.batch.prepared) }, uses: st.current.uses } : null;
  }
}

/** Held-out rollouts: the eval prompts in order, `promptsPerBatch` at a time, seeded independently of the step. */
export function evalRollouts<P>(prompts: PromptExample[], promptsPerBatch: number): (() => Iterable<OnlineBatch<P>>) | null {
  if (prompts.length === 0) return null;
  return function* () {
    for (let i = 0, k = 0; i < prompts.length; i += promptsPerBatch, k++) yield { index: EVAL_ROLLOUT + k, prompts: prompts.slice(i, i + promptsPerBatch) };
  };
}

/** Typed array <-> JSON array for checkpointed batches (float32 values survive JSON exactly). */
export const f32 = {
  toJson: (a: Float32Array | undefined) => (a ? Array.from(a) : undefined),
  fromJson: (a: unknown) => (Array.isArray(a) ? Float32Array.from(a as number[]) : undefined),
};
