/**
 * runPipeline: the whole recipe in one call — optional SFT (the reference policy), the reward model,
 * DPO, an optional generative judge, then the comparison report — each stage in checkpoints/<run>/<stage>/.
 * Re-running is cheap: a stage whose final model exists for the same inputs is skipped; one that
 * stopped part-way with the same inputs resumes from its newest checkpoint; one whose inputs changed
 * is an error unless `overwrite` (nothing is replaced silently).
 * Inputs of a stage = its recipe section, the data section, the seed, the tokenizer and the exact
 * model it starts from (the fingerprint of the upstream stage's weights file).
 * The run folder's lock (io/lock.ts) is held for the whole pipeline, and each stage folder's lock from
 * before the stage's folder is looked at until the stage ends: two `rlhf run`s on one folder cannot mix,
 * and a stage command aimed at a stage folder while the pipeline works in it is refused.
 *
 * Does NOT: parse command lines (cli/run.ts plumbs arguments into this).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { compareRewards, CompareResult } from '../report/compare';
import { frontierSummary, runFrontierAudit } from '../report/frontier-audit';
import { loadTrainEval } from '../data';
import { FINAL_DIR, META_FILE, RUN_INPUTS_FILE, SUMMARY_FILE, WEIGHTS_FILE } from '../io/checkpoint';
import { clearOutputFolder, INSIDE_LOCK, withOutputLock } from '../io/lock';
import type { Recipe } from '../recipes/schema';
import { compareScoringOverrides } from '../recipes/scoring';
import { latestCheckpoint } from '../train/loop';
import { trainGrpo, trainOnlineDpo, type OnlineStageSummary } from '../train/online-stages';
import { StageError, StageSummary, trainDpo, trainJudge, trainReward, trainSft } from '../train/stages';

export interface PipelineOptions {
  overwrite?: boolean;
  quiet?: boolean;
  cacheDir?: string | null;
}

export interface StageOutcome {
  stage: 'sft' | 'reward' | 'dpo' | 'judge' | 'grpo' | 'online_dpo' | 'compare' | 'frontier';
  status: 'trained' | 'resumed' | 'skipped';
  out: string;
  summary?: StageSummary | OnlineStageSummary;
  /** The frontier stage's summary (frontier.json's headline and paths). */
  frontier?: Record<string, unknown>;
}

export interface PipelineResult {
  run: string;
  out: string;
  stages: StageOutcome[];
  comparison: CompareResult['summary'] | null;
  report: string | null;
  wall_seconds: number;
}

function fileFingerprint(dir: string): string {
  const f = path.join(dir, WEIGHTS_FILE);
  if (!fs.existsSync(f)) return dir;
  const st = fs.statSync(f);
  // Size + mtime is enough to notice a retrained upstream model without hashing megabytes each time.
  return `${st.size}:${st.mtimeMs}`;
}

function inputsKey(parts: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

type Decision = { action: 'skip' | 'resume' | 'train'; out: string };

/** Decides what to do with a stage folder given the key of its inputs. */
function decide(out: string, key: string, o: PipelineOptions, label: string): Decision {
  const inputsFile = path.join(out, RUN_INPUTS_FILE);
  if (!fs.existsSync(out) || fs.readdirSync(out).every((n) => n === INSIDE_LOCK)) return { action: 'train', out };
  const prev = fs.existsSync(inputsFile) ? JSON.parse(fs.readFileSync(inputsFile, 'utf8')).key : null;
  if (prev === key) {
    if (fs.existsSync(path.join(out, FINAL_DIR, META_FILE)) && fs.existsSync(path.join(out, SUMMARY_FILE))) return { action: 'skip', out };
    if (latestCheckpoint(out)) return { action: 'resume', out };
  }
  if (!o.overwrite) {
    throw new StageError(
      `${label}: ${out} holds a run with different inputs (recipe, data, seed or upstream model changed); ` +
        'pass --overwrite to retrain it, or choose another recipe name / --out',
    );
  }
  return { action: 'train', out };
}

function markInputs(out: string, key: string, parts: unknown): void {
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, RUN_INPUTS_FILE), JSON.stringify({ key, inputs: parts }, null, 2) + '\n');
}

export async function runPipeline(recipe: Recipe, o: PipelineOptions = {}): Promise<PipelineResult> {
  const root = path.resolve(recipe.out ?? path.join('checkpoints', recipe.name));
  return withOutputLock(root, () => runLocked(recipe, root, o));
}

/** What a run needs on hand while it goes through its stages. */
interface RunContext {
  recipe: Recipe;
  root: string;
  o: PipelineOptions;
  say: (line: string) => void;
  /** What happened to each stage so far, in order. */
  stages: StageOutcome[];
}

type TrainingStage = 'sft' | 'reward' | 'dpo' | 'judge' | 'grpo' | 'online_dpo';
/** What the pipeline reads of any stage's summary. */
type AnySummary = StageSummary | OnlineStageSummary;

async function runLocked(recipe: Recipe, root: string, o: PipelineOptions): Promise<PipelineResult> {
  const started = Date.now();
  const run: RunContext = { recipe, root, o, stages: [], say: (l) => { if (!o.quiet) process.stderr.write(l + '\n'); } };
  checkCompareInputs(recipe);
  const common = (out: string, resume: boolean) => ({ out, resume, quiet: o.quiet, overwrite: false, cacheDir: o.cacheDir });
  let policyStart = recipe.model;
  if (recipe.sft.enabled) {
    const s = await runStage(run, 'sft', recipe.model, (out, resume) => trainSft(recipe, common(out, resume)));
    policyStart = s.model;
  }
  const reward = recipe.reward.enabled
    ? await runStage(run, 'reward', policyStart, (out, resume) => trainReward(recipe, { ...common(out, resume), model: policyStart }))
    : null;
  const reference = recipe.dpo.reference ?? policyStart;
  const dpo = recipe.dpo.enabled
    ? await runStage(run, 'dpo', policyStart, (out, resume) => trainDpo(recipe, { ...common(out, resume), model: policyStart, reference }))
    : null;
  // The online stages start from the SFT policy too, against this run's reward model unless their section names rewards.
  const online = (out: string, resume: boolean) => ({ ...common(out, resume), model: policyStart });
  const grpo = recipe.grpo.enabled
    ? await runStage(run, 'grpo', policyStart, (out, resume) => trainGrpo(withRunReward(recipe, 'grpo', reward?.model), { ...online(out, resume), reference: recipe.grpo.reference ?? policyStart }), reward?.model)
    : null;
  const onlineDpo = recipe.online_dpo.enabled
    ? await runStage(run, 'online_dpo', policyStart, (out, resume) => trainOnlineDpo(withRunReward(recipe, 'online_dpo', reward?.model), { ...online(out, resume), reference: recipe.online_dpo.reference ?? policyStart }), reward?.model)
    : null;
  const policy = dpo?.model ?? grpo?.model ?? onlineDpo?.model;
  // The judge starts where the reward model does (the SFT output, else the recipe's model), on the same pairs.
  const judge = recipe.judge.enabled
    ? await runStage(run, 'judge', policyStart, (out, resume) => trainJudge(recipe, { ...common(out, resume), model: policyStart }))
    : null;
  const comparison = recipe.compare.enabled ? await runCompare(run, { reward: reward?.model, policy, reference, judge: judge?.model }) : null;
  if (recipe.frontier.enabled) {
    const rlRuns = [grpo && path.join(root, 'grpo'), onlineDpo && path.join(root, 'online_dpo')].filter((x): x is string => !!x);
    await runFrontierStage(run, { start: policyStart, reward: reward?.model, policy: dpo?.model, rlRuns });
  }
  const result: PipelineResult = {
    run: recipe.name,
    out: root,
    stages: run.stages,
    comparison: comparison?.summary ?? null,
    report: comparison?.paths.html ?? null,
    wall_seconds: (Date.now() - started) / 1000,
  };
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'run-summary.json'), JSON.stringify({ ...result, comparison: undefined, comparison_json: comparison?.paths.json ?? null }, null, 2) + '\n');
  return result;
}

/** An online stage's recipe with this run's reward model as its reward when its section names none. */
function withRunReward(recipe: Recipe, section: 'grpo' | 'online_dpo', rewardModel: string | undefined): Recipe {
  if (recipe[section].reward.length > 0) return recipe;
  if (!rewardModel) throw new StageError(`${section}.reward is empty and the reward stage is off; enable reward, or name a reward (${section}.reward: ["path/to/rm"])`);
  return { ...recipe, [section]: { ...recipe[section], reward: [rewardModel] } };
}

/** The comparison summary needs both rewards; say so before any training rather than after it. */
function checkCompareInputs(recipe: Recipe): void {
  if (!recipe.compare.enabled) return;
  const missing = [
    !recipe.reward.enabled && !recipe.compare.reward_model && 'a reward model (enable reward or set compare.reward_model)',
    !recipe.dpo.enabled && !recipe.grpo.enabled && !recipe.online_dpo.enabled && !recipe.compare.policy && 'a policy (enable dpo, grpo or online_dpo, or set compare.policy)',
  ].filter(Boolean);
  if (missing.length) throw new StageError(`compare is enabled but needs both rewards; missing ${missing.join(' and ')}; or set compare.enabled false`);
}

/** One training stage in its folder, under the folder's lock: skipped, resumed or trained from its inputs' key. */
/** `rewardModel`: the reward model an online stage optimises against, part of its inputs (a retrained one reruns it). */
function runStage<S extends AnySummary>(run: RunContext, stage: TrainingStage, startModel: string, train: (out: string, resume: boolean) => Promise<S>, rewardModel?: string): Promise<S> {
  const out = path.join(run.root, stage);
  return withOutputLock(out, () => stageIn(run, stage, out, startModel, train, rewardModel));
}

async function stageIn<S extends AnySummary>(run: RunContext, stage: TrainingStage, out: string, startModel: string, train: (out: string, resume: boolean) => Promise<S>, rewardModel?: string): Promise<S> {
  const { recipe, say } = run;
  const parts = { stage, section: recipe[stage], data: recipe.data, seed: recipe.seed, tokenizer: recipe.tokenizer ?? null, model: startModel, upstream: fileFingerprint(path.join(startModel, '')),
    ...(rewardModel ? { reward_model: rewardModel, reward_upstream: fileFingerprint(rewardModel) } : {}) };
  const key = inputsKey(parts);
  const d = decide(out, key, run.o, `stage ${stage}`);
  if (d.action === 'skip') {
    say(`== ${stage}: up to date (${out}); skipped`);
    const summary = JSON.parse(fs.readFileSync(path.join(out, SUMMARY_FILE), 'utf8')) as S;
    run.stages.push({ stage, status: 'skipped', out, summary });
    return summary;
  }
  say(`== ${stage}: ${d.action === 'resume' ? 'resuming' : 'training'} -> ${out}`);
  if (d.action === 'train' && fs.existsSync(out)) clearOutputFolder(out); // refused while a live run writes inside it
  markInputs(out, key, parts);
  const summary = await train(out, d.action === 'resume');
  run.stages.push({ stage, status: d.action === 'resume' ? 'resumed' : 'trained', out, summary });
  if (summary.stopped_by === 'signal') {
    throw new StageError(`stage ${stage} was interrupted; its checkpoint is in ${summary.model}. Run the same command again to resume`);
  }
  return summary;
}

/**
 * The comparison of this run's models (or those the compare section names) on the held-out pairs the trainers
 * evaluated on, in <run>/compare. `reference` is this run's reference for this run's policy.
 */
async function runCompare(run: RunContext, trained: { reward?: string; policy?: string; reference: string; judge?: string }): Promise<CompareResult> {
  const { recipe, say } = run;
  const c = recipe.compare;
  // Name the recipe field (not the --flag compareRewards would name) when a model set here is missing.
  for (const [field, spec] of [['compare.reward_model', c.reward_model], ['compare.policy', c.policy], ['compare.reference', c.reference], ['compare.judge', c.judge]] as const) {
    if (spec !== undefined && !spec.startsWith('config:') && !fs.existsSync(spec)) {
      throw new StageError(`${field}: ${spec} does not exist; train that model first (the recipe's description says how) or fix the path`);
    }
  }
  const rm = c.reward_model ?? trained.reward;
  const policy = c.policy ?? trained.policy;
  if (!rm && !policy) throw new StageError('compare is enabled but there is neither a reward model nor a DPO policy (enable a stage or set compare.reward_model / compare.policy)');
  // The same held-out pairs the trainers evaluated on (same seed, same split).
  const { eval: held } = await loadTrainEval(
    { data: recipe.data.train, evalData: recipe.data.eval, evalCount: recipe.data.eval_count, evalFraction: recipe.data.eval_fraction, seed: recipe.seed },
    { skipInvalid: recipe.data.skip_invalid, format: recipe.data.format },
  );
  if (held.length === 0) throw new StageError('compare needs held-out pairs: set data.eval, data.eval_count or data.eval_fraction');
  const out = path.join(run.root, 'compare');
  say(`== compare -> ${out}`);
  const comparison = await withOutputLock(out, () => compareRewards({
    rewardModel: rm,
    policy,
    // This run's reference for this run's policy; a policy named in compare.policy brings its own (its rlhf.json).
    reference: c.reference ?? (c.policy === undefined && policy ? trained.reference : undefined),
    data: held,
    probes: c.probes,
    judge: c.judge ?? trained.judge,
    judgeTemplate: c.judge_template,
    judgeLabels: c.judge_labels,
    out,
    // β and the lengths come from each model's rlhf.json (the stages record them); compare.* fields override.
    overrides: compareScoringOverrides(c),
    seed: recipe.seed,
    bootstrap: c.bootstrap,
    topK: c.top_k,
    batchSize: c.batch_size,
    sharePrompt: c.share_prompt,
    tokenizer: recipe.tokenizer,
    title: recipe.description ? `${recipe.name}: ${recipe.description}` : recipe.name,
    // When every training stage was skipped, no backend is active yet: the recipe's (flag > recipe > RLHF_BACKEND).
    backend: recipe.backend,
    quiet: run.o.quiet,
  }));
  run.stages.push({ stage: 'compare', status: 'trained', out });
  return comparison;
}

/**
 * The reward–KL frontier in <run>/frontier: best-of-n from the run's start policy (the SFT output) for each proxy
 * (default: this run's reward model and its DPO policy's implicit reward), the DPO policy as a point and the
 * grpo / online_dpo stages' checkpoints as RL points, against frontier.gold on frontier.prompts (default: data.eval).
 */
async function runFrontierStage(run: RunContext, trained: { start: string; reward?: string; policy?: string; rlRuns: string[] }): Promise<void> {
  const { recipe, say } = run;
  const f = recipe.frontier;
  const proxies = f.proxies ?? [trained.reward, trained.policy && `implicit:${trained.policy}`].filter((x): x is string => !!x);
  if (proxies.length === 0) throw new StageError('frontier is enabled but has no proxy: set frontier.proxies, or enable the reward or dpo stage');
  const prompts = f.prompts ?? recipe.data.eval;
  if (!prompts) throw new StageError('frontier needs prompts: set frontier.prompts or data.eval');
  const out = path.join(run.root, 'frontier');
  say(`== frontier -> ${out}`);
  const res = await withOutputLock(out, () => runFrontierAudit({
    policy: trained.start, proxies, gold: f.gold, prompts, out, nMax: f.n_max, maxNewTokens: f.max_new_tokens, maxPrompts: f.max_prompts,
    samplesPerPolicy: f.samples_per_policy, policyPoints: f.policy_points ?? (trained.policy ? [trained.policy] : []), rlRuns: f.rl_runs ?? trained.rlRuns,
    seed: recipe.seed, tokenizer: recipe.tokenizer, backend: recipe.backend, log: say,
  }));
  say(`frontier: ${res.result.sentence}`);
  run.stages.push({ stage: 'frontier', status: 'trained', out, frontier: frontierSummary(res) });
}
