/**
 * Collation: records → token ids → padded batches of plain typed arrays (no tensors here).
 *
 * Tokenising: prompt = [BOS when the tokenizer has one] + encode(prompt text); each completion =
 * encode(completion text) + [EOS]. Pre-tokenised records (`*Ids`) are used exactly as given.
 * Conversations are rendered to text first (render.ts).
 *
 * Truncation (`truncation`, default 'keep_end' as in TRL's DPO):
 *  1) prompt longer than `maxPromptLength`: keep_start keeps its first tokens, keep_end its last ones
 *     (a leading BOS is kept in both);
 *  2) prompt + completion longer than `maxLength` (checked per side): keep_start keeps the first
 *     maxLength tokens (the completion's end goes), keep_end keeps the last ones (the prompt's start goes,
 *     a leading BOS is kept);
 *  'drop' instead drops a pair that breaks either limit (like TRL's reward trainer) and counts it.
 * Every truncated or dropped pair is counted in CollateStats, never silently.
 *
 * Batches: rows right-padded with tokenizer.padId to the longest row (optionally a multiple of
 * `padToMultipleOf`). completionMask[t] = 1 when token t belongs to the completion, t >= 1 (its log-prob
 * is read from the logits at t-1, so position 0 can never count).
 * Does NOT choose batch order (batching.ts does).
 */
import type { Tokenizer } from '../tokenizer/types';
import { renderPair } from './render';
import type { PreferenceRecord } from './types';

export const TRUNCATION_MODES = ['keep_end', 'keep_start', 'drop'] as const;
export type TruncationMode = (typeof TRUNCATION_MODES)[number];

/**
 * The length limits a training stage uses unless told otherwise (TRL's DPO defaults: the recipe schema's
 * defaults, and what scoring falls back to when a checkpoint records no training settings).
 */
export const LENGTH_DEFAULTS = { max_length: 256, max_prompt_length: 128, truncation_mode: 'keep_end' } as const;

export interface TruncationOptions {
  /** Longest prompt + completion (tokens), per side. No limit when unset. */
  maxLength?: number;
  /** Longest prompt (tokens). No limit when unset. */
  maxPromptLength?: number;
  /** @default 'keep_end' */
  truncation?: TruncationMode;
}

/** One tokenised sequence: ids[0..completionStart) is prompt, the rest completion. */
export interface Seq {
  ids: number[];
  completionStart: number;
}

export interface PairExample {
  record: PreferenceRecord;
  chosen: Seq;
  rejected: Seq;
}

export interface SequenceExample {
  record: PreferenceRecord;
  seq: Seq;
}

export interface CollateStats {
  /** Pairs (or sequences) kept. */
  kept: number;
  /** Over a limit and dropped ('drop' mode). */
  dropped: number;
  /** Prompt cut to maxPromptLength. */
  truncatedPrompt: number;
  /** A side cut to maxLength. */
  truncatedTotal: number;
  /** Kept, but a side has no completion token left after truncation (its log-prob sum is 0). */
  noCompletionTokens: number;
}

export function newCollateStats(): CollateStats {
  return { kept: 0, dropped: 0, truncatedPrompt: 0, truncatedTotal: 0, noCompletionTokens: 0 };
}

export interface PairBatch {
  /** B pairs. */
  size: number;
  seqLen: number;
  /** [2B*T]; rows 0..B-1 chosen, B..2B-1 rejected. */
  inputIds: Int32Array;
  attentionMask: Float32Array;
  /** 1 where token t is a completion token (its log-prob is read from position t-1). */
  completionMask: Float32Array;
  /** [B] per-pair margins (0 where a record has none); present when any record has one. */
  margins?: Float32Array;
  records: PreferenceRecord[];
}

export interface SequenceBatch {
  size: number;
  seqLen: number;
  /** [B*T] */
  inputIds: Int32Array;
  attentionMask: Float32Array;
  completionMask: Float32Array;
  records: PreferenceRecord[];
}

/** Keeps n tokens from the start or the end; a leading BOS survives keep_end. Example: keepEnd([1,5,6,7], 3, 1) -> [1,6,7]. */
function cut(ids: number[], n: number, mode: 'keep_start' | 'keep_end', bosId: number | null): number[] {
  if (ids.length <= n) return ids;
  if (mode === 'keep_start') return ids.slice(0, n);
  if (bosId !== null && ids[0] === bosId && n > 1) return [ids[0], ...ids.slice(ids.length - (n - 1))];
  return ids.slice(ids.length - n);
}

/** Prompt ids and completion ids of a record (before truncation). */
export function tokenizeRecord(r: PreferenceRecord, tok: Tokenizer, chatTemplate = tok.chatTemplate): { prompt: number[]; chosen: number[]; rejected: number[] } {
  if (r.chosenIds && r.rejectedIds) return { prompt: r.promptIds ?? [], chosen: r.chosenIds, rejected: r.rejectedIds };
  const t = renderPair(r, chatTemplate);
  const bos = tok.bosId !== null ? [tok.bosId] : [];
  const eos = tok.eosId !== null ? [tok.eosId] : [];
  return { prompt: [...bos, ...tok.encode(t.prompt)], chosen: [...tok.encode(t.chosen), ...eos], rejected: [...tok.encode(t.rejected), ...eos] };
}

/** Joins prompt and completion under maxLength; null when dropped. */
function joinSide(prompt: number[], completion: number[], o: TruncationOptions, bosId: number | null, st: { truncated: boolean }): Seq | null {
  const ids = prompt.concat(completion);
  const max = o.maxLength;
  if (max === undefined || ids.length <= max) return { ids, completionStart: prompt.length };
  const mode = o.truncation ?? 'keep_end';
  if (mode === 'drop') return null;
  st.truncated = true;
  const kept = cut(ids, max, mode, bosId);
  // keep_end removes (ids.length - max) tokens from the prompt's front (after a kept BOS).
  const completionStart = mode === 'keep_start' ? Math.min(prompt.length, max) : Math.max(kept.length - completion.length, bosId !== null && ids[0] === bosId ? 1 : 0);
  return { ids: kept, completionStart };
}

function hasCompletion(s: Seq): boolean {
  return s.ids.length > Math.max(s.completionStart, 1);
}

/** Truncates the prompt per maxPromptLength; null when dropped. */
function truncatePrompt(prompt: number[], o: TruncationOptions, bosId: number | null, stats: CollateStats): number[] | null {
  const maxP = o.maxPromptLength;
  if (maxP === undefined || prompt.length <= maxP) return prompt;
  const mode = o.truncation ?? 'keep_end';
  if (mode === 'drop') return null;
  stats.truncatedPrompt++;
  return cut(prompt, maxP, mode, bosId);
}

/** One record → a pair example, or null when 'drop' mode drops it. Updates stats. */
export function preparePair(r: PreferenceRecord, tok: Tokenizer, o: TruncationOptions = {}, stats = newCollateStats()): PairExample | null {
  const t = tokenizeRecord(r, tok);
  const prompt = truncatePrompt(t.prompt, o, tok.bosId, stats);
  const st = { truncated: false };
  const chosen = prompt && joinSide(prompt, t.chosen, o, tok.bosId, st);
  const rejected = prompt && joinSide(prompt, t.rejected, o, tok.bosId, st);
  if (!chosen || !rejected) {
    stats.dropped++;
    return null;
  }
  if (st.truncated) stats.truncatedTotal++;
  if (!hasCompletion(chosen) || !hasCompletion(rejected)) stats.noCompletionTokens++;
  stats.kept++;
  return { record: r, chosen, rejected };
}

/** All records → pair examples (dropped ones left out and counted). */
export function preparePairs(records: PreferenceRecord[], tok: Tokenizer, o: TruncationOptions = {}): { examples: PairExample[]; stats: CollateStats } {
  const stats = newCollateStats();
  const examples: PairExample[] = [];
  for (const r of records) {
    const ex = preparePair(r, tok, o, stats);
    if (ex) examples.push(ex);
  }
  return { examples, stats };
}

/**
 * SFT: prompt + chosen as one sequence. `loss: 'completion'` (default) masks the prompt;
 * 'all' trains on every token (plain text: put it in `chosen` with an empty prompt).
 */
export function prepareSequence(r: PreferenceRecord, tok: Tokenizer, o: TruncationOptions & { loss?: 'completion' | 'all' } = {}, stats = newCollateStats()): SequenceExample | null {
  const t = tokenizeRecord(r, tok);
  const prompt = truncatePrompt(t.prompt, o, tok.bosId, stats);
  const st = { truncated: false };
  const seq = prompt && joinSide(prompt, t.chosen, o, tok.bosId, st);
  if (!seq) {
    stats.dropped++;
    return null;
  }
  if (st.truncated) stats.truncatedTotal++;
  if (o.loss === 'all') seq.completionStart = 0;
  if (!hasCompletion(seq)) stats.noCompletionTokens++;
  stats.kept++;
  return { record: r, seq };
}

/** Fills row `row` of a [rows*T] batch from one sequence. */
function fillRow(s: Seq, row: number, T: number, ids: Int32Array, attn: Float32Array, comp: Float32Array): void {
  const base = row * T;
  for (let t = 0; t < s.ids.length; t++) {
    ids[base + t] = s.ids[t];
    attn[base + t] = 1;
    if (t >= s.completionStart && t >= 1) comp[base + t] = 1;
  }
}

function paddedLength(seqs: Seq[], multiple = 1): number {
  const longest = seqs.reduce((m, s) => Math.max(m, s.ids.length), 1);
  return Math.ceil(longest / multiple) * multiple;
}

/** Pair examples → a PairBatch. Example: 2 pairs with rows of 5, 7, 4, 6 tokens -> seqLen 7, inputIds length 28. */
export function collatePairs(examples: PairExample[], padId: number, opts: { padToMultipleOf?: number } = {}): PairBatch {
  const B = examples.length;
  const seqs = [...examples.map((e) => e.chosen), ...examples.map((e) => e.rejected)];
  const T = paddedLength(seqs, opts.padToMultipleOf);
  const inputIds = new Int32Array(2 * B * T).fill(padId);
  const attentionMask = new Float32Array(2 * B * T);
  const completionMask = new Float32Array(2 * B * T);
  seqs.forEach((s, row) => fillRow(s, row, T, inputIds, attentionMask, completionMask));
  const batch: PairBatch = { size: B, seqLen: T, inputIds, attentionMask, completionMask, records: examples.map((e) => e.record) };
  if (examples.some((e) => e.record.margin !== undefined)) batch.margins = Float32Array.from(examples, (e) => e.record.margin ?? 0);
  return batch;
}

/** Sequence examples → a SequenceBatch. */
export function collateSequences(examples: SequenceExample[], padId: number, opts: { padToMultipleOf?: number } = {}): SequenceBatch {
  const B = examples.length;
  const T = paddedLength(examples.map((e) => e.seq), opts.padToMultipleOf);
  const inputIds = new Int32Array(B * T).fill(padId);
  const attentionMask = new Float32Array(B * T);
  const completionMask = new Float32Array(B * T);
  examples.forEach((e, row) => fillRow(e.seq, row, T, inputIds, attentionMask, completionMask));
  return { size: B, seqLen: T, inputIds, attentionMask, completionMask, records: examples.map((e) => e.record) };
}

/** Row length used for bucketing and padding reports: the longer side of a pair. */
export function pairLength(e: PairExample): number {
  return Math.max(e.chosen.ids.length, e.rejected.ids.length);
}
