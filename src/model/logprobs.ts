/**
 * Per-token log-probabilities of the tokens a sequence actually contains, and their sums over a
 * completion mask: what SFT, DPO and the explicit/implicit comparison consume.
 *
 *   out[b, t] = log p(ids[b, t] | ids[b, <t]) = logits[b, t-1, ids[b, t]] − logsumexp(logits[b, t-1, :]),
 *   out[b, 0] = 0 (the first token has no context).
 *
 * The target logit is read with a 1-D gather on the flattened logits (index (b·T + t)·V + id; no
 * batchDims gather, which crashes wasm), and the gradient is written out (softmax − one-hot), so no
 * scatter kernel is needed in the backward pass.
 *
 * Sequence log-probs never hold the [B, T, V] logits: the positions that predict a scored (completion) token are
 * gathered from the hidden states, and the LM head, log-softmax and target pick run on them in chunks of rows
 * (headLogProbs, as Liger's fused linear cross-entropy does), with a written-out gradient. A recorded forward keeps
 * its chunks' logits for the backward up to a fixed budget (HEAD_KEEP_LOGITS) and the backward recomputes the rest;
 * an unrecorded one (reference, eval) holds one chunk at a time. Prompt and padding positions never reach the head.
 * With a 49k vocabulary the full logits of 16 rows × 512 tokens are 1.6 GB; a chunk is 64 MB. Nor do they reach the
 * last block's MLP: a forward asked for the scored positions only (scoredLogProbsAt, HiddenOptions.rows) computes the
 * last block's post-attention half on them.
 *
 * Does: log-prob arithmetic on logits and a model forward, on padded or packed rows (packed.ts). Does NOT: collate
 * or pad batches (data/).
 */
import * as tf from '@tensorflow/tfjs';
import { logSoftmaxPick, logSoftmaxPickGrad } from '../backend/ops';
import type { CausalLM } from './types';

/**
 * logits [B, T, V], ids [B, T] -> [B, T] with out[:, 0] = 0.
 * e.g. V 2, logits[0,0] = [0, 0], ids[0] = [x, 1] -> out[0] = [0, log 0.5].
 */
export function tokenLogProbs(logits: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T, V] = logits.shape;
    if (T < 2) return tf.zeros([B, T]) as tf.Tensor2D;
    // Targets for positions 0..T-2 are ids[:, 1..T-1]; position T-1 predicts nothing (dummy id 0, sliced off).
    const targets = tf.concat([ids.slice([0, 1], [B, T - 1]).toInt(), tf.zeros([B, 1], 'int32')], 1).reshape([B * T]);
    const lp = targetLogProbs(logits.reshape([B * T, V]) as tf.Tensor2D, targets as tf.Tensor1D).reshape([B, T]);
    return tf.concat([tf.zeros([B, 1]), lp.slice([0, 0], [B, T - 1])], 1) as tf.Tensor2D; // [B, T]
  });
}

/**
 * rows [N, V], targets [N] -> log softmax(rows)[n, targets[n]], [N], with a hand-written gradient
 * d/d rows = dy · (onehot(target) − softmax(rows)). Autodiff of gather − logsumexp would give the same
 * numbers through a scatter (UnsortedSegmentSum) over N·V slots and logsumexp's max-mask; this keeps the
 * backward to one softmax and one one-hot, on every backend.
 */
function targetLogProbs(rows: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const [N, V] = rows.shape;
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, targets]); // targets too: the caller's tidy frees them before backprop runs
    const flatIndex = tf.range(0, N * V, V, 'int32').add(targets); // n·V + target[n]
    const picked = tf.gather(x.reshape([N * V]), flatIndex); // [N]
    return {
      value: picked.sub(tf.logSumExp(x, 1)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.oneHot(saved[1] as tf.Tensor1D, V).toFloat().sub(tf.softmax(saved[0])).mul(dy.reshape([N, 1])),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(rows) as tf.Tensor1D;
}

/**
 * The tokens whose log-probs a batch sums, and where they are read: scored token n is target[n], predicted by
 * the hidden state at flat index source[n] (row·T + t) and counted in sequence sequence[n] (0..count-1). In a
 * padded row that is position t − 1 for token t; in a packed row (packed.ts) the position before it in its own
 * sequence, e.g. the shared prompt's last token for a rejected completion's first token.
 */
export interface ScoredTokens {
  source: Int32Array;
  target: Int32Array;
  sequence: Int32Array;
  /** Number of sequences (rows of a padded batch). */
  count: number;
}

/**
 * A padded batch's scored tokens: row b is sequence b; token t counts where completionMask[b, t] = 1 (t >= 1).
 * e.g. ids [[1, 5, 6]], mask [[0, 1, 1]] -> source [0, 1], target [5, 6], sequence [0, 0].
 */
export function paddedScoredTokens(ids: ArrayLike<number>, completionMask: ArrayLike<number>, rows: number, T: number): ScoredTokens {
  let n = 0;
  for (let i = 0; i < rows * T; i++) if (completionMask[i] > 0 && i % T >= 1) n++;
  const out: ScoredTokens = { source: new Int32Array(n), target: new Int32Array(n), sequence: new Int32Array(n), count: rows };
  let k = 0;
  for (let b = 0; b < rows; b++) {
    for (let t = 1; t < T; t++) {
      const i = b * T + t;
      if (!(completionMask[i] > 0)) continue;
      out.source[k] = i - 1;
      out.target[k] = ids[i];
      out.sequence[k++] = b;
    }
  }
  return out;
}

/**
 * Logits one head chunk may hold: 16M floats (64 MB), e.g. 341 rows of a 49,152-token vocabulary. Smaller chunks
 * starve the head's products: at 85 rows (4M floats) the three [rows, 49,152] products of a SmolLM2-135M DPO step
 * ran at ~70 GFLOP/s against ~200 for the model's own (23 of its 59 s of matmul time); `bench/head-chunk.ts` times
 * chunk sizes.
 */
export const HEAD_CHUNK_LOGITS = 1 << 24;

/**
 * Logits a recorded forward may keep for its backward: 512M floats (2 GiB). Kept, a chunk's backward is one pass
 * over its logits and two products; otherwise its logits are computed again first, a third product as large as
 * either (a quarter of the head's work in a training step). A SmolLM2-135M DPO batch of 6,144 scored tokens keeps
 * all of its 1.2 GB; a larger one keeps its first chunks whole and recomputes the rest, so memory stays bounded.
 */
export const HEAD_KEEP_LOGITS = 1 << 29;

/** Rows per head chunk for vocabulary V: HEAD_CHUNK_LOGITS / V, at least 1. */
export function headChunkRows(V: number): number {
  return Math.max(1, Math.floor(HEAD_CHUNK_LOGITS / V));
}

/** How to cut the head's work: rows per chunk, and how many logits a recorded forward may keep for its backward. */
export type HeadOptions = { chunkRows?: number; keepLogits?: number };

/**
 * log softmax(h · wᵀ)[n, targets[n]] -> [N], for h [N, D] and the head weight w [V, D], `chunkRows` rows at a time,
 * with a written-out gradient:  g = dy · (onehot(target) − softmax(h_c·wᵀ)),  dh_c = g·w,  dw = Σ_chunks gᵀ·h_c.
 * The log-softmax and pick, and g, are one fused pass each on the native backend (backend/ops.ts logSoftmaxPick).
 * When gradients are recorded, every chunk's log-sum-exp and the first chunks' logits (up to `keepLogits` floats in
 * all) stay from the forward to the backward, and later chunks' logits are recomputed there; without a tape no chunk
 * outlives its own step, so a reference or eval forward holds one chunk's logits at a time. The same values as
 * tokenLogProbs on full logits and the same gradients up to float rounding (sums in another order).
 */
export function headLogProbs(h: tf.Tensor2D, w: tf.Tensor2D, targets: Int32Array, opts: HeadOptions = {}): tf.Tensor1D {
  const [N] = h.shape;
  const V = w.shape[0];
  const chunk = opts.chunkRows ?? headChunkRows(V);
  if (targets.length !== N) throw new Error(`headLogProbs: ${N} rows but ${targets.length} targets`);
  const starts = Array.from({ length: Math.ceil(N / chunk) }, (_, i) => i * chunk);
  const rows = (s: number) => Math.min(chunk, N - s);
  const targetsOf = (s: number) => targets.subarray(s, s + rows(s));
  const logitsOf = (hs: tf.Tensor2D, ws: tf.Tensor2D, s: number) => tf.matMul(hs.slice([s, 0], [rows(s), -1]), ws, false, true) as tf.Tensor2D;
  // Chunks whose logits the backward gets from the forward (the leading ones: every chunk but the last is full-size).
  const kept = tf.engine().isTapeOn() ? Math.min(starts.length, Math.floor((opts.keepLogits ?? HEAD_KEEP_LOGITS) / (chunk * V))) : 0;
  const f = tf.customGrad(((hIn: tf.Tensor2D, wIn: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const parts: tf.Tensor[] = [];
    const lses: tf.Tensor[] = []; // every chunk's log-sum-exp ([rows] floats each): the backward never recomputes it
    const keptLogits: tf.Tensor[] = []; // the first `kept` chunks' logits
    starts.forEach((s, c) => {
      const logits = tf.tidy(() => logitsOf(hIn, wIn, s)); // the row slice goes with the step
      const { picked, lse } = logSoftmaxPick(logits, targetsOf(s));
      parts.push(picked);
      lses.push(lse);
      if (c < kept) keptLogits.push(logits);
      else logits.dispose();
    });
    save([hIn, wIn, ...lses, ...keptLogits]); // a no-op without a tape (kept is 0 then)
    tf.dispose([...lses, ...keptLogits]); // save holds its own references
    const value = parts.length === 1 ? parts[0] : tf.concat(parts);
    if (parts.length > 1) tf.dispose(parts);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, ws, ...held] = saved as tf.Tensor2D[];
        const lseOf = (c: number) => held[c] as unknown as tf.Tensor1D;
        const keptOf = (c: number) => held[starts.length + c];
        const dhs: tf.Tensor[] = [];
        let dw: tf.Tensor | null = null;
        starts.forEach((s, c) => {
          const [dh, dwNext] = tf.tidy(() => {
            const n = rows(s);
            const logits = c < kept ? keptOf(c) : logitsOf(hs, ws, s);
            const g = logSoftmaxPickGrad(logits, lseOf(c), targetsOf(s), dy.slice([s], [n]) as tf.Tensor1D); // [n, V]
            const part = tf.matMul(g, hs.slice([s, 0], [n, -1]), true, false); // [V, D]
            return [tf.matMul(g, ws), dw === null ? part : dw.add(part)];
          });
          // A kept chunk's logits are freed as soon as they are used, not at the end of the backward.
          if (c < kept) keptOf(c).dispose();
          dw?.dispose();
          dw = dwNext;
          dhs.push(dh);
        });
        const dh = dhs.length === 1 ? dhs[0] : tf.concat(dhs);
        if (dhs.length > 1) tf.dispose(dhs);
        return [dh, dw!];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(h, w) as tf.Tensor1D;
}

/** Per-sequence sums of scored tokens: log-probs, counts, and (when asked) the vocabulary-mean logits. */
export type ScoredSums = {
  /** Σ log p over each sequence's scored tokens, [S]. */
  sum: tf.Tensor1D;
  /** Scored tokens per sequence, [S]. */
  count: tf.Tensor1D;
  /** Σ over each sequence's predicting positions of mean_v logits[v] (TRL's logits/chosen|rejected), [S]. */
  meanLogitSum?: tf.Tensor1D;
};

/**
 * Sequence sums from hidden states [R, T, D] (padded or packed rows, every position) and the batch's scored tokens:
 * the predicting positions are gathered ([N, D]) and go through scoredSums. scoredLogProbsAt does less work.
 */
export function scoredLogProbs(model: CausalLM, hidden: tf.Tensor3D, scored: ScoredTokens, opts: ScoredOptions = {}): ScoredSums {
  return tf.tidy(() => {
    const [R, T, D] = hidden.shape;
    if (scored.source.length === 0) return nothingScored(hidden, scored, opts);
    return scoredSums(model, tf.gather(hidden.reshape([R * T, D]), tf.tensor1d(scored.source, 'int32')) as tf.Tensor2D, scored, opts); // [N, D]
  });
}

/**
 * scoredLogProbs from a forward asked for the scored positions only: forward(rows) is the model's hidden or
 * hiddenPacked with rows = scored.source -> [1, N, D], in scored order, so the last block's output projection, MLP
 * and final norm run on the N predicting positions, not on every prompt, padding and last token (the same values
 * and gradients, up to float rounding). With nothing scored, forward() over every position gives the zero sums.
 */
export function scoredLogProbsAt(model: CausalLM, forward: (rows?: Int32Array) => tf.Tensor3D, scored: ScoredTokens, opts: ScoredOptions = {}): ScoredSums {
  return tf.tidy(() => {
    if (scored.source.length === 0) return nothingScored(forward(), scored, opts);
    const h = forward(scored.source); // [1, N, D]
    return scoredSums(model, h.reshape(h.shape.slice(1)) as tf.Tensor2D, scored, opts);
  });
}

type ScoredOptions = { meanLogits?: boolean } & HeadOptions;

/**
 * The sums from the predicting positions' hidden states h [N, D] (scored token n's at row n): headLogProbs, and the
 * vocabulary-mean logit of a position as h·mean_v(w_v) (the head is linear), so it costs no logits either.
 */
function scoredSums(model: CausalLM, h: tf.Tensor2D, scored: ScoredTokens, opts: ScoredOptions): ScoredSums {
  return tf.tidy(() => {
    const D = h.shape[1];
    const S = scored.count;
    const w = model.headWeight();
    const seq = tf.tensor1d(scored.sequence, 'int32');
    const lp = headLogProbs(h, w as unknown as tf.Tensor2D, scored.target, { chunkRows: opts.chunkRows, keepLogits: opts.keepLogits });
    const out: ScoredSums = { sum: tf.unsortedSegmentSum(lp, seq, S) as tf.Tensor1D, count: scoredCounts(scored) };
    if (opts.meanLogits) {
      const vocabMean = tf.matMul(h, w.mean(0).reshape([D, 1])).reshape([-1]); // [N]
      out.meanLogitSum = tf.unsortedSegmentSum(vocabMean, seq, S) as tf.Tensor1D;
    }
    return out;
  });
}

/** Nothing to score: zeros that still depend on the model (a gradient of zeros, as a fully masked padded batch has). */
function nothingScored(hidden: tf.Tensor3D, scored: ScoredTokens, opts: ScoredOptions): ScoredSums {
  return tf.tidy(() => {
    const zero = tf.zeros([scored.count]).add(hidden.sum().mul(0)) as tf.Tensor1D;
    return { sum: zero, count: scoredCounts(scored), ...(opts.meanLogits ? { meanLogitSum: zero.clone() } : {}) };
  });
}

/** Scored tokens per sequence, [S]. */
function scoredCounts(scored: ScoredTokens): tf.Tensor1D {
  const counts = new Float32Array(scored.count);
  for (const s of scored.sequence) counts[s] += 1;
  return tf.tensor1d(counts);
}

export type SequenceLogProbs = {
  /** Σ_t completionMask[b, t] · log p(ids[b, t] | ids[b, <t]), [B]. */
  sum: tf.Tensor1D;
  /** Number of completion tokens per row, [B] (for length-normalised variants). */
  count: tf.Tensor1D;
};

/**
 * One forward pass: sums of token log-probs where completionMask is 1 (aligned with ids; prompt and
 * padding are 0), the head in chunks (scoredLogProbs). Stack chosen and rejected rows into one batch to score both
 * with one forward.
 */
export function sequenceLogProbs(
  model: CausalLM,
  ids: tf.Tensor2D,
  attentionMask: tf.Tensor2D,
  completionMask: tf.Tensor2D,
): SequenceLogProbs {
  return tf.tidy(() => {
    const [B, T] = ids.shape;
    const scored = paddedScoredTokens(ids.dataSync(), completionMask.dataSync(), B, T); // inputs: no wait on compute
    const { sum, count } = scoredLogProbsAt(model, (rows) => model.hidden(ids, attentionMask, { rows }), scored);
    return { sum, count };
  });
}

/** Row sums of tokenLogps [B, T] under mask [B, T] -> {sum [B], count [B]}. */
export function maskedSums(tokenLogps: tf.Tensor2D, mask: tf.Tensor2D): SequenceLogProbs {
  return tf.tidy(() => {
    const m = mask.toFloat();
    return { sum: tokenLogps.mul(m).sum(1) as tf.Tensor1D, count: m.sum(1) as tf.Tensor1D };
  });
}

export type PairLogProbs = {
  chosen: SequenceLogProbs;
  rejected: SequenceLogProbs;
};

/**
 * DPO's concatenated forward: chosen rows and rejected rows (each [B, T], same T, right padded) are
 * stacked into [2B, T], run through the model once, and split back.
 */
export function pairLogProbs(
  model: CausalLM,
  chosen: { ids: tf.Tensor2D; attentionMask: tf.Tensor2D; completionMask: tf.Tensor2D },
  rejected: { ids: tf.Tensor2D; attentionMask: tf.Tensor2D; completionMask: tf.Tensor2D },
): PairLogProbs {
  return tf.tidy(() => {
    const B = chosen.ids.shape[0];
    const cat = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.concat([a, b], 0) as tf.Tensor2D;
    const { sum, count } = sequenceLogProbs(
      model,
      cat(chosen.ids.toInt(), rejected.ids.toInt()),
      cat(chosen.attentionMask.toFloat(), rejected.attentionMask.toFloat()),
      cat(chosen.completionMask.toFloat(), rejected.completionMask.toFloat()),
    );
    const half = (t: tf.Tensor1D, start: number) => t.slice([start], [B]) as tf.Tensor1D;
    return {
      chosen: { sum: half(sum, 0), count: half(count, 0) },
      rejected: { sum: half(sum, B), count: half(count, B) },
    };
  });
}
