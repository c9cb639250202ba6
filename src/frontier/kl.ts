/**
 * Sampled KL of a policy from the start policy on prompts, the x-axis of the frontier's RL and policy points:
 *
 *   KL(π ‖ π_start) = E_x E_{y~π(·|x)} [ log π(y|x) − log π_start(y|x) ],
 *
 * estimated by the mean over samples drawn from π at temperature 1 (no top-k/top-p: the expectation is under
 * π itself), each log-prob a sum over the completion's tokens. A completion that ended by drawing a stop token
 * includes the stop in both sums: the event sampled was "these tokens, then stop", and leaving it out would
 * bias the estimate wherever the two policies stop at different rates. With several stop tokens (EOS and BOS
 * for llama2.c) the event is "stopped", of probability Σ_s p(s | context): the text is the same whichever
 * one was drawn, and samplers report only that the row stopped.
 *
 * Both log-probs come from one teacher-forced forward per model (model/logprobs.ts), so π's and π_start's
 * numbers are computed the same way. The estimate is unbiased but can be negative on a few samples; its
 * standard error is returned beside it.
 *
 * Does NOT: sample (the caller passes what it sampled), or decide which policy is "start".
 */
import * as tf from '@tensorflow/tfjs';
import { maskedSums, tokenLogProbs } from '../model/logprobs';
import type { CausalLM } from '../model/types';

/** One sampled completion: prompt ids, new tokens, and the stop tokens that ended it (null when it ran out of length). */
export interface SampledSequence {
  prompt: readonly number[];
  tokens: readonly number[];
  stops: readonly number[] | null;
}

/**
 * log p(tokens [, stopped] | prompt) per sequence under `model`, `batchSize` sequences per forward (right
 * padded). An empty completion that did not stop scores 0 (nothing was drawn).
 */
export async function completionLogProbs(model: CausalLM, seqs: readonly SampledSequence[], batchSize = 16): Promise<Float64Array> {
  const out = new Float64Array(seqs.length);
  const len = (s: SampledSequence) => s.prompt.length + s.tokens.length;
  // Sort by length so each forward pads little; results go back to their own index.
  const order = seqs.map((_, i) => i).sort((a, b) => len(seqs[a]) - len(seqs[b]));
  for (let start = 0; start < order.length; start += batchSize) {
    const batch = order.slice(start, start + batchSize).map((i) => seqs[i]);
    const { tokens, last } = await batchLogProbs(model, batch);
    const V = model.config.vocab_size;
    batch.forEach((s, k) => {
      let lp = tokens[k];
      if (s.stops !== null) lp += logSumExpAt(last.subarray(k * V, (k + 1) * V), s.stops);
      out[order[start + k]] = lp;
    });
  }
  return out;
}

/** One forward: Σ log p of each row's new tokens, and the log-softmax [B·V] after its last token (for the stop). */
async function batchLogProbs(model: CausalLM, batch: readonly SampledSequence[]): Promise<{ tokens: Float32Array; last: Float32Array }> {
  const B = batch.length;
  const T = Math.max(...batch.map((s) => s.prompt.length + s.tokens.length));
  const ids: number[] = [];
  const attention: number[] = [];
  const scored: number[] = [];
  for (const s of batch) {
    const row = [...s.prompt, ...s.tokens];
    for (let t = 0; t < T; t++) {
      ids.push(t < row.length ? row[t] : 0);
      attention.push(t < row.length ? 1 : 0);
      scored.push(t >= s.prompt.length && t < row.length ? 1 : 0);
    }
  }
  const lastPos = batch.map((s, b) => b * T + s.prompt.length + s.tokens.length - 1);
  const [sums, last] = tf.tidy(() => {
    const x = tf.tensor2d(ids, [B, T], 'int32');
    const logits = model.logits(x, tf.tensor2d(attention, [B, T])); // [B, T, V]
    const V = logits.shape[2];
    const lastLogits = tf.gather(logits.reshape([B * T, V]), tf.tensor1d(lastPos, 'int32')); // [B, V]
    return [maskedSums(tokenLogProbs(logits, x), tf.tensor2d(scored, [B, T])).sum, tf.logSoftmax(lastLogits).reshape([-1])];
  });
  try {
    return { tokens: (await sums.data()) as Float32Array, last: (await last.data()) as Float32Array };
  } finally {
    sums.dispose();
    last.dispose();
  }
}

/** log Σ_{s in ids} exp(logp[s]). */
function logSumExpAt(logp: Float32Array, ids: readonly number[]): number {
  const xs = ids.map((i) => logp[i]);
  const m = Math.max(...xs);
  return m === -Infinity ? m : m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
}

export interface KlEstimate {
  /** Mean of log π − log π_start over samples, nats per completion. */
  kl: number;
  /** Standard error of that mean (NaN with fewer than two samples). */
  se: number;
  samples: number;
}

/** Mean and standard error of the per-sample log-ratios. sampledKl([-1, -2], [-2, -2]) -> {kl: 0.5, se: 0.5, samples: 2}. */
export function sampledKl(policyLogps: ArrayLike<number>, startLogps: ArrayLike<number>): KlEstimate {
  const n = policyLogps.length;
  if (startLogps.length !== n) throw new RangeError(`sampled KL: ${n} policy log-probs but ${startLogps.length} start log-probs; expected one of each per sample`);
  if (n === 0) throw new RangeError('sampled KL: no samples; sample at least one completion per prompt');
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const d = policyLogps[i] - startLogps[i];
    s += d;
    s2 += d * d;
  }
  const kl = s / n;
  const se = n < 2 ? NaN : Math.sqrt(Math.max(0, s2 / n - kl * kl) / (n - 1));
  return { kl, se, samples: n };
}
