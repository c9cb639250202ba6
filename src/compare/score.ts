/**
 * scoreResponses: `rlhf score` as a library call. One row per response of each pair: the reward model's score
 * r(x, y), or, given a reference, the policy's implicit reward β·(log πθ(y|x) − log πref(y|x)) with its parts,
 * or (`reward`) any reward spec's score through rewards/ (fn:, oracle, implicit-mean: ...).
 * The model is scored with the settings it was trained with (β, lengths, truncation, read from its rlhf.json by
 * io/scoring-settings.ts; overrides win), and the result says which values were used and where they came from.
 *
 * Does NOT: compare two rewards (pipeline.ts) or write files (the CLI writes the rows).
 */
import { loadPreferences } from '../data';
import { byteProgress } from '../util/progress';
import type { FormatChoice } from '../data/formats';
import type { PreferenceRecord } from '../data/types';
import { readCheckpointMeta, scoringSettings, type ResolvedScoring, type ScoringOverrides } from '../io/scoring-settings';
import { loadPolicy, loadRewardModel, resolveModelPath } from '../io/load-model';
import { renderPair } from '../data/render';
import { parseRewardSpec } from '../rewards/spec';
import { lengthsOf, withProgress } from './pipeline';
import { scorePairs, type Scorers } from './scoring';
import { ComparisonInputError, SCORING_BATCH_SIZE } from './types';

export interface ScoreOptions {
  /** A reward checkpoint, or (with `reference`) a policy. Exactly one of model and reward. */
  model?: string;
  /**
   * A reward spec (rewards/spec.ts): each side scored as (rendered prompt, rendered completion) by that source.
   * Conversations are rendered with the default chat layout (data/render.ts), not a model's template.
   */
  reward?: string;
  /** The reference of the implicit reward; without it `model` must be a reward model. */
  reference?: string;
  /** Preference pairs: a file spec, or records already loaded. */
  data: string | PreferenceRecord[];
  format?: FormatChoice;
  tokenizer?: string;
  /** Pairs per forward pass. @default SCORING_BATCH_SIZE */
  batchSize?: number;
  /**
   * Score a pair's two sides in one row with their prompt computed once (data/packing.ts); false: one padded row
   * per side. The same numbers up to float rounding. @default true
   */
  sharePrompt?: boolean;
  /** Settings that win over what the model's rlhf.json recorded, each with its source. @default none */
  overrides?: ScoringOverrides;
  /** No live progress lines (reading a big file, pairs scored). @default false */
  quiet?: boolean;
}

export interface ExplicitRow {
  id: string;
  source: string;
  side: 'chosen' | 'rejected';
  reward: number;
}

export interface ImplicitRow {
  id: string;
  source: string;
  side: 'chosen' | 'rejected';
  implicit_reward: number;
  policy_logp: number;
  reference_logp: number;
  /** Completion tokens scored. */
  tokens: number;
}

export interface ScoreResult {
  kind: 'explicit' | 'implicit' | 'reward';
  rows: ExplicitRow[] | ImplicitRow[];
  /** The values the model was scored with and where each came from (null for a spec without a model: fn:, oracle). */
  settings: ResolvedScoring | null;
  /** With `reward`: what the source is (its describe()). */
  source?: Record<string, unknown>;
}

const SIDES = ['chosen', 'rejected'] as const;

export async function scoreResponses(o: ScoreOptions): Promise<ScoreResult> {
  const reading = byteProgress('reading data', { enabled: !o.quiet });
  const records = typeof o.data === 'string' ? (await loadPreferences(o.data, { format: o.format, onProgress: reading.onProgress }).finally(reading.finish)).records : o.data;
  if ((o.model === undefined) === (o.reward === undefined)) throw new ComparisonInputError('score needs exactly one of --model (a reward checkpoint, or a policy with --reference) and --reward (a reward spec)');
  if (o.reward !== undefined && o.reference !== undefined) throw new ComparisonInputError(`--reference goes with --model; with --reward write it into the spec: --reward implicit:POLICY,${o.reference}`);
  if (o.reward !== undefined) return specRows(o, o.reward, records);
  const meta = readCheckpointMeta(resolveModelPath(o.model!));
  const batchSize = o.batchSize ?? SCORING_BATCH_SIZE;
  return o.reference === undefined
    ? explicitRows(o, records, scoringSettings(meta, o.overrides, 'reward model'), batchSize)
    : implicitRows(o, o.reference, records, scoringSettings(meta, o.overrides, 'policy'), batchSize);
}

/** Every side of every pair through a reward spec's source, in the row order of the other kinds. */
async function specRows(o: ScoreOptions, spec: string, records: PreferenceRecord[]): Promise<ScoreResult> {
  const source = parseRewardSpec(spec, { tokenizer: o.tokenizer, overrides: o.overrides, batchSize: o.batchSize });
  try {
    const texts = records.map((r) => renderPair(r));
    const prompts = texts.flatMap((t) => [t.prompt, t.prompt]);
    const completions = texts.flatMap((t) => [t.chosen, t.rejected]);
    const scores = await source.score(prompts, completions);
    const rows = records.flatMap((p, i) => SIDES.map((side, k) => ({ id: p.id, source: p.source, side, reward: scores[2 * i + k] })));
    const info = source.describe?.() ?? { kind: source.name };
    const settings = (info.settings as ResolvedScoring | undefined) ?? null;
    return { kind: 'reward', rows, settings, source: info };
  } finally {
    source.dispose?.();
  }
}

async function implicitRows(o: ScoreOptions, reference: string, records: PreferenceRecord[], settings: ResolvedScoring, batchSize: number): Promise<ScoreResult> {
  const pol = loadPolicy(o.model!, { tokenizer: o.tokenizer, trainable: false });
  let ref: ReturnType<typeof loadPolicy> | null = null;
  try {
    ref = loadPolicy(reference, { tokenizer: o.tokenizer, trainable: false });
    const policy = { model: pol.model, tokenizer: pol.tokenizer, reference: ref.model, beta: settings.values.beta, lengths: lengthsOf(settings) };
    const scorers: Scorers = { reward: null, policy, batchSize, sharePrompt: o.sharePrompt };
    const scored = await withProgress(records.length, 'scoring', o.quiet, scorers, () => scorePairs(records, scorers));
    const rows = scored.flatMap((p) => SIDES.map((side) => ({
      id: p.id, source: p.source, side, implicit_reward: p.implicit[side], policy_logp: p.policyLogps[side], reference_logp: p.referenceLogps[side], tokens: p.tokenCounts[side],
    })));
    return { kind: 'implicit', rows, settings };
  } finally {
    pol.model.dispose();
    ref?.model.dispose();
  }
}

async function explicitRows(o: ScoreOptions, records: PreferenceRecord[], settings: ResolvedScoring, batchSize: number): Promise<ScoreResult> {
  const rm = loadRewardModel(o.model!, { tokenizer: o.tokenizer, trainable: false });
  try {
    if (rm.fresh) throw new ComparisonInputError(`--model ${o.model} has no score head; pass a reward checkpoint, or a policy with --reference for implicit rewards`);
    const scorers: Scorers = { reward: { model: rm.model, tokenizer: rm.tokenizer, lengths: lengthsOf(settings) }, policy: null, batchSize, sharePrompt: o.sharePrompt };
    const scored = await withProgress(records.length, 'scoring', o.quiet, scorers, () => scorePairs(records, scorers));
    const rows = scored.flatMap((p) => SIDES.map((side) => ({ id: p.id, source: p.source, side, reward: p.explicit[side] })));
    return { kind: 'explicit', rows, settings };
  } finally {
    rm.model.dispose();
  }
}
