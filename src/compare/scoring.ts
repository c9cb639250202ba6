/**
 * Scoring: runs the reward model and the policy/reference over pairs and probes and produces the
 * plain numbers the statistics work from (ScoredPair, ScoredProbe).
 *   explicit  r(x, y)                       the reward model's score at the last real token
 *   implicit  β·(log πθ(y|x) − log πref(y|x)) log-probs summed over completion tokens
 *   judge     a generative judge's log-odds for each pair in both orders (rewards/judge.ts), when one is given
 * Each model tokenises with its own tokenizer, so a reward model and a policy need not share one.
 *
 * Does NOT: compute statistics or write reports (summary.ts, report/).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { collatePairs, packPairs, PairExample, preparePair, newCollateStats, type AnyPairBatch, type TruncationMode } from '../data';
import { renderPair } from '../data/render';
import type { PreferenceRecord } from '../data/types';
import { packInOneRow, type LanguageModel } from '../model/language-model';
import { batchLogProbs, batchRewards } from '../model/batch';
import type { RewardModel } from '../model/reward';
import type { Tokenizer } from '../tokenizer/types';
import { plainText, type JudgeReward } from '../rewards/judge';
import { ComparisonInputError, ProbeAttribute, ScoredPair, ScoredProbe, type JudgeValues } from './types';

/**
 * How a model's pairs are cut before scoring: the limits and truncation mode it was trained with
 * (io/scoring-settings.ts resolves them from its rlhf.json), so it scores the tokens it was trained on.
 */
export interface ScoringLengths {
  maxLength: number;
  /** Prompt tokens kept before the response; null = only maxLength applies. */
  maxPromptLength: number | null;
  truncation: TruncationMode;
}

export interface Scorers {
  reward: { model: RewardModel; tokenizer: Tokenizer; lengths: ScoringLengths } | null;
  /** The policy, its reference (null: reference-free sums) and the β of the implicit reward. */
  policy: { model: LanguageModel; tokenizer: Tokenizer; reference: LanguageModel | null; beta: number; lengths: ScoringLengths } | null;
  /** A generative judge (rewards/judge.ts), asked about every pair in both orders; absent: no judge scores. */
  judge?: PairJudge | null;
  batchSize: number;
  /**
   * Score a pair's chosen and rejected in one row with their common prefix (the prompt) computed once
   * (data/packing.ts); the same numbers up to float rounding. @default true
   */
  sharePrompt?: boolean;
  /** Hears each scored batch's pair count (once per model pass: the reward model, then policy + reference, then the judge). */
  onBatch?: (pairs: number) => void;
}

/** What scoring needs of a judge: pairs in, both orders' verdicts out. */
export type PairJudge = Pick<JudgeReward, 'scorePairs'>;

/** The judge's verdicts on (prompt, chosen, rejected), chosen shown first in `ab`, in batches of pairs. */
async function judgeScores(j: PairJudge, records: PreferenceRecord[], s: Scorers): Promise<JudgeValues[]> {
  const out: JudgeValues[] = [];
  for (let i = 0; i < records.length; i += s.batchSize) {
    const batch = records.slice(i, i + s.batchSize);
    const v = await j.scorePairs(batch.map((r) => plainText(r.prompt)), batch.map((r) => plainText(r.chosen)), batch.map((r) => plainText(r.rejected)));
    batch.forEach((_, k) => out.push({ ab: v.ab[k], ba: v.ba[k] }));
    s.onBatch?.(batch.length);
  }
  return out;
}

/** Reward scores for pairs: [n] chosen, [n] rejected. */
async function explicitScores(r: NonNullable<Scorers['reward']>, records: PreferenceRecord[], s: Scorers): Promise<{ chosen: Float32Array; rejected: Float32Array }> {
  const { model, tokenizer: tok } = r;
  const chosen = new Float32Array(records.length);
  const rejected = new Float32Array(records.length);
  await forBatches(records, tok, r.lengths, s, async (ex, offset) => {
    const b = pairBatch(ex, tok.padId, s, packInOneRow(model.backbone));
    const B = b.size;
    const out = tf.tidy(() => batchRewards(model, b));
    const v = await out.data();
    out.dispose();
    for (let i = 0; i < B; i++) {
      chosen[offset + i] = v[i];
      rejected[offset + i] = v[B + i];
    }
  });
  return { chosen, rejected };
}

/** Summed completion log-probs of policy (and reference) for pairs, and completion token counts. */
async function logprobScores(p: NonNullable<Scorers['policy']>, records: PreferenceRecord[], s: Scorers) {
  const n = records.length;
  const r = { pc: new Float32Array(n), pr: new Float32Array(n), rc: new Float32Array(n), rr: new Float32Array(n), nc: new Float32Array(n), nr: new Float32Array(n) };
  await forBatches(records, p.tokenizer, p.lengths, s, async (ex, offset) => {
    const b = pairBatch(ex, p.tokenizer.padId, s, packInOneRow(p.model, p.reference));
    const B = b.size;
    const packed = tf.tidy(() => {
      const pol = batchLogProbs(p.model, b, 2 * B); // [2B]: chosen, then rejected
      const parts = [pol.sum, pol.count];
      if (p.reference) parts.push(batchLogProbs(p.reference, b, 2 * B).sum);
      return tf.concat(parts); // [pc, pr, nc, nr, rc, rr] in blocks of B
    });
    const v = await packed.data();
    packed.dispose();
    for (let i = 0; i < B; i++) {
      r.pc[offset + i] = v[i];
      r.pr[offset + i] = v[B + i];
      r.nc[offset + i] = v[2 * B + i];
      r.nr[offset + i] = v[3 * B + i];
      r.rc[offset + i] = p.reference ? v[4 * B + i] : 0;
      r.rr[offset + i] = p.reference ? v[5 * B + i] : 0;
    }
  });
  return r;
}

/**
 * The layout pairs are scored in: packed with shared prompts (the default), or padded rows. oneRow (every model
 * that reads the batch runs the fused segment kernel, model/language-model.ts packInOneRow): the whole batch in one row, no
 * padding; otherwise a row per pair.
 */
function pairBatch(ex: PairExample[], padId: number, s: Pick<Scorers, 'sharePrompt'>, oneRow: boolean): AnyPairBatch {
  if (s.sharePrompt === false) return collatePairs(ex, padId);
  return packPairs(ex, padId, oneRow ? { sharePrompt: true, paddingFree: true, oneRow: true } : { sharePrompt: true });
}

/**
 * Tokenises records in order, cut as in training (`lengths`), and hands batches to `fn`. A pair that cannot be
 * scored within the limits (truncation_mode drop drops it, as training did) is an error, not a silent drop.
 */
async function forBatches(
  records: PreferenceRecord[],
  tok: Tokenizer,
  lengths: ScoringLengths,
  s: Pick<Scorers, 'batchSize' | 'onBatch'>,
  fn: (ex: PairExample[], offset: number) => Promise<void>,
): Promise<void> {
  const stats = newCollateStats();
  const limits = { maxLength: lengths.maxLength, maxPromptLength: lengths.maxPromptLength ?? undefined, truncation: lengths.truncation };
  for (let i = 0; i < records.length; i += s.batchSize) {
    const ex = records.slice(i, i + s.batchSize).map((r) => {
      const e = preparePair(r, tok, limits, stats);
      if (!e) {
        throw new ComparisonInputError(
          `${r.source}: pair cannot be scored within max_length ${lengths.maxLength} (max_prompt_length ${lengths.maxPromptLength}, truncation_mode ${lengths.truncation}); ` +
            'raise the limits or score with --truncation-mode keep_end',
        );
      }
      return e;
    });
    await fn(ex, i);
    s.onBatch?.(ex.length);
  }
}

function textOf(t: PreferenceRecord['prompt']): string {
  return typeof t === 'string' ? t : t.map((m) => `${m.role}: ${m.content}`).join('\n');
}

/** Scores held-out pairs with every model present. Missing models leave their numbers NaN. */
export async function scorePairs(records: PreferenceRecord[], s: Scorers): Promise<ScoredPair[]> {
  const n = records.length;
  const nan = () => new Float32Array(n).fill(NaN);
  const ex = s.reward ? await explicitScores(s.reward, records, s) : { chosen: nan(), rejected: nan() };
  const lp = s.policy ? await logprobScores(s.policy, records, s) : null;
  const judged = s.judge ? await judgeScores(s.judge, records, s) : null;
  const beta = s.policy?.beta ?? NaN;
  return records.map((r, i) => {
    const rendered = renderPair(r);
    return {
      id: r.id,
      subset: r.subset,
      source: r.source,
      prompt: textOf(r.prompt),
      chosen: textOf(r.chosen),
      rejected: textOf(r.rejected),
      explicit: { chosen: ex.chosen[i], rejected: ex.rejected[i] },
      implicit: lp
        ? { chosen: beta * (lp.pc[i] - lp.rc[i]), rejected: beta * (lp.pr[i] - lp.rr[i]) }
        : { chosen: NaN, rejected: NaN },
      policyLogps: lp ? { chosen: lp.pc[i], rejected: lp.pr[i] } : { chosen: NaN, rejected: NaN },
      referenceLogps: lp && s.policy?.reference ? { chosen: lp.rc[i], rejected: lp.rr[i] } : { chosen: NaN, rejected: NaN },
      tokenCounts: lp ? { chosen: lp.nc[i], rejected: lp.nr[i] } : { chosen: NaN, rejected: NaN },
      lengths: { chosen: rendered.chosen.length, rejected: rendered.rejected.length },
      ...(judged ? { judge: judged[i] } : {}),
    };
  });
}

/** A probe line as read: {probe, prompt, a, b}, plus the attribute fields of template-built sets. */
export interface ProbeRecord {
  probe: string;
  prompt: string;
  a: string;
  b: string;
  source: string;
  attribute?: ProbeAttribute;
}

const ATTRIBUTE_FIELDS = ['attribute', 'values', 'a_value', 'b_value', 'group'];

/**
 * The attribute fields of a probe line ({attribute, values, a_value, b_value, group}, all or none);
 * undefined for the older {probe, prompt, a, b} lines.
 */
function readAttribute(o: Record<string, unknown>, where: string): ProbeAttribute | undefined {
  if (!ATTRIBUTE_FIELDS.some((f) => f in o)) return undefined;
  const expected = 'expected {attribute, values: [first, second], a_value, b_value, group} as rlhf probe build writes them';
  for (const f of ['attribute', 'a_value', 'b_value', 'group'])
    if (typeof o[f] !== 'string') throw new ComparisonInputError(`${where}: field "${f}" must be a string; ${expected}`);
  const v = o.values;
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string' || v[0] === v[1])
    throw new ComparisonInputError(`${where}: field "values" must list the attribute's two different values; ${expected}`);
  const [a, b] = [o.a_value as string, o.b_value as string];
  if (!((a === v[0] && b === v[1]) || (a === v[1] && b === v[0])))
    throw new ComparisonInputError(`${where}: a_value "${a}" and b_value "${b}" must be the two values ${JSON.stringify(v)}, one each; ${expected}`);
  return { name: o.attribute as string, values: [v[0], v[1]], a_value: a, b_value: b, group: o.group as string };
}

/** Reads probe JSONL files (a file, or every *.jsonl in a folder; templates/ below it is not read), validating each line. */
export function loadProbes(spec: string): ProbeRecord[] {
  if (!fs.existsSync(spec)) throw new ComparisonInputError(`probes ${spec}: no such file or folder; expected a JSONL file of {probe, prompt, a, b} or a folder of them`);
  const files = fs.statSync(spec).isDirectory()
    ? fs.readdirSync(spec).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(spec, f))
    : [spec];
  if (files.length === 0) throw new ComparisonInputError(`probes ${spec}: the folder holds no .jsonl files`);
  const out: ProbeRecord[] = [];
  for (const file of files) {
    fs.readFileSync(file, 'utf8').split(/\r?\n/).forEach((line, k) => {
      if (!line.trim()) return;
      const where = `${file}:${k + 1}`;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line);
      } catch (e) {
        throw new ComparisonInputError(`${where}: invalid JSON (${(e as Error).message}); expected {probe, prompt, a, b}`);
      }
      for (const f of ['probe', 'prompt', 'a', 'b']) {
        if (typeof o[f] !== 'string') throw new ComparisonInputError(`${where}: field "${f}" must be a string; expected {probe, prompt, a, b}`);
      }
      const attribute = readAttribute(o, where);
      out.push({ probe: o.probe as string, prompt: o.prompt as string, a: o.a as string, b: o.b as string, source: where, ...(attribute ? { attribute } : {}) });
    });
  }
  return out;
}

/** Scores probes: response a takes the 'chosen' slot and b the 'rejected' one. */
export async function scoreProbes(probes: ProbeRecord[], s: Scorers): Promise<ScoredProbe[]> {
  const records: PreferenceRecord[] = probes.map((p) => ({ prompt: p.prompt, chosen: p.a, rejected: p.b, id: p.source, source: p.source, subset: p.probe }));
  const scored = await scorePairs(records, s);
  return scored.map((x, i) => ({
    probe: probes[i].probe,
    prompt: probes[i].prompt,
    a: probes[i].a,
    b: probes[i].b,
    explicit: { a: x.explicit.chosen, b: x.explicit.rejected },
    implicit: { a: x.implicit.chosen, b: x.implicit.rejected },
    ...(x.judge ? { judge: x.judge } : {}),
    source: probes[i].source,
    ...(probes[i].attribute ? { attribute: probes[i].attribute } : {}),
  }));
}
