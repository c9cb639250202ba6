/**
 * The generative judge: a causal LM asked which of two answers is better, its verdict read from the next-token
 * distribution (LLM-as-judge as in MT-Bench / AlpacaEval, pairwise).
 *
 *   text(x, a, b)  the pairwise prompt template filled in (DEFAULT_JUDGE_TEMPLATE, or a file), rendered with the
 *                  tokenizer's chat template when it has one: every line but the last is the user's message, the last
 *                  line ("The better answer is") starts the assistant's reply;
 *   d(x, a, b)     = log P(label_a | text) − log P(label_b | text), the two labels ("A", "B" unless told otherwise)
 *                  each one token, read at the position after the text;
 *   score(x, y1, y2) = ½ [ d(x, y1, y2) − d(x, y2, y1) ]   (> 0: y1 is better)
 * Averaging the two orders cancels a constant preference for one position (a judge that always says "A" gets 0).
 * What the orders disagree on is reported as position bias:
 *   position-biased pair: sign d(x, y1, y2) = sign d(x, y2, y1) ≠ 0, i.e. the judge picks the same LABEL in both
 *     orders, so its verdict followed the position, not the answer; the position-bias rate is the share of such
 *     pairs (0 for a judge that only reads content, ~1 for one that only reads positions);
 *   label_a_logodds: mean of ½ [ d(x, y1, y2) + d(x, y2, y1) ], the judge's average lean towards the first label.
 * Pointwise use (the RewardSource shape, one score per completion): the completion is judged against a baseline
 * answer, score = score(x, completion, baseline): the row's `reference` column when the caller passes rows that
 * have one (a prompts file with reference answers), else `baseline` (default: the empty answer "").
 *
 * Labels must be single tokens where the judge reads them: after the template's last words, the tokenizer must
 * encode " A" as those words' tokens plus exactly one more (or, failing that, "A" after the words and a space).
 * Otherwise a JudgeError names the tokenizer and what the label encodes to.
 *
 * Does NOT: train a judge (train/judge-data.ts frames preference pairs as judge prompts), or read checkpoints
 * beyond io/load-model.ts (judgeReward loads one).
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { renderChatTemplate } from '../data/render';
import { loadPolicy, resolveModelPath } from '../io/load-model';
import { readCheckpointMeta } from '../io/scoring-settings';
import type { LanguageModel } from '../model/language-model';
import type { Tokenizer } from '../tokenizer/types';
import { DEFAULT_JUDGE_LABELS, DEFAULT_JUDGE_TEMPLATE, JUDGE_PLACEHOLDERS } from './judge-defs';
import { checkAligned, RewardError, type RewardRow, type RewardSource } from './types';

export { DEFAULT_JUDGE_LABELS, DEFAULT_JUDGE_TEMPLATE, JUDGE_PLACEHOLDERS, positionBias, type PositionBias } from './judge-defs';

/** Inputs a person must fix (a template, the labels, a model's tokenizer); the CLI prints the message as one line. */
export class JudgeError extends RewardError {}

/** A checked template: its text and the labels it names the answers by. */
export interface JudgeTemplate {
  text: string;
  labels: [string, string];
}

/** Checks a template's placeholders; `where` names it in errors ("template FILE"). */
export function parseJudgeTemplate(text: string, labels: [string, string] = DEFAULT_JUDGE_LABELS, where = 'the judge template'): JudgeTemplate {
  const known = new Set<string>(JUDGE_PLACEHOLDERS);
  const used = [...text.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);
  const unknown = used.find((u) => !known.has(u));
  if (unknown !== undefined)
    throw new JudgeError(`${where}: unknown placeholder {${unknown}}; a judge template may use ${JUDGE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`);
  for (const need of ['a', 'b']) if (!used.includes(need)) throw new JudgeError(`${where}: no {${need}} placeholder; a judge template must show both answers ({a} and {b})`);
  if (!text.trim()) throw new JudgeError(`${where}: the template is empty`);
  if (labels.length !== 2 || labels.some((l) => typeof l !== 'string' || !l.trim()) || labels[0] === labels[1])
    throw new JudgeError(`${where}: labels must be two different non-empty strings, got ${JSON.stringify(labels)}`);
  return { text, labels };
}

/** Reads a template file (UTF-8 text with placeholders). */
export function readJudgeTemplate(file: string, labels?: [string, string]): JudgeTemplate {
  if (!fs.existsSync(file)) throw new JudgeError(`judge template ${file}: no such file; expected a text file using {prompt}, {a} and {b}`);
  return parseJudgeTemplate(fs.readFileSync(file, 'utf8'), labels, `judge template ${file}`);
}

/** Fills every placeholder in one pass (an answer that contains "{b}" stays as written). */
export function fillJudgeTemplate(t: JudgeTemplate, prompt: string, a: string, b: string): string {
  const values: Record<string, string> = { prompt, a, b, label_a: t.labels[0], label_b: t.labels[1] };
  return t.text.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, k: string) => values[k] ?? m);
}

/**
 * The text the judge reads for (prompt, a, b): the filled template, or with a chat template, the user's message
 * (all lines but the last) rendered with the generation prompt, followed by the last line.
 */
export function judgeText(t: JudgeTemplate, prompt: string, a: string, b: string, chatTemplate?: string): string {
  const filled = fillJudgeTemplate(t, prompt, a, b);
  if (!chatTemplate) return filled;
  const cut = filled.lastIndexOf('\n');
  const [user, reply] = cut < 0 ? [filled, ''] : [filled.slice(0, cut), filled.slice(cut + 1)];
  return renderChatTemplate(chatTemplate, [{ role: 'user', content: user }], true) + reply;
}

/** How the labels follow the judge text: `suffix` is appended to the text, then ids[k] is label k's one token. */
export interface LabelTokens {
  suffix: '' | ' ';
  ids: [number, number];
}

function tokenizerName(tok: Tokenizer, name?: string): string {
  return `${tok.kind} tokenizer${name ? ` (${name})` : ''}`;
}

/**
 * Finds the labels' token ids after the template's last words: " A" as one extra token, else "A" after a space.
 * Throws a JudgeError naming the tokenizer and what each label encodes to when neither works.
 */
export function labelTokens(t: JudgeTemplate, tok: Tokenizer, chatTemplate?: string, tokName?: string): LabelTokens {
  const text = judgeText(t, 'Q', 'x', 'y', chatTemplate);
  // The label's tokens after the text's, or null when adding the label re-tokenises the text before it.
  const tail = (pre: string, label: string): number[] | null => {
    const [base, full] = [tok.encode(pre), tok.encode(pre + label)];
    return base.every((id, k) => full[k] === id) ? full.slice(base.length) : null;
  };
  const show = (ids: number[] | null) => (ids ? JSON.stringify(ids) : 'tokens that change the text before it');
  const tried: string[] = [];
  for (const suffix of ['', ' '] as const) {
    const ids = t.labels.map((l) => tail(text + suffix, suffix ? l : ` ${l}`));
    if (ids.every((x) => x?.length === 1) && ids[0]![0] !== ids[1]![0]) return { suffix, ids: [ids[0]![0], ids[1]![0]] };
    tried.push(t.labels.map((l, k) => `${JSON.stringify(suffix ? l : ` ${l}`)}${suffix ? ' after a space' : ''} -> ${show(ids[k])}`).join(', '));
  }
  throw new JudgeError(
    `the judge's ${tokenizerName(tok, tokName)} does not encode the labels ${JSON.stringify(t.labels)} as one token each after the template's last words ` +
      `(${tried.join('; ')}); give labels that are single tokens for it (e.g. --judge-labels) or use a judge model whose tokenizer has them`,
  );
}

/** log P(label_a) − log P(label_b) for each text, from some model: the part a test can replace. */
export type LabelLogOdds = (texts: string[]) => Promise<number[]>;

/** One side's verdicts: per pair, the order-averaged score and the two orders' raw log-odds. */
export interface JudgeScores {
  /** ½ (ab − ba): > 0 when the first response is better. */
  score: number[];
  /** d(x, first, second): log-odds of label_a with the first response shown as answer a. */
  ab: number[];
  /** d(x, second, first): the same with the order swapped. */
  ba: number[];
}

/** A judge: texts in, log-odds out; scores pairs in both orders. */
export class Judge {
  constructor(
    readonly template: JudgeTemplate,
    private readonly logOdds: LabelLogOdds,
    private readonly chatTemplate?: string,
  ) {}

  /** The text the judge reads for (prompt, a, b). */
  text(prompt: string, a: string, b: string): string {
    return judgeText(this.template, prompt, a, b, this.chatTemplate);
  }

  /** Scores (prompt, first, second) triples: both orders in one call to the model. */
  async scorePairs(prompts: readonly string[], first: readonly string[], second: readonly string[]): Promise<JudgeScores> {
    if (prompts.length !== first.length || prompts.length !== second.length)
      throw new JudgeError(`judge: ${prompts.length} prompts, ${first.length} first and ${second.length} second responses; expected one of each per pair`);
    const texts = prompts.flatMap((p, k) => [this.text(p, first[k], second[k]), this.text(p, second[k], first[k])]);
    const d = await this.logOdds(texts);
    const ab = prompts.map((_, k) => d[2 * k]);
    const ba = prompts.map((_, k) => d[2 * k + 1]);
    return { score: ab.map((x, k) => (x - ba[k]) / 2), ab, ba };
  }
}

/** Texts per forward pass, unless told otherwise. */
export const JUDGE_BATCH_SIZE = 8;

export interface ModelLogOddsOptions {
  /** Appended to each text before tokenising (labelTokens decides it). */
  suffix: '' | ' ';
  ids: [number, number];
  batchSize?: number;
  /** Longest token sequence read; longer texts keep their END (the labels follow it). @default the model's context */
  maxLength?: number;
  /** Called after each batch with the number of texts done. */
  onBatch?: (n: number) => void;
}

/**
 * log P(ids[0]) − log P(ids[1]) at the position after each text, from a causal LM. Texts are tokenised with BOS
 * (when the tokenizer has one), right-padded, and only the last real position goes through the LM head.
 */
export function modelLogOdds(model: LanguageModel, tok: Tokenizer, o: ModelLogOddsOptions): LabelLogOdds {
  const maxLength = o.maxLength ?? model.config.max_position_embeddings;
  const encode = (text: string) => judgeInputIds(tok, text, o.suffix, maxLength);
  return async (texts) => {
    const out: number[] = [];
    const batch = o.batchSize ?? JUDGE_BATCH_SIZE;
    for (let s = 0; s < texts.length; s += batch) {
      const rows = texts.slice(s, s + batch).map(encode);
      const d = tf.tidy(() => lastPositionLogOdds(model, rows, tok.padId, o.ids));
      out.push(...(await d.data()));
      d.dispose();
      o.onBatch?.(Math.min(texts.length, s + batch));
    }
    return out;
  };
}

/**
 * The ids the judge reads for a text: BOS (when the tokenizer has one), then the text with the label suffix; a
 * sequence over maxLength keeps BOS and its END (the labels follow the end). Training a judge builds on the same ids.
 */
export function judgeInputIds(tok: Tokenizer, text: string, suffix: '' | ' ', maxLength: number): number[] {
  return keepEnd([...(tok.bosId !== null ? [tok.bosId] : []), ...tok.encode(text + suffix)], tok.bosId !== null, maxLength);
}

/** ids cut to maxLength keeping the end (and a leading BOS). keepEnd([1, 5, 6, 7], true, 3) -> [1, 6, 7]. */
export function keepEnd(ids: number[], hasBos: boolean, maxLength: number): number[] {
  if (ids.length <= maxLength) return ids;
  const head = hasBos ? 1 : 0;
  return [...ids.slice(0, head), ...ids.slice(ids.length - (maxLength - head))];
}

/** A prompt or response as the judge shows it: a string as it is, a chat list as "role: content" lines. */
export function plainText(t: string | ReadonlyArray<{ role: string; content: string }>): string {
  return typeof t === 'string' ? t : t.map((m) => `${m.role}: ${m.content}`).join('\n');
}

/** [B] log-odds of ids[0] over ids[1] after each row (rows right-padded to one length here). */
function lastPositionLogOdds(model: LanguageModel, rows: number[][], padId: number, ids: [number, number]): tf.Tensor1D {
  const T = Math.max(...rows.map((r) => r.length));
  const flat = new Int32Array(rows.length * T).fill(padId);
  const mask = new Int32Array(rows.length * T);
  rows.forEach((r, i) => {
    flat.set(r, i * T);
    mask.fill(1, i * T, i * T + r.length);
  });
  const idsT = tf.tensor2d(flat, [rows.length, T], 'int32');
  const maskT = tf.tensor2d(mask, [rows.length, T], 'int32');
  const last = model.hidden(idsT, maskT, { rows: Int32Array.from(rows, (r, i) => i * T + r.length - 1) }); // [1, B, D]: only the last cells
  const logits = model.head(last).squeeze([0]) as tf.Tensor2D; // [B, V]
  const logp = tf.logSoftmax(logits);
  const pick = (id: number) => logp.slice([0, id], [-1, 1]).squeeze([1]);
  return pick(ids[0]).sub(pick(ids[1])) as tf.Tensor1D;
}

/**
 * What a judge stage (`rlhf judge`) records of its prompt in the checkpoint's rlhf.json, as `recipe.judge.template_text`
 * and `recipe.judge.labels`, so judge:MODEL reads it exactly as it was trained.
 */
export interface RecordedJudge {
  template_text: string;
  labels: [string, string];
}

/** The template and labels a model was trained as a judge with, from its rlhf.json; null for any other model. */
export function recordedJudge(modelDir: string): RecordedJudge | null {
  const meta = readCheckpointMeta(modelDir);
  if (meta?.stage !== 'judge') return null;
  const j = (meta.recipe as { judge?: Partial<RecordedJudge> } | undefined)?.judge;
  if (!j || typeof j.template_text !== 'string' || !Array.isArray(j.labels) || j.labels.length !== 2) return null;
  return { template_text: j.template_text, labels: [String(j.labels[0]), String(j.labels[1])] };
}

export interface JudgeRewardOptions {
  /** The source's name. @default "judge:SPEC" */
  name?: string;
  tokenizer?: string;
  /** A template file; default: the one the model was trained with (its rlhf.json), else DEFAULT_JUDGE_TEMPLATE. */
  template?: string;
  /** The two answer labels; default: the trained ones, else DEFAULT_JUDGE_LABELS. */
  labels?: [string, string];
  /** The answer each completion is judged against in pointwise use, unless its row has a `reference`. @default "" (an empty answer) */
  baseline?: string;
  batchSize?: number;
  maxLength?: number;
  seed?: number;
}

/** A judge as a reward source: pointwise score() against the baseline, and the native pairwise scorePairs(). */
export interface JudgeReward extends RewardSource {
  readonly judge: Judge;
  readonly tokens: LabelTokens;
  scorePairs(prompts: readonly string[], first: readonly string[], second: readonly string[]): Promise<JudgeScores>;
  /** Called after each batch with the number of judge texts done (two per pair) in the current call. */
  onBatch?: (n: number) => void;
  dispose(): void;
}

/** `judge:MODEL`: loads the model (checkpoint, HF folder, llama2.c .bin) frozen and checks its labels. */
export function judgeReward(spec: string, o: JudgeRewardOptions = {}): JudgeReward {
  const recorded = spec.startsWith('config:') ? null : recordedJudge(resolveModelPath(spec));
  const labels = o.labels ?? recorded?.labels ?? DEFAULT_JUDGE_LABELS;
  const template = o.template
    ? readJudgeTemplate(o.template, labels)
    : parseJudgeTemplate(recorded?.template_text ?? DEFAULT_JUDGE_TEMPLATE, labels, recorded ? `the judge template recorded in ${spec}'s rlhf.json` : 'the default judge template');
  const loaded = loadPolicy(spec, { tokenizer: o.tokenizer, trainable: false, seed: o.seed });
  try {
    const tokens = labelTokens(template, loaded.tokenizer, loaded.tokenizer.chatTemplate, spec);
    const progress: { onBatch?: (n: number) => void } = {};
    const logOdds = modelLogOdds(loaded.model, loaded.tokenizer, { ...tokens, batchSize: o.batchSize, maxLength: o.maxLength, onBatch: (n) => progress.onBatch?.(n) });
    const judge = new Judge(template, logOdds, loaded.tokenizer.chatTemplate);
    const name = o.name ?? `judge:${spec}`;
    return {
      name,
      judge,
      tokens,
      scorePairs: (p, a, b) => judge.scorePairs(p, a, b),
      async score(prompts, completions, rows?: readonly RewardRow[]) {
        checkAligned(name, prompts, completions, rows);
        const base = completions.map((_, k) => (typeof rows?.[k]?.reference === 'string' ? (rows[k].reference as string) : o.baseline ?? ''));
        return (await judge.scorePairs(prompts, completions, base)).score;
      },
      describe: () => ({ kind: 'judge', model: spec, labels: template.labels, label_ids: tokens.ids, label_suffix: tokens.suffix, template: template.text }),
      get onBatch() {
        return progress.onBatch;
      },
      set onBatch(f) {
        progress.onBatch = f;
      },
      dispose: () => loaded.model.dispose(),
    };
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
}
