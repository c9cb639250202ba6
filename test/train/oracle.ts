/**
 * Independent reference numbers for the option and scoring tests: pairs tokenised by hand for the byte
 * tokenizer (config:tiny's), sequence log-probs from model.logits through tf.logSoftmax and a plain JS sum,
 * reward scores from RewardModel.scores on single unpadded rows. None of it goes through data/collate,
 * model/logprobs or the losses, which are what the tests check.
 */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from '../../src/model/language-model';
import type { RewardModel } from '../../src/model/reward';

/** One row as the byte tokenizer lays it out: <bos>=1, byte b -> b + 3, completion then <eos>=2. */
export interface HandRow {
  ids: number[];
  /** First completion position: log-probs of ids[start..] are the completion's. */
  start: number;
}

const bytes = (s: string) => Array.from(Buffer.from(s, 'utf8'), (b) => b + 3);

/** Example: handRow("ab", "c") -> ids [1, 100, 101, 102, 2], start 3. */
export function handRow(prompt: string, completion: string): HandRow {
  const p = bytes(prompt);
  return { ids: [1, ...p, ...bytes(completion), 2], start: 1 + p.length };
}

/** Σ_{t >= start} log softmax(logits[t-1])[ids[t]] for one unpadded row, summed in float64. */
export function logpSum(model: LanguageModel, row: HandRow): number {
  const T = row.ids.length;
  const lp = tf.tidy(() => tf.logSoftmax(model.logits(tf.tensor2d([row.ids], [1, T], 'int32'), tf.ones([1, T]) as tf.Tensor2D).reshape([T, -1])));
  const a = lp.arraySync() as number[][];
  lp.dispose();
  let s = 0;
  for (let t = row.start; t < T; t++) s += a[t - 1][row.ids[t]];
  return s;
}

/** Completion tokens of a row (what the "mean" reference-free variant divides by). */
export const completionTokens = (row: HandRow) => row.ids.length - row.start;

/** r(x, y) of one unpadded row: the score at its last token. */
export function rewardScore(model: RewardModel, row: HandRow): number {
  const T = row.ids.length;
  const s = tf.tidy(() => model.scores(tf.tensor2d([row.ids], [1, T], 'int32'), tf.ones([1, T]) as tf.Tensor2D));
  const v = s.dataSync()[0];
  s.dispose();
  return v;
}

/** −log σ(z), computed stably in float64. */
export const negLogSigmoid = (z: number) => (z >= 0 ? Math.log1p(Math.exp(-z)) : -z + Math.log1p(Math.exp(z)));

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
