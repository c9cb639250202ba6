/**
 * The dynamic audit: what optimising against each proxy reward does to a gold reward, as a function of KL from
 * the start policy (Gao et al. 2022; the DPO paper's Fig. 2).
 *
 *   1. the gold must be able to score every prompt (checked on empty completions before any sampling);
 *   2. one pool of nMax samples per prompt from the start policy, scored once by every proxy and the gold:
 *      best-of-n points for every proxy and n = 1, 2, 4, … ≤ nMax (bon.ts, points.ts);
 *   3. each policy to place (an RL checkpoint, a trained policy such as DPO's): `samplesPerPolicy` samples per
 *      prompt, their sampled KL from the start policy (kl.ts), proxies and gold: one point per proxy;
 *   4. headline per proxy (gold peak, KL there) and the most over-optimised samples.
 *
 * Policies are loaded one at a time by the caller's `load()` and disposed here after use.
 * Does NOT: parse reward specs, read prompt files or write anything (cli/ and report/ do).
 */
import type { LanguageModel } from '../model/language-model';
import type { RewardSource } from '../rewards/types';
import type { Tokenizer } from '../tokenizer/types';
import { completionLogProbs, sampledKl } from './kl';
import {
  bonPoints, headlines, headlineSentence, overOptimised, policyPoints, policySentence, poolsByPrompt,
  type FrontierPoint, type OverOptimisedSample, type ProxyHeadline, type ScoredSample,
} from './points';
import { samplePrompts, type FrontierPrompt, type FrontierSample } from './sample';

/** A bad frontier input (a gold that cannot score the prompts, a policy of another vocabulary): one line. */
export class FrontierError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface LoadedLM {
  model: LanguageModel;
  tokenizer: Tokenizer;
}

/** A policy to place on the frontier: an RL checkpoint (method rl, with its step) or any trained policy. */
export interface PolicyToPlace {
  method: 'rl' | 'policy';
  /** Shown in the report: the checkpoint or run folder. */
  label: string;
  step?: number;
  load(): LoadedLM;
}

export interface FrontierOptions {
  /** Pool size per prompt, and the largest best-of-n. */
  nMax: number;
  seed: number;
  maxNewTokens: number;
  /** Samples per prompt for each RL/policy point. @default 8 */
  samplesPerPolicy?: number;
  /** Sequences per log-prob forward. @default 32 */
  batchSize?: number;
  /** Over-optimised samples kept per proxy. @default 5 */
  topK?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface FrontierResult {
  points: FrontierPoint[];
  headline: Record<string, ProxyHeadline>;
  /** Which reward is safer to optimise here, and up to what KL, in one sentence with numbers. */
  sentence: string;
  over_optimised: OverOptimisedSample[];
  proxies: string[];
  gold: string;
  /** The start policy's pool, every sample with every score (samples.jsonl). */
  pool: ScoredSample[];
  counts: { prompts: number; pool_samples: number; policy_samples: number };
}

/** Throws a FrontierError naming the gold and the prompt when the gold cannot score the prompts. */
export async function checkGoldScores(gold: RewardSource, prompts: readonly FrontierPrompt[]): Promise<void> {
  try {
    const s = await gold.score(prompts.map((p) => p.text), prompts.map(() => ''));
    const bad = s.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`it scored ${s[bad]} for prompt ${prompts[bad].source}`);
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new FrontierError(`the gold reward "${gold.name}" cannot score the prompts: ${why}; pass prompts it knows (e.g. the shipped data for --gold oracle) or another --gold`);
  }
}

/** Every proxy's and the gold's scores for the samples. */
async function scoreSamples(samples: readonly FrontierSample[], prompts: readonly FrontierPrompt[], proxies: readonly RewardSource[], gold: RewardSource): Promise<ScoredSample[]> {
  const texts = samples.map((s) => prompts[s.promptIndex].text);
  const completions = samples.map((s) => s.completion);
  const proxyScores: number[][] = [];
  for (const p of proxies) proxyScores.push(await p.score(texts, completions));
  const goldScores = await gold.score(texts, completions);
  return samples.map((s, i) => ({
    promptIndex: s.promptIndex, prompt: texts[i], completion: s.completion, proxies: proxyScores.map((ps) => ps[i]), gold: goldScores[i],
  }));
}

/** A policy must share the start policy's vocabulary: its samples are scored under the start policy's ids. */
function checkSameVocabulary(start: LoadedLM, other: LoadedLM, label: string): void {
  const a = start.tokenizer;
  const b = other.tokenizer;
  if (a.kind !== b.kind || a.vocabSize !== b.vocabSize || start.model.config.vocab_size !== other.model.config.vocab_size) {
    throw new FrontierError(
      `${label}: its tokenizer (${b.kind}, ${b.vocabSize} tokens) differs from the start policy's (${a.kind}, ${a.vocabSize}); the KL needs both on the same tokens: pass a policy trained from --policy`,
    );
  }
}

/** Samples from one policy, its KL from the start policy, and its points. */
async function placePolicy(start: LoadedLM, p: PolicyToPlace, prompts: readonly FrontierPrompt[], proxies: readonly RewardSource[], gold: RewardSource, o: FrontierOptions) {
  const lm = p.load();
  try {
    checkSameVocabulary(start, lm, p.label);
    const n = o.samplesPerPolicy ?? 8;
    const samples = await samplePrompts(lm.model, lm.tokenizer, prompts, n, { seed: o.seed + 1, maxNewTokens: o.maxNewTokens });
    const lpPolicy = await completionLogProbs(lm.model, samples, o.batchSize ?? 32);
    const lpStart = await completionLogProbs(start.model, samples, o.batchSize ?? 32);
    const kl = sampledKl(lpPolicy, lpStart);
    const scored = await scoreSamples(samples, prompts, proxies, gold);
    const names = proxies.map((x) => x.name);
    return { points: policyPoints(names, scored, prompts.length, kl, { method: p.method, label: p.label, step: p.step }), samples: samples.length };
  } finally {
    lm.model.dispose();
  }
}

/** Runs the whole audit (see the header). */
export async function runFrontier(
  start: LoadedLM,
  prompts: readonly FrontierPrompt[],
  proxies: readonly RewardSource[],
  gold: RewardSource,
  policies: readonly PolicyToPlace[],
  o: FrontierOptions,
): Promise<FrontierResult> {
  const log = o.log ?? (() => undefined);
  if (!Number.isInteger(o.nMax) || o.nMax < 1) throw new FrontierError(`--n-max must be an integer >= 1; got ${o.nMax}`);
  if (prompts.length === 0) throw new FrontierError('no prompts: the prompts file has none; pass --prompts FILE with at least one prompt');
  if (proxies.length === 0) throw new FrontierError('no proxy reward: pass at least one --proxy SPEC');
  const names = proxies.map((p) => p.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new FrontierError(`--proxy ${dup} is given twice; each proxy once`);
  await checkGoldScores(gold, prompts);

  log(`frontier: sampling a pool of ${o.nMax} per prompt for ${prompts.length} prompts`);
  const pool = await samplePrompts(start.model, start.tokenizer, prompts, o.nMax, {
    seed: o.seed, maxNewTokens: o.maxNewTokens,
    onPrompt: (d, t) => (d % 8 === 0 || d === t) && log(`frontier: pool ${d}/${t} prompts`),
  });
  log(`frontier: scoring ${pool.length} samples with ${proxies.length} prox${proxies.length === 1 ? 'y' : 'ies'} and the gold`);
  const scored = await scoreSamples(pool, prompts, proxies, gold);
  const pools = poolsByPrompt(scored, prompts.length);
  const points = bonPoints(names, pools, o.nMax);
  let policySamples = 0;
  for (const p of policies) {
    log(`frontier: placing ${p.method} ${p.label}${p.step !== undefined ? ` step ${p.step}` : ''}`);
    const placed = await placePolicy(start, p, prompts, proxies, gold, o);
    points.push(...placed.points);
    policySamples += placed.samples;
  }
  const headline = headlines(points);
  return {
    points, headline, sentence: [headlineSentence(headline), policySentence(points)].filter(Boolean).join(' '), over_optimised: overOptimised(names, pools, o.topK ?? 5),
    proxies: names, gold: gold.name, pool: scored, counts: { prompts: prompts.length, pool_samples: pool.length, policy_samples: policySamples },
  };
}
