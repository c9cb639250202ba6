/**
 * A reward model in Hugging Face's …ForSequenceClassification layout (num_labels = 1), for any family
 * (LlamaForSequenceClassification, GPT2ForSequenceClassification, ...: the head is the same in all of them):
 * the family's backbone (no LM head) plus `score.weight` [1, H] without bias, read at the last real token of
 * each row (right padding), as HF's sequence classifiers and TRL's reward trainer do.
 *
 * Does: scores, init (random or from a policy's backbone), loading a bundle that includes score.weight.
 * Does NOT: the Bradley-Terry loss (losses/) or training (train/).
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../backend/ops';
import type { ModelConfig } from './config';
import type { WeightBundle } from './types';
import { ModelError } from './errors';
import { LanguageModel, ModelOptions, ownAsVariable } from './language-model';
import type { PackedLayout } from './packed';
import { Rng } from './rng';
import { withPadToken } from './vocab';
import { LM_HEAD_WEIGHT, SCORE_WEIGHT } from './weights';

export { SCORE_WEIGHT } from './weights';

export interface RewardInitOptions extends ModelOptions {
  /** Std of the score head's normal init. @default 1 / (hidden_size + 1), as the reward-model spec asks */
  scoreStd?: number;
  /**
   * fromPolicy: the pad token id the reward model's config.json will name (the tokenizer's own pad, see
   * tokenizer/pad.ts); the embedding grows with zero rows when it lies past vocab_size (model/vocab.ts).
   * @default the policy's config as it is
   */
  padTokenId?: number;
}

export class RewardModel {
  /** Backbone weights (HF names) plus `score.weight`. */
  readonly weights: Map<string, tf.Variable>;
  readonly score: tf.Variable; // [1, H]

  private constructor(readonly backbone: LanguageModel, score: tf.Tensor, trainable: boolean) {
    this.score = ownAsVariable(score, trainable);
    this.weights = new Map(backbone.weights);
    this.weights.set(SCORE_WEIGHT, this.score);
  }

  get config(): ModelConfig {
    return this.backbone.config;
  }

  /**
   * Random backbone (HF-like init, seed) and a score head drawn from normal(0, 1/(H+1)), so initial
   * rewards start near 0 (Ziegler et al. 2019 use 1/sqrt(H+1), which starts them at std ~1; pass
   * scoreStd for that). The head uses its own stream (seed + 1) so the backbone equals
   * LanguageModel.random(config, seed) minus lm_head (the backbone is headless, as in HF's layout).
   */
  static random(config: ModelConfig, seed: number, opts: RewardInitOptions = {}): RewardModel {
    const backbone = LanguageModel.random(config, seed, { ...opts, headless: true });
    return new RewardModel(backbone, randomScore(config, seed + 1, opts.scoreStd), opts.trainable ?? true);
  }

  /**
   * A reward model whose backbone is a copy of the policy's weights (the policy keeps its own), with
   * config.pad_token_id = opts.padTokenId when given (embedding grown by zero rows if needed).
   */
  static fromPolicy(policy: LanguageModel, seed = 0, opts: RewardInitOptions = {}): RewardModel {
    const score = randomScore(policy.config, seed, opts.scoreStd);
    if (opts.padTokenId === undefined) return new RewardModel(policy.clone({ ...opts, headless: true }), score, opts.trainable ?? true);
    const tensors = new Map<string, tf.Tensor>();
    for (const [name, v] of policy.weights) if (name !== LM_HEAD_WEIGHT) tensors.set(name, v.clone());
    const backbone = LanguageModel.fromWeights(withPadToken({ config: policy.config, tensors }, opts.padTokenId), { ...opts, headless: true });
    return new RewardModel(backbone, score, opts.trainable ?? true);
  }

  /** Takes ownership of the bundle: the backbone's tensors plus `score.weight` [1, H]. */
  static fromWeights(bundle: WeightBundle, opts: ModelOptions & { source?: string } = {}): RewardModel {
    const source = opts.source ?? 'weights';
    const score = bundle.tensors.get(SCORE_WEIGHT);
    const H = bundle.config.hidden_size;
    if (!score || score.shape.length !== 2 || score.shape[0] !== 1 || score.shape[1] !== H) {
      for (const t of bundle.tensors.values()) t.dispose();
      const found = score ? `shape [${score.shape}]` : 'no such tensor';
      throw new ModelError(`${source}: a reward model needs "${SCORE_WEIGHT}" of shape [1, ${H}]; found ${found}. ` +
        'Is this a policy checkpoint? Start a reward model from it with RewardModel.fromPolicy.');
    }
    const rest = new Map(bundle.tensors);
    rest.delete(SCORE_WEIGHT);
    let backbone: LanguageModel;
    try {
      backbone = LanguageModel.fromWeights({ config: bundle.config, tensors: rest }, { ...opts, headless: true });
    } catch (e) {
      score.dispose();
      throw e;
    }
    return new RewardModel(backbone, score, opts.trainable ?? true);
  }

  /**
   * ids [B, T], attentionMask [B, T] (1 real, 0 right padding) -> rewards [B], read at each row's last
   * real token (index Σmask − 1; T − 1 without a mask). The backbone is asked for those B cells only, so its last
   * block past the attention, its final norm and the head run on B rows, not B·T.
   */
  scores(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      const [B, T] = ids.shape;
      const h = this.backbone.hidden(ids, attentionMask, { rows: lastTokens(B, T, attentionMask?.dataSync()) }); // [1, B, H]
      return linear(h, this.score).reshape([B]) as tf.Tensor1D; // [B]
    });
  }

  /**
   * Packed rows (packed.ts): ids [R, T] laid out by `layout`, and the cell (row·T + t) of each sequence's last
   * token -> rewards [S], one per sequence (e.g. chosen ends, then rejected ends), each equal up to float rounding
   * to the score of that sequence in a padded row of its own. The backbone computes past the last attention only
   * at those cells.
   */
  scoresPacked(ids: tf.Tensor2D, layout: PackedLayout, last: Int32Array): tf.Tensor1D {
    return tf.tidy(() => {
      const h = this.backbone.hiddenPacked(ids, layout, { rows: last }); // [1, S, H]
      return linear(h, this.score).reshape([last.length]) as tf.Tensor1D; // [S]
    });
  }

  variables(): tf.Variable[] {
    return [...this.weights.values()];
  }

  setTrainable(trainable: boolean): void {
    this.backbone.setTrainable(trainable);
    this.score.trainable = trainable;
  }

  dispose(): void {
    this.backbone.dispose();
    this.score.dispose();
  }
}

/**
 * The cell (b·T + t) of each row's last real token: t = Σmask − 1 (0 for a row with no real token), T − 1 without
 * a mask. Reads the mask on the host (an input: nothing waits on computation). e.g. B 2, T 3, mask [[1,1,0],[1,1,1]] -> [1, 5].
 */
export function lastTokens(B: number, T: number, mask?: ArrayLike<number>): Int32Array {
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let real = T;
    if (mask) {
      real = 0;
      for (let t = 0; t < T; t++) real += mask[b * T + t];
    }
    out[b] = b * T + Math.max(real - 1, 0);
  }
  return out;
}

function randomScore(config: ModelConfig, seed: number, std?: number): tf.Tensor {
  const H = config.hidden_size;
  const s = std ?? 1 / (H + 1);
  if (!(s > 0)) throw new ModelError(`scoreStd must be > 0; got ${std}`);
  return tf.tensor2d(new Rng(seed).normals(H, s), [1, H]);
}
