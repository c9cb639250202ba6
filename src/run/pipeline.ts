/**
 * runPipeline: the whole recipe in one call — optional SFT (the reference policy), the reward model,
 * DPO, then the comparison report — each stage in checkpoints/<run>/<stage>/.
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
import { compareRewards, CompareResult } from '../compare/pipeline';
import { loadTrainEval } from '../data';
import { clearOutputFolder, INSIDE_LOCK, withOutputLock } from '../io/lock';
import type { Recipe } from '../recipes/schema';
import { latestCheckpoint } from '../train/loop';
import { StageError, StageSummary, SUMMARY_FILE, trainDpo, trainReward, trainSft } from '../train/stages';

export interface PipelineOptions {
  overwrite?: boolean;
  quiet?: boolean;
  cacheDir?: string | null;
}

export interface StageOutcome {
  stage: 'sft' | 'reward' | 'dpo' | 'compare';
  status: 'trained' | 'resumed' | 'skipped';
  out: string;
  summary?: StageSummary;
}

export interface PipelineResult {
  run: string;
  out: string;
  stages: StageOutcome[];
  comparison: CompareResult['summary'] | null;
  report: string | null;
  wall_seconds: number;
}

const INPUTS_FILE = 'inputs.json';

function fileFingerprint(dir: string): string {
  const f = path.join(dir, 'model.safetensors');
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
  const inputsFile = path.join(out, INPUTS_FILE);
  if (!fs.existsSync(out) || fs.readdirSync(out).every((n) => n === INSIDE_LOCK)) return { action: 'train', out };
  const prev = fs.existsSync(inputsFile) ? JSON.parse(fs.readFileSync(inputsFile, 'utf8')).key : null;
  if (prev === key) {
    if (fs.existsSync(path.join(out, 'final', 'rlhf.json')) && fs.existsSync(path.join(out, SUMMARY_FILE))) return { action: 'skip', out };
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
  fs.writeFileSync(path.join(out, INPUTS_FILE), JSON.stringify({ key, inputs: parts }, null, 2) + '\n');
}

export async function runPipeline(recipe: Recipe, o: PipelineOptions = {}): Promise<PipelineResult> {
  const root = path.resolve(recipe.out ?? path.join('checkpoints', recipe.name));
  return withOutputLock(root, () => runLocked(recipe, root, o));
}

async function runLocked(recipe: Recipe, root: string, o: PipelineOptions): Promise<PipelineResult> {
  const started = Date.now();
  const say = (l: string) => { if (!o.quiet) process.stderr.write(l + '\n'); };
  const stages: StageOutcome[] = [];

  const runStage = async (
    stage: 'sft' | 'reward' | 'dpo',
    startModel: string,
    train: (out: string, resume: boolean) => Promise<StageSummary>,
  ): Promise<StageSummary> => {
    const out = path.join(root, stage);
    return withOutputLock(out, () => stageIn(stage, out, startModel, train));
  };

  const stageIn = async (
    stage: 'sft' | 'reward' | 'dpo',
    out: string,
    startModel: string,
    train: (out: string, resume: boolean) => Promise<StageSummary>,
  ): Promise<StageSummary> => {
    const parts = { stage, section: recipe[stage], data: recipe.data, seed: recipe.seed, tokenizer: recipe.tokenizer ?? null, model: startModel, upstream: fileFingerprint(path.join(startModel, '')) };
    const key = inputsKey(parts);
    const d = decide(out, key, o, `stage ${stage}`);
    if (d.action === 'skip') {
      say(`== ${stage}: up to date (${out}); skipped`);
      const summary = JSON.parse(fs.readFileSync(path.join(out, SUMMARY_FILE), 'utf8')) as StageSummary;
      stages.push({ stage, status: 'skipped', out, summary });
      return summary;
    }
    say(`== ${stage}: ${d.action === 'resume' ? 'resuming' : 'training'} -> ${out}`);
    if (d.action === 'train' && fs.existsSync(out)) clearOutputFolder(out); // refused while a live run writes inside it
    markInputs(out, key, parts);
    const summary = await train(out, d.action === 'resume');
    if (summary.stopped_by === 'signal') {
      stages.push({ stage, status: d.action === 'resume' ? 'resumed' : 'trained', out, summary });
      throw new StageError(`stage ${stage} was interrupted; its checkpoint is in ${summary.model}. Run the same command again to resume`);
    }
    stages.push({ stage, status: d.action === 'resume' ? 'resumed' : 'trained', out, summary });
    return summary;
  };

  // The comparison summary needs both rewards; say so before any training rather than after it.
  if (recipe.compare.enabled) {
    const missing = [
      !recipe.reward.enabled && !recipe.compare.reward_model && 'a reward model (enable reward or set compare.reward_model)',
      !recipe.dpo.enabled && !recipe.compare.policy && 'a DPO policy (enable dpo or set compare.policy)',
    ].filter(Boolean);
    if (missing.length) throw new StageError(`compare is enabled but needs both rewards; missing ${missing.join(' and ')}; or set compare.enabled false`);
  }
  const common = (out: string, resume: boolean) => ({ out, resume, quiet: o.quiet, overwrite: false, cacheDir: o.cacheDir });
  let policyStart = recipe.model;
  if (recipe.sft.enabled) {
    const s = await runStage('sft', recipe.model, (out, resume) => trainSft(recipe, common(out, resume)));
    policyStart = s.model;
  }
  const reward = recipe.reward.enabled
    ? await runStage('reward', policyStart, (out, resume) => trainReward(recipe, { ...common(out, resume), model: policyStart }))
    : null;
  const reference = recipe.dpo.reference ?? policyStart;
  const dpo = recipe.dpo.enabled
    ? await runStage('dpo', policyStart, (out, resume) => trainDpo(recipe, { ...common(out, resume), model: policyStart, reference }))
    : null;

  let comparison: CompareResult | null = null;
  if (recipe.compare.enabled) {
    const c = recipe.compare;
    // Name the recipe field (not the --flag compareRewards would name) when a model set here is missing.
    for (const [field, spec] of [['compare.reward_model', c.reward_model], ['compare.policy', c.policy], ['compare.reference', c.reference]] as const) {
      if (spec !== undefined && !spec.startsWith('config:') && !fs.existsSync(spec)) {
        throw new StageError(`${field}: ${spec} does not exist; train that model first (the recipe's description says how) or fix the path`);
      }
    }
    const rm = c.reward_model ?? reward?.model;
    const policy = c.policy ?? dpo?.model;
    if (!rm && !policy) throw new StageError('compare is enabled but there is neither a reward model nor a DPO policy (enable a stage or set compare.reward_model / compare.policy)');
    // The same held-out pairs the trainers evaluated on (same seed, same split).
    const { eval: held } = await loadTrainEval(
      { data: recipe.data.train, evalData: recipe.data.eval, evalCount: recipe.data.eval_count, evalFraction: recipe.data.eval_fraction, seed: recipe.seed },
      { skipInvalid: recipe.data.skip_invalid, format: undefined },
    );
    if (held.length === 0) throw new StageError('compare needs held-out pairs: set data.eval, data.eval_count or data.eval_fraction');
    const out = path.join(root, 'compare');
    say(`== compare -> ${out}`);
    comparison = await withOutputLock(out, () => compareRewards({
      rewardModel: rm,
      policy,
      reference: c.reference ?? (policy ? reference : undefined),
      data: held,
      probes: c.probes,
      out,
      beta: c.beta ?? recipe.dpo.beta,
      seed: recipe.seed,
      bootstrap: c.bootstrap,
      topK: c.top_k,
      batchSize: c.batch_size,
      maxLength: c.max_length ?? recipe.dpo.max_length,
      maxPromptLength: c.max_prompt_length === undefined ? recipe.dpo.max_prompt_length : c.max_prompt_length,
      sharePrompt: c.share_prompt,
      tokenizer: recipe.tokenizer,
      title: recipe.description ? `${recipe.name}: ${recipe.description}` : recipe.name,
      // When every training stage was skipped, no backend is active yet: the recipe's (flag > recipe > RLHF_BACKEND).
      backend: recipe.backend,
      quiet: o.quiet,
    }));
    stages.push({ stage: 'compare', status: 'trained', out });
  }
  const result: PipelineResult = {
    run: recipe.name,
    out: root,
    stages,
    comparison: comparison?.summary ?? null,
    report: comparison?.paths.html ?? null,
    wall_seconds: (Date.now() - started) / 1000,
  };
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'run-summary.json'), JSON.stringify({ ...result, comparison: undefined, comparison_json: comparison?.paths.json ?? null }, null, 2) + '\n');
  return result;
}
