/**
 * The online stages as library calls: trainGrpo (GRPO, or RLOO with advantage "rloo") and trainOnlineDpo. Each
 * loads its policy, reference and prompts, measures the held-out reward and KL before the first step
 * (eval_initial, kept in <out>/eval_initial.json so a resumed run reports the same), runs the shared loop and
 * leaves a run folder like the offline stages (final/, checkpoint-N/, metrics.jsonl, summary.json).
 *
 * Everything a user can get wrong (settings, batch shape, prompts, rewards) is checked before the output folder
 * is touched, so a bad call leaves nothing half-written.
 * Does NOT: parse command lines (cli/); reward specs are rewards/spec.ts's (a caller may pass built sources).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { currentBackend } from '../backend';
import { fusedOpsUsed, type FusedOp } from '../backend/ops';
import { seededPermutation } from '../data';
import { FINAL_DIR, SUMMARY_FILE } from '../io/checkpoint';
import { loadPolicy } from '../io/load-model';
import { GRPO_DEFAULTS, grpoConfigProblems, resolveDpoConfig, type DpoLossConfig, type GrpoLossConfig } from '../losses';
import type { LanguageModel } from '../model/language-model';
import { parseRewardSpecs } from '../rewards/spec';
import type { RewardSource } from '../rewards/types';
import type { Tokenizer } from '../tokenizer/types';
import { grpoPreparedJson, grpoTask, type GrpoPrepared } from './grpo';
import { evaluate, runTrainingLoop, writeRunFile, type LoopResult, type TrainTask } from './loop';
import { evalRollouts, PromptBatches, type OnlineBatch, type PromptExample, type RewardSet, type SamplingSettings } from './online';
import { onlineDpoPreparedJson, onlineDpoTask, type OnlineDpoPrepared } from './online-dpo';
import type { PromptRecord } from '../data/prompts';
import { readPromptRecords, tokenizePrompts } from './prompts';
import type { GrpoInputs, OnlineDpoInputs, OnlineSettings, StageInputs } from './settings';
import { ensureBackend, inLockedFolder, loopOptions, parentOf, saver, StageError, startSpec, type Resume, type StageOptions } from './stages';

export interface OnlineStageOptions extends StageOptions {
  /** The rewards, already built (library callers, tests); else the stage builds them from the settings' specs with parseSpecs. */
  rewards?: RewardSource[];
}

export interface OnlineStageSummary {
  stage: 'grpo' | 'rloo' | 'online-dpo';
  out: string;
  model: string;
  parent: string;
  reference: string | null;
  rewards: { name: string; weight: number }[];
  stopped_by: LoopResult['stoppedBy'];
  steps: number;
  train: Record<string, number>;
  /** Held-out metrics at the end (eval_reward, eval_kl, ...); null without held-out prompts. */
  eval: Record<string, number> | null;
  /** The same before the first step. */
  eval_initial: Record<string, number> | null;
  data: { prompts: number; eval_prompts: number; prompts_per_step: number; completions_per_step: number };
  wall_seconds: number;
  tokens: number;
  tokens_per_second: number;
  backend: { name: string; version: string; threads: number; fused_kernels: boolean; fused_ops: FusedOp[] };
}

export const EVAL_INITIAL_FILE = 'eval_initial.json';

/** Settings checks common to both stages (one line each, naming the field). */
function checkOnline(s: OnlineSettings, section: string, minGenerations: number): void {
  const fail = (m: string): never => {
    throw new StageError(`${section}.${m}`);
  };
  if (!(Number.isInteger(s.num_generations) && s.num_generations >= minGenerations)) {
    fail(`num_generations is ${s.num_generations}; ${section === 'grpo' ? 'GRPO compares samples of a prompt, so it needs' : 'expected'} an integer >= ${minGenerations} (--num-generations)`);
  }
  if (s.batch_size % s.num_generations !== 0) fail(`batch_size ${s.batch_size} (completions per step) is not a multiple of num_generations ${s.num_generations}; e.g. --batch-size ${s.num_generations * Math.max(1, Math.round(s.batch_size / s.num_generations))}`);
  if (!(Number.isInteger(s.max_new_tokens) && s.max_new_tokens >= 1)) fail(`max_new_tokens is ${s.max_new_tokens}; expected an integer >= 1`);
  if (s.reward.length === 0) fail('reward is empty; give at least one reward spec (--reward SPEC)');
  if (s.reward_weights && s.reward_weights.length !== s.reward.length) fail(`reward_weights has ${s.reward_weights.length} weights for ${s.reward.length} rewards; give one per --reward, in order`);
}

/** Prompts and held-out prompts: eval_prompts, else eval_count of the prompts held out (seeded), else none. */
async function readPromptSets(recipe: StageInputs, s: OnlineSettings, section: string): Promise<{ train: PromptRecord[]; eval: PromptRecord[] }> {
  const file = s.prompts ?? recipe.data.train;
  if (!fs.existsSync(file.replace(/:[^:/\\]+$/, '')) && !fs.existsSync(file)) throw new StageError(`${section}.prompts: ${file} does not exist`);
  const all = await readPromptRecords(file);
  if (s.eval_prompts) return { train: all, eval: await readPromptRecords(s.eval_prompts) };
  const k = s.eval_count ?? 0;
  if (k === 0) return { train: all, eval: [] };
  if (k >= all.length) throw new StageError(`${section}.eval_count ${k} leaves no training prompts (${file} has ${all.length}); lower --eval-count or give --eval-prompts`);
  const order = seededPermutation(all.length, recipe.seed);
  return { train: order.slice(k).map((i) => all[i]), eval: order.slice(0, k).map((i) => all[i]) };
}

function samplingOf(s: OnlineSettings, tok: Tokenizer, n: number): SamplingSettings {
  // Stories of llama2.c models end at BOS (its run.c stops there); other tokenizers at EOS.
  const stop = tok.kind === 'llama2c' && tok.bosId !== null ? tok.bosId : tok.eosId;
  return { n, maxNewTokens: s.max_new_tokens, temperature: s.temperature, topK: s.top_k, topP: s.top_p, stopTokenIds: stop === null ? [] : [stop] };
}

/** What both stages do once their task exists: eval_initial, the loop, summary.json. */
async function runOnline<P>(
  stage: OnlineStageSummary['stage'],
  task: TrainTask<OnlineBatch<P>>,
  batches: PromptBatches<P>,
  evalPrompts: PromptExample[],
  s: OnlineSettings,
  ctx: { out: string; parent: string; resume: Resume; o: OnlineStageOptions; reference: string | null; rewards: RewardSet; trainPrompts: number },
): Promise<OnlineStageSummary> {
  const promptsPerStep = s.batch_size / s.num_generations;
  const evals = evalRollouts<P>(evalPrompts, promptsPerStep);
  const initialFile = path.join(ctx.out, EVAL_INITIAL_FILE);
  let evalInitial: Record<string, number> | null = null;
  if (evals && ctx.resume && fs.existsSync(initialFile)) evalInitial = JSON.parse(fs.readFileSync(initialFile, 'utf8'));
  else if (evals) {
    evalInitial = prefixed(await evaluate(task, evals()));
    writeRunFile(initialFile, () => fs.writeFileSync(initialFile, JSON.stringify(evalInitial, null, 2) + '\n'));
  }
  const steps = s.max_steps ?? Math.max(1, Math.ceil((s.epochs * batches.batchesPerEpoch) / s.gradient_accumulation_steps));
  const res = await runTrainingLoop(task, batches, evals, loopOptions(s, steps, ctx.out, ctx.o, ctx.resume));
  const b = currentBackend();
  const summary: OnlineStageSummary = {
    stage,
    out: ctx.out,
    model: res.stoppedBy === 'signal' ? res.lastCheckpoint ?? path.join(ctx.out, FINAL_DIR) : path.join(ctx.out, FINAL_DIR),
    parent: ctx.parent,
    reference: ctx.reference,
    rewards: ctx.rewards.sources.map((r, i) => ({ name: r.name, weight: ctx.rewards.weights[i] })),
    stopped_by: res.stoppedBy,
    steps: res.steps,
    train: res.train,
    eval: res.eval,
    eval_initial: evalInitial,
    data: { prompts: ctx.trainPrompts, eval_prompts: evalPrompts.length, prompts_per_step: promptsPerStep, completions_per_step: s.batch_size },
    wall_seconds: res.seconds,
    tokens: res.tokens,
    tokens_per_second: res.tokensPerSecond,
    backend: { name: b?.name ?? tf.getBackend(), version: b?.version ?? tf.version.tfjs, threads: b?.threads ?? 1, fused_kernels: fusedOpsUsed().length > 0, fused_ops: fusedOpsUsed() },
  };
  const file = path.join(ctx.out, SUMMARY_FILE);
  writeRunFile(file, () => fs.writeFileSync(file, JSON.stringify(summary, null, 2) + '\n'));
  return summary;
}

function prefixed(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) out[k.startsWith('eval_') ? k : `eval_${k}`] = v;
  return out;
}

/** The rewards of a stage: given, or parsed from the specs; with their weights (default 1 each). */
function rewardSet(recipe: StageInputs, s: OnlineSettings, section: string, o: OnlineStageOptions): RewardSet {
  const sources = o.rewards ?? parseRewardSpecs(s.reward, { tokenizer: recipe.tokenizer, seed: recipe.seed });
  const weights = s.reward_weights ?? sources.map(() => 1);
  if (weights.length !== sources.length) throw new StageError(`${section}.reward_weights: ${weights.length} weights for ${sources.length} rewards`);
  return { sources, weights };
}

/** Loads a frozen reference model (its tokenizer must be the policy's: the samples are scored token by token). */
function referenceLoader(spec: string, recipe: StageInputs): () => LanguageModel {
  return () => loadPolicy(spec, { tokenizer: recipe.tokenizer, seed: recipe.seed, trainable: false }).model;
}

export function grpoLossConfig(s: GrpoInputs['grpo']): GrpoLossConfig {
  const c: GrpoLossConfig = {
    ...GRPO_DEFAULTS,
    advantage: s.advantage, loss_type: s.loss_type, beta: s.beta, epsilon: s.epsilon, epsilon_high: s.epsilon_high, scale_rewards: s.scale_rewards,
    normalize_advantages: s.normalize_advantages, mask_truncated_completions: s.mask_truncated_completions, num_iterations: s.num_iterations,
  };
  const problems = grpoConfigProblems(c);
  if (problems.length) throw new StageError(`grpo.${problems[0]}`);
  return c;
}

export async function trainGrpo(recipe: GrpoInputs, o: OnlineStageOptions = {}): Promise<OnlineStageSummary> {
  const s = recipe.grpo;
  const loss = grpoLossConfig(s);
  checkOnline(s, 'grpo', 2);
  if (loss.num_iterations > 1 && s.gradient_accumulation_steps > 1) {
    // TRL's generation batch then spans the accumulation window; here each micro-batch is its own rollout.
    throw new StageError(`grpo.num_iterations ${loss.num_iterations} with gradient_accumulation_steps ${s.gradient_accumulation_steps} is not supported; set one of them to 1 (raise batch_size instead of accumulating)`);
  }
  const prompts = await readPromptSets(recipe, s, 'grpo');
  await ensureBackend(recipe);
  const rewards = rewardSet(recipe, s, 'grpo', o);
  const stage = loss.advantage === 'rloo' ? 'rloo' : 'grpo';
  try {
    return await inLockedFolder<OnlineStageSummary>(recipe, stage, o, async (out, resume) => {
      const { model: policy, tokenizer, source } = loadPolicy(startSpec(recipe, o, resume), { tokenizer: recipe.tokenizer, seed: recipe.seed });
      const parent = parentOf(resume, source);
      const refSpec = o.reference ?? s.reference ?? (resume ? parent : o.model ?? recipe.model);
      let reference: LanguageModel | null = null;
      try {
        const maxPrompt = policy.config.max_position_embeddings - 1;
        const train = tokenizePrompts(prompts.train, tokenizer, maxPrompt);
        const evalP = tokenizePrompts(prompts.eval, tokenizer, maxPrompt);
        if (loss.beta !== 0) reference = referenceLoader(refSpec, recipe)();
        const task = grpoTask(policy, {
          loss, sampling: samplingOf(s, tokenizer, s.num_generations), reward: rewards, tokenizer, reference,
          loadReference: reference ? null : referenceLoader(refSpec, recipe), seed: recipe.seed,
        }, saver(stage, 'policy', () => policy.weights, policy.config, tokenizer, recipe, parent));
        const batches = new PromptBatches<GrpoPrepared>(train, s.batch_size / s.num_generations, { seed: recipe.seed, shuffle: s.shuffle }, loss.num_iterations, grpoPreparedJson.toJson, grpoPreparedJson.fromJson);
        return await runOnline(stage, task, batches, evalP, s, { out, parent, resume, o, reference: refSpec, rewards, trainPrompts: train.length });
      } finally {
        policy.dispose();
        reference?.dispose();
      }
    });
  } finally {
    if (!o.rewards) rewards.sources.forEach((r) => r.dispose?.());
  }
}

export async function trainOnlineDpo(recipe: OnlineDpoInputs, o: OnlineStageOptions = {}): Promise<OnlineStageSummary> {
  const s = recipe.online_dpo;
  let loss: DpoLossConfig;
  try {
    loss = resolveDpoConfig({ beta: s.beta, loss_type: s.loss_type, loss_weights: s.loss_weights, label_smoothing: s.label_smoothing, reference_free: s.reference_free, discopop_tau: s.discopop_tau });
  } catch (e) {
    throw new StageError(`online_dpo: ${(e as Error).message}`);
  }
  if (s.num_generations !== 2) throw new StageError(`online_dpo.num_generations is ${s.num_generations}; online DPO samples exactly 2 completions per prompt (set 2 or leave it out)`);
  checkOnline(s, 'online_dpo', 2);
  const prompts = await readPromptSets(recipe, s, 'online_dpo');
  await ensureBackend(recipe);
  const rewards = rewardSet(recipe, s, 'online_dpo', o);
  try {
    return await inLockedFolder<OnlineStageSummary>(recipe, 'online-dpo', o, async (out, resume) => {
      const { model: policy, tokenizer, source } = loadPolicy(startSpec(recipe, o, resume), { tokenizer: recipe.tokenizer, seed: recipe.seed });
      const parent = parentOf(resume, source);
      const refSpec = o.reference ?? s.reference ?? (resume ? parent : o.model ?? recipe.model);
      let reference: LanguageModel | null = null;
      try {
        const maxPrompt = policy.config.max_position_embeddings - 1;
        const train = tokenizePrompts(prompts.train, tokenizer, maxPrompt);
        const evalP = tokenizePrompts(prompts.eval, tokenizer, maxPrompt);
        if (!loss.reference_free) reference = referenceLoader(refSpec, recipe)();
        const task = onlineDpoTask(policy, { loss, sampling: samplingOf(s, tokenizer, 2), reward: rewards, tokenizer, reference, seed: recipe.seed },
          saver('online-dpo', 'policy', () => policy.weights, policy.config, tokenizer, recipe, parent));
        const batches = new PromptBatches<OnlineDpoPrepared>(train, s.batch_size / 2, { seed: recipe.seed, shuffle: s.shuffle }, 1, onlineDpoPreparedJson.toJson, onlineDpoPreparedJson.fromJson);
        return await runOnline('online-dpo', task, batches, evalP, s, { out, parent, resume, o, reference: loss.reference_free ? null : refSpec, rewards, trainPrompts: train.length });
      } finally {
        policy.dispose();
        reference?.dispose();
      }
    });
  } finally {
    if (!o.rewards) rewards.sources.forEach((r) => r.dispose?.());
  }
}
