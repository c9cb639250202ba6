/**
 * Best-of-n as a library call (`rlhf bon`): draw max(n) samples per prompt ONCE from the policy (batched, seeded:
 * model/sample-prompts.ts), score every sample with the reward (and the gold reward, when given), pick for each n
 * the best of each prompt's first n samples (bon-select.ts), and write into the output folder
 *   samples.jsonl  every sample: prompt_index, sample_index, id, source, completion, finish_reason, num_tokens,
 *                  sum_logprob, reward (and gold_reward, and rewards: {name: score} when several are combined)
 *   chosen.jsonl   per n and prompt, the chosen sample: n, prompt_index, sample_index, id, prompt, completion,
 *                  reward (gold_reward)
 *   bon.json       the settings, each reward's description, and per n: count, reward_mean, gold_mean,
 *                  gold_count, kl_bon (and reward_means per source when several are combined)
 * Rewards see the prompt as the policy saw it (rendered text, data/prompts.ts promptText) and the completion's
 * text; a user function's `row` also gets the prompt's id, source and the prompt as written (string or messages).
 * Every input is checked before the first sample (n, the prompts, the reward specs, the output folder), and
 * the files are written under temporary names and renamed at the end (bon.json last): a failed run leaves
 * no partial files.
 *
 * Does NOT: hold the output lock (the CLI does), or estimate best-of-n beyond max(n) (the frontier does).
 */
import * as fs from 'fs';
import * as path from 'path';
import { promptText, readPrompts, type PromptRecord } from '../data/prompts';
import { loadPolicy } from '../io/load-model';
import { samplePrompts, type SampleLine } from '../model/sample-prompts';
import { bestOfN, parseNs, type BonPoint } from './bon-select';
import { combineRewards } from './combine';
import { parseRewardSpec, parseRewardSpecs, type RewardSpecContext } from './spec';
import { RewardError, type CombinedRewardSource, type RewardRow, type RewardSource } from './types';

export const BON_FILE = 'bon.json';
export const BON_SAMPLES_FILE = 'samples.jsonl';
export const BON_CHOSEN_FILE = 'chosen.jsonl';

export interface BestOfNOptions {
  policy: string;
  tokenizer?: string;
  /** One or more reward specs (spec.ts); several are summed with `rewardWeights`. */
  reward: string | string[];
  rewardWeights?: number[];
  /** A second reward the picks are also measured by (not chosen by), e.g. `oracle`. */
  gold?: string;
  /** Flags shared by the specs (tokenizer, scoring overrides, batch size, fn timeout). */
  rewardContext?: RewardSpecContext;
  /** A prompts file: a `prompt` column (string or messages) or preference records. */
  prompts: string;
  /** "1,4,16" or [1, 4, 16]. */
  n: string | number[];
  out: string;
  /** Replace an existing bon.json. @default false */
  overwrite?: boolean;
  seed?: number;
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  /** Prompts per sampling batch. @default 16 */
  batchSize?: number;
  quiet?: boolean;
}

export interface BonSummary {
  policy: string;
  prompts: string;
  prompt_count: number;
  samples_per_prompt: number;
  reward: string;
  gold: string | null;
  sampling: { seed: number; max_new_tokens: number; temperature: number; top_k: number; top_p: number; min_p: number };
  results: Array<Omit<BonPoint, 'chosen'> & { reward_means?: Record<string, number> }>;
  files: { bon: string; samples: string; chosen: string };
}

export const BON_DEFAULTS = { seed: 0, maxNewTokens: 64, temperature: 1, topK: 0, topP: 1, minP: 0, batchSize: 16 } as const;

/** Reads the prompts; none is an error naming the file. */
async function loadPrompts(file: string): Promise<PromptRecord[]> {
  const out: PromptRecord[] = [];
  for await (const p of readPrompts(file)) out.push(p);
  if (out.length === 0) throw new RewardError(`--prompts ${file}: no prompts in it; expected rows with a "prompt" field (a string or chat messages) or preference records`);
  return out;
}

/** The rewards, parsed (models loaded) before any sampling; the caller disposes them. */
function openRewards(o: BestOfNOptions): { reward: CombinedRewardSource; gold: RewardSource | null } {
  const specs = Array.isArray(o.reward) ? o.reward : [o.reward];
  const sources = parseRewardSpecs(specs, o.rewardContext);
  let reward: CombinedRewardSource;
  try {
    reward = combineRewards(sources, o.rewardWeights);
  } catch (e) {
    sources.forEach((s) => s.dispose?.());
    throw e;
  }
  try {
    return { reward, gold: o.gold === undefined ? null : parseRewardSpec(o.gold, o.rewardContext) };
  } catch (e) {
    reward.dispose?.();
    throw e;
  }
}

/** Writes `text` to `file` under a temporary name; returns the rename that puts it in place. */
function stage(file: string, text: string): () => void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  return () => fs.renameSync(tmp, file);
}

/** The sampling settings of a run, defaults filled in. */
function samplingOf(o: BestOfNOptions): BonSummary['sampling'] & { batch_size: number } {
  const d = BON_DEFAULTS;
  return {
    seed: o.seed ?? d.seed, max_new_tokens: o.maxNewTokens ?? d.maxNewTokens, temperature: o.temperature ?? d.temperature,
    top_k: o.topK ?? d.topK, top_p: o.topP ?? d.topP, min_p: o.minP ?? d.minP, batch_size: o.batchSize ?? d.batchSize,
  };
}

/** max(n) samples per prompt, in prompt-major order, and each prompt's rendered text (what rewards see). */
async function drawSamples(o: BestOfNOptions, prompts: PromptRecord[], n: number, s: ReturnType<typeof samplingOf>): Promise<{ lines: SampleLine[]; texts: string[] }> {
  const pol = loadPolicy(o.policy, { tokenizer: o.tokenizer, trainable: false });
  try {
    const texts = prompts.map((p) => promptText(p, pol.tokenizer.chatTemplate));
    const lines: SampleLine[] = [];
    const onBatch = o.quiet ? undefined : (done: number, total: number, tokens: number, ms: number) =>
      process.stderr.write(`[bon] prompts ${done}/${total} | ${tokens} new tokens in ${(ms / 1000).toFixed(2)} s\n`);
    const opts = { n, maxNewTokens: s.max_new_tokens, temperature: s.temperature, topK: s.top_k, topP: s.top_p, minP: s.min_p, seed: s.seed, batchSize: s.batch_size, onBatch };
    for await (const line of samplePrompts(pol.model, pol.tokenizer, prompts, opts)) lines.push(line);
    lines.sort((a, b) => a.prompt_index - b.prompt_index || a.sample_index - b.sample_index);
    return { lines, texts };
  } finally {
    pol.model.dispose();
  }
}

/** Writes the three files under temporary names, then renames them into place, bon.json last. */
function writeOutputs(out: string, files: BonSummary['files'], samples: unknown[], chosen: unknown[], record: unknown): void {
  fs.mkdirSync(out, { recursive: true });
  const jsonl = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).join('\n') + '\n';
  const renames: Array<() => void> = [];
  try {
    renames.push(stage(files.samples, jsonl(samples)), stage(files.chosen, jsonl(chosen)), stage(files.bon, JSON.stringify(record, null, 2) + '\n'));
  } catch (e) {
    for (const f of Object.values(files)) fs.rmSync(`${f}.tmp-${process.pid}`, { force: true });
    throw e;
  }
  renames.forEach((r) => r()); // bon.json last: its presence means the run finished
}

/** Mean over prompts of each source's score of the chosen samples (only when several rewards are combined). */
function meansBySource(perSource: Record<string, number[]>, chosen: number[], n: number): Record<string, number> {
  return Object.fromEntries(Object.entries(perSource).map(([name, v]) => [name, chosen.reduce((a, j, i) => a + v[i * n + j], 0) / chosen.length]));
}

export async function bestOfNRun(o: BestOfNOptions): Promise<BonSummary> {
  const ns = parseNs(o.n);
  const maxN = ns[ns.length - 1];
  const out = path.resolve(o.out);
  const files = { bon: path.join(out, BON_FILE), samples: path.join(out, BON_SAMPLES_FILE), chosen: path.join(out, BON_CHOSEN_FILE) };
  if (fs.existsSync(files.bon) && !o.overwrite) throw new RewardError(`${out} already holds ${BON_FILE}; pass --overwrite to replace it or choose another --out`);
  const prompts = await loadPrompts(o.prompts);
  const s = samplingOf(o);
  const say = (l: string) => { if (!o.quiet) process.stderr.write(l + '\n'); };

  const { reward, gold } = openRewards(o);
  try {
    say(`[bon] sampling ${maxN} per prompt for ${prompts.length} prompts`);
    const { lines, texts } = await drawSamples(o, prompts, maxN, s);
    const rowPrompts = lines.map((l) => texts[l.prompt_index]);
    const completions = lines.map((l) => l.completion);
    const rows: RewardRow[] = lines.map((l) => ({ id: prompts[l.prompt_index].id, source: l.source, prompt: l.prompt, sample_index: l.sample_index }));
    say(`[bon] scoring ${lines.length} samples with ${reward.name}${gold ? ` (gold: ${gold.name})` : ''}`);
    const d = await reward.scoreDetailed(rowPrompts, completions, rows);
    const g = gold ? await gold.score(rowPrompts, completions, rows) : null;
    const table = (v: number[]) => prompts.map((_, i) => v.slice(i * maxN, (i + 1) * maxN));
    const points = bestOfN(table(d.total), ns, g ? table(g) : undefined);
    const several = reward.sources.length > 1;
    const scoresOf = (k: number) => ({
      reward: d.total[k],
      ...(g ? { gold_reward: g[k] } : {}),
      ...(several ? { rewards: Object.fromEntries(Object.entries(d.perSource).map(([name, v]) => [name, v[k]])) } : {}),
    });

    const samples = lines.map((l, k) => ({
      prompt_index: l.prompt_index, sample_index: l.sample_index, id: prompts[l.prompt_index].id, source: l.source, completion: l.completion,
      finish_reason: l.finish_reason, num_tokens: l.num_tokens, sum_logprob: l.sum_logprob, ...scoresOf(k),
    }));
    const chosen = points.flatMap((pt) => pt.chosen.map((j, i) => ({
      n: pt.n, prompt_index: i, sample_index: j, id: prompts[i].id, prompt: prompts[i].prompt, completion: completions[i * maxN + j], ...scoresOf(i * maxN + j),
    })));
    const results = points.map(({ chosen: picks, ...rest }) => ({ ...rest, ...(several ? { reward_means: meansBySource(d.perSource, picks, maxN) } : {}) }));
    const { batch_size: _batch, ...sampling } = s;
    const summary: BonSummary = {
      policy: o.policy, prompts: o.prompts, prompt_count: prompts.length, samples_per_prompt: maxN, reward: reward.name, gold: gold?.name ?? null,
      sampling, results, files,
    };
    writeOutputs(out, files, samples, chosen, { ...summary, reward_sources: reward.describe?.() ?? null, gold_source: gold?.describe?.() ?? null });
    return summary;
  } finally {
    reward.dispose?.();
    gold?.dispose?.();
  }
}
