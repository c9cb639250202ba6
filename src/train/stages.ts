/**
 * The training stages as library calls: trainSft, trainReward, trainDpo, trainJudge (a generative judge by SFT). Each loads its model,
 * tokenizer and data from a validated recipe, runs the shared loop and leaves a run folder:
 *   <out>/final/            the trained model (HF layout + rlhf.json), what later stages load
 *   <out>/checkpoint-<N>/   resumable step checkpoints (weights, optimizer moments, data order)
 *   <out>/metrics.jsonl     one row per step (TRL metric names), eval rows with eval_ prefix (report_to jsonl, the default)
 *   <out>/runs/<date>_<host>/  TensorBoard event files with the same rows (report_to tensorboard; trackers.ts)
 *   <out>/summary.json      final train/eval metrics, data counts, wall time, tokens/s, backend
 * A run folder is never overwritten unless asked (overwrite), and `resume` continues the newest
 * checkpoint exactly. A stage holds the folder's lock (io/lock.ts) from before it looks at the folder until
 * it returns or throws: a second run on the same folder fails at once, naming the first.
 *
 * Does NOT: parse command lines (cli/) or compare rewards (compare/).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { currentBackend, initBackend } from '../backend';
import { fusedOpsUsed, resetFusedOpsUsed, type FusedOp } from '../backend/ops';
import {
  collatePairs,
  collateSequences,
  EpochIterator,
  EpochState,
  loadTrainEval,
  PairExample,
  pairLength,
  paddingFraction,
  preparePair,
  prepareSequence,
  newCollateStats,
  SequenceExample,
  CollateStats,
  ReadStats,
  packPairs,
  packSequences,
  packingStats,
  pairPackedShape,
  rowPlanOf,
  sequencePackedShape,
  type AnyPairBatch,
  type RowPlan,
  type PackOptions,
  type AnySequenceBatch,
  type PackingStats,
} from '../data';
import type { PreferenceRecord } from '../data/types';
import {
  saveCheckpoint, loadCheckpointMeta, rewardCheckpointWeights, loadTrainerState, CheckpointKind, FINAL_DIR, OPTIMIZER_FILE, RUN_INPUTS_FILE, SUMMARY_FILE, TRAINER_STATE_FILE,
} from '../io/checkpoint';
import { clearOutputFolder, INSIDE_LOCK, whyNotWritable, withOutputLock } from '../io/lock';
import { toTfTensors } from '../io/safetensors';
import { resolveDpoConfig, type DpoLossConfig } from '../losses';
import { loadPolicy, loadRewardModel } from '../io/load-model';
import { packInOneRow, type LanguageModel } from '../model/language-model';
import { suggestSibling } from '../util/suggest';
import type { Tokenizer } from '../tokenizer/types';
import { dpoTask } from './dpo';
import { BatchSource, latestCheckpoint, LoopResult, runTrainingLoop, TrainerState, TRAINER_STATE_FORMAT, CheckpointExtras, TrainTask, writeRunFile } from './loop';
import { fingerprintWeights, ReferenceCache } from './reference';
import { referenceBatchSize, type DpoInputs, type DpoSettings, type JudgeInputs, type RewardInputs, type RewardSettings, type SftInputs, type StageInputs, type TrainingSettings } from './settings';
import {
  DEFAULT_JUDGE_TEMPLATE, Judge, labelTokens, modelLogOdds, parseJudgeTemplate, plainText, positionBias, readJudgeTemplate, type JudgeTemplate, type LabelTokens,
} from '../rewards/judge';
import { judgeExamples } from './judge';
import { rewardTask } from './reward';
import { normalizeReportTo } from './trackers';
import { byteProgress, Progress } from '../util/progress';
import { sftTask } from './sft';

export class StageError extends Error {}

export interface StageOptions {
  /** Output folder of this stage (default: <recipe out or checkpoints/<name>>/<stage>). */
  out?: string;
  overwrite?: boolean;
  /** Continue from the newest checkpoint-N in the output folder (or this folder). */
  resume?: boolean | string;
  quiet?: boolean;
  /** Where reference log-probs are cached (default: ~/.cache/rlhf-tfjs/ref-logps; null disables). */
  cacheDir?: string | null;
  /** Test hook: behave as if SIGINT arrived after this step. */
  stopAfterStep?: number;
  /** Override the model to start from (e.g. the SFT output inside `rlhf run`). */
  model?: string;
  /** DPO only: the reference model (default: recipe dpo.reference, else the starting model). */
  reference?: string;
}

export interface StageSummary {
  stage: 'sft' | 'reward' | 'dpo' | 'judge';
  out: string;
  model: string;
  parent: string;
  stopped_by: LoopResult['stoppedBy'];
  steps: number;
  epochs: number;
  train: Record<string, number>;
  eval: Record<string, number> | null;
  data: {
    train_records: number;
    eval_records: number;
    train_examples: number;
    eval_examples: number;
    read: { invalid: number; invalid_examples: string[]; problems: ReadStats['problems']; subsets: Record<string, number> };
    collate: { train: CollateStats; eval: CollateStats };
    /** Padding share of the padded layout (every batch padded to its longest sequence), over one epoch. */
    padding_fraction: number;
    /**
     * How the batches were laid out (data/packing.ts) and, over one epoch, what that saved against the padded
     * layout: cells (row × length) computed, and the share of the padded layout's padding cells left out. rows: how
     * items went into rows ('one-row' where the fused segment kernel runs: a whole batch end to end, no padding).
     */
    layout: StageLayout & PackingStats;
  };
  /** The whole stage: loading, the reference pass, training, evaluation and checkpoint writes (`phases`). */
  wall_seconds: number;
  phases: { load_seconds: number; reference_seconds: number; train_seconds: number; eval_seconds: number; save_seconds: number };
  tokens: number;
  /** Training tokens (every sequence's tokens, as TRL's num_tokens counts them) / phases.train_seconds. */
  tokens_per_second: number;
  /**
   * The backend that ran the steps. fused_kernels: whether native/rlhf_ops.cc's kernels computed any of it (not only
   * TF.js ops); fused_ops: which of them ran (backend/ops.ts records each call: a GPT-2 run has no rms_norm or
   * silu_mul, its family having neither); threads_note: why wasm runs fewer threads than asked, when it does.
   */
  backend: { name: string; version: string; threads: number; fused_kernels: boolean; fused_ops: FusedOp[]; threads_note?: string };
  reference?: { source: string; cached_pairs: number; computed_pairs: number; cache_file: string | null };
  /**
   * A judge stage: the trained judge asked about every held-out pair in both orders (rewards/judge.ts): accuracy of its
   * order-averaged verdict (ties wrong), its position-bias rate, the labels and how they follow the text.
   */
  judge?: { eval_accuracy: number | null; eval_pairs: number; eval_position_bias: number | null; labels: [string, string]; label_ids: [number, number]; label_suffix: string };
}

function defaultStageOut(recipe: StageInputs, stage: string): string {
  return path.join(recipe.out ?? path.resolve('checkpoints', recipe.name), stage);
}

/** Fails early (before any work) when the folder holds an earlier run and neither overwrite nor resume is set. */
function prepareOutDir(out: string, o: StageOptions): void {
  // A folder "holds a run" when it has training outputs; an inputs.json left by `rlhf run` and our own lock
  // (there when the parent folder cannot be written) do not count.
  const holdsRun = fs.existsSync(out) && fs.readdirSync(out).some((n) => n !== RUN_INPUTS_FILE && n !== INSIDE_LOCK);
  if (holdsRun && !o.resume) {
    if (!o.overwrite) {
      throw new StageError(`output folder ${out} already holds a run; pass --overwrite to replace it, --resume to continue it, or choose another --out`);
    }
    clearOutputFolder(out); // refused while a live run writes inside it
  }
  try {
    fs.mkdirSync(out, { recursive: true });
    fs.accessSync(out, fs.constants.W_OK);
  } catch (e) {
    throw new StageError(`output folder ${out} cannot be written (${whyNotWritable(out, e as NodeJS.ErrnoException)}); choose another --out`);
  }
}

/**
 * Runs one stage's `body` on its output folder: takes the folder's lock, then the backend, then checks the
 * folder (overwrite / resume); the lock is released however `body` ends.
 */
export async function inLockedFolder<S = StageSummary>(
  recipe: StageInputs,
  stage: string,
  o: StageOptions,
  body: (out: string, resume: Resume, clock: StageClock) => Promise<S>,
): Promise<S> {
  const out = path.resolve(o.out ?? defaultStageOut(recipe, stage));
  return withOutputLock(out, async () => {
    const clock: StageClock = { started: Date.now(), referenceSeconds: 0 };
    await ensureBackend(recipe);
    resetFusedOpsUsed(); // summary.json lists the fused kernels this stage ran
    prepareOutDir(out, o);
    return body(out, resumeInfo(out, o), clock);
  });
}

/** When a stage started (after taking its folder's lock) and how long its reference pass took. */
interface StageClock {
  started: number;
  referenceSeconds: number;
}

/** A stage's batch layout: its settings (share_prompt exists for pair stages only) and how rows are planned. */
interface StageLayout {
  share_prompt: boolean;
  padding_free: boolean;
  rows: RowPlan;
}

/**
 * The layout a stage's settings ask for, for a model that does or does not take a whole batch in one row
 * (LanguageModel.packsInOneRow: the fused segment kernel runs for it).
 */
function layoutOf(stage: TrainingSettings, oneRow: boolean): StageLayout {
  const share = 'share_prompt' in stage ? (stage as RewardSettings | DpoSettings).share_prompt : false;
  return { share_prompt: share, padding_free: stage.padding_free, rows: rowPlanOf({ paddingFree: stage.padding_free, oneRow }) };
}

/** The packing options a layout stands for (data/packing.ts). */
function packOptions(l: StageLayout): PackOptions {
  return { sharePrompt: l.share_prompt, paddingFree: l.padding_free, oneRow: l.rows === 'one-row' };
}

/** Pair batches as the layout asks: packed (shared prompts and/or padding-free rows) or padded. */
function pairCollate(l: StageLayout, padId: number): (ex: PairExample[]) => AnyPairBatch {
  if (!l.share_prompt && !l.padding_free) return (ex) => collatePairs(ex, padId);
  return (ex) => packPairs(ex, padId, packOptions(l));
}

/** Sequence batches: packed several to a row with padding_free (all in one where the layout says), else padded. */
function sequenceCollate(l: StageLayout, padId: number): (ex: SequenceExample[]) => AnySequenceBatch {
  return l.padding_free ? (ex) => packSequences(ex, padId, packOptions(l)) : (ex) => collateSequences(ex, padId);
}

export async function ensureBackend(recipe: StageInputs): Promise<void> {
  const cur = currentBackend();
  if (!cur || (recipe.backend !== 'auto' && cur.name !== recipe.backend)) await initBackend(recipe.backend);
}

interface Prepared<E> {
  train: E[];
  eval: E[];
  trainRecords: number;
  evalRecords: number;
  readStats: ReadStats;
  collate: { train: CollateStats; eval: CollateStats };
}

async function loadData<E>(
  recipe: StageInputs,
  stage: TrainingSettings,
  prepare: (r: PreferenceRecord, stats: CollateStats) => E | null,
  quiet?: boolean,
): Promise<Prepared<E>> {
  const d = recipe.data;
  for (const [field, spec] of [['data.train', d.train], ['data.eval', d.eval]] as const) {
    if (spec === undefined) continue;
    const file = fs.existsSync(spec) ? spec : spec.replace(/:[^:/\\]+$/, ''); // folder:split
    if (!fs.existsSync(file)) throw new StageError(`${field}: ${spec} does not exist${suggestSibling(file)}`);
  }
  const reading = byteProgress('reading data', { enabled: !quiet }); // big files only, terminal only
  const read = { format: d.format, skipInvalid: d.skip_invalid, limit: d.limit, onProgress: reading.onProgress };
  let loaded: Awaited<ReturnType<typeof loadTrainEval>>;
  try {
    loaded = await loadTrainEval({ data: d.train, evalData: d.eval, evalCount: d.eval_count, evalFraction: d.eval_fraction, seed: recipe.seed }, read);
  } finally {
    reading.finish();
  }
  const { train, eval: ev, trainStats } = loaded;
  const cTrain = newCollateStats();
  const cEval = newCollateStats();
  const trainEx = train.map((r) => prepare(r, cTrain)).filter((e): e is E => e !== null);
  const evalEx = ev.map((r) => prepare(r, cEval)).filter((e): e is E => e !== null);
  if (trainEx.length === 0) {
    throw new StageError(`${d.train}: no training examples left (${train.length} records read, ${cTrain.dropped} dropped by truncation_mode "${stage.truncation_mode}" at max_length ${stage.max_length})`);
  }
  return { train: trainEx, eval: evalEx, trainRecords: train.length, evalRecords: ev.length, readStats: trainStats, collate: { train: cTrain, eval: cEval } };
}

function truncation(stage: TrainingSettings) {
  return { maxLength: stage.max_length, maxPromptLength: stage.max_prompt_length ?? undefined, truncation: stage.truncation_mode };
}

/** Seeded, resumable batches: indices from EpochIterator, collated on demand. */
class CollatedSource<E, B> implements BatchSource<B> {
  private it: EpochIterator;
  constructor(
    private readonly examples: E[],
    private readonly collate: (ex: E[]) => B,
    private readonly opts: ConstructorParameters<typeof EpochIterator>[1],
  ) {
    this.it = new EpochIterator(examples.length, opts);
  }
  get batchesPerEpoch(): number {
    return this.it.batchesPerEpoch;
  }
  next(): B {
    return this.collate(this.it.next().indices.map((i) => this.examples[i]));
  }
  getState(): EpochState {
    return this.it.state;
  }
  setState(s: unknown): void {
    this.it = new EpochIterator(this.examples.length, this.opts, s as EpochState);
  }
  /** Padding share of one epoch's batches. */
  padding(lengths: number[]): number {
    return paddingFraction(this.it.batchesOf(0), lengths);
  }
  /** One epoch's batches as examples (for the layout statistics). */
  *epochExamples(): Iterable<E[]> {
    for (const b of this.it.batchesOf(0)) yield b.map((i) => this.examples[i]);
  }
}

/** The summary's layout statistics over one epoch: pairs in the stage's layout, or (SFT) sequences. */
function layoutStats<E>(l: StageLayout, src: CollatedSource<E, unknown>, kind: 'pairs' | 'sequences'): StageSummary['data']['layout'] {
  const shapes = [...src.epochExamples()].map((ex) => {
    if (kind === 'pairs') return pairPackedShape(ex as PairExample[], packOptions(l));
    // A judge example is its pair's two sequences (both orders): they are batched as sequences.
    const seqs = (ex as Array<SequenceExample | SequenceExample[]>).flat();
    const packed = sequencePackedShape(seqs, packOptions(l));
    return l.padding_free ? packed : { ...packed, rows: seqs.length, seqLen: Math.max(1, ...seqs.map((e) => e.seq.ids.length)) };
  });
  return { ...l, ...packingStats(shapes) };
}

function evalBatches<E, B>(examples: E[], size: number, collate: (ex: E[]) => B): (() => Iterable<B>) | null {
  if (examples.length === 0) return null;
  return function* () {
    for (let i = 0; i < examples.length; i += size) yield collate(examples.slice(i, i + size));
  };
}

function totalSteps(stage: TrainingSettings, batchesPerEpoch: number): number {
  if (stage.max_steps) return stage.max_steps;
  return Math.max(1, Math.ceil((stage.epochs * batchesPerEpoch) / stage.gradient_accumulation_steps));
}

/** The checkpoint a resumed stage continues from (its trainer state validated), or undefined for a fresh start. */
export type Resume = { dir: string; state: TrainerState; optimizerTensors: Map<string, tf.Tensor> } | undefined;

function resumeInfo(out: string, o: StageOptions): Resume {
  if (!o.resume) return undefined;
  const dir = typeof o.resume === 'string' ? o.resume : latestCheckpoint(out);
  if (!dir) throw new StageError(`--resume: no checkpoint-N folder with trainer state in ${out}; nothing to resume (start without --resume)`);
  const ts = loadTrainerState(dir);
  if (!ts) throw new StageError(`--resume ${dir}: it has no ${TRAINER_STATE_FILE}; it is not a resumable step checkpoint`);
  const state = ts.state as TrainerState;
  if (state && typeof state === 'object' && 'log_history' in state && 'global_step' in state) {
    // transformers' Trainer (TRL) writes a trainer_state.json of its own into checkpoint-N: its weights load
    // anywhere (--model), its optimizer state (optimizer.pt) is PyTorch's and cannot continue here.
    throw new StageError(`--resume ${dir}: its ${TRAINER_STATE_FILE} was written by transformers' Trainer (TRL), not by rlhf-tfjs; it cannot resume here. Start a new run from its weights: --model ${dir} (and another --out)`);
  }
  if (state?.format !== TRAINER_STATE_FORMAT) throw new StageError(`--resume ${dir}: ${TRAINER_STATE_FILE} format ${JSON.stringify(state?.format)} is not ${TRAINER_STATE_FORMAT}`);
  return { dir, state, optimizerTensors: toTfTensors(ts.tensors, path.join(dir, OPTIMIZER_FILE)) };
}

export function saver(stage: string, kind: CheckpointKind, weights: () => Map<string, tf.Tensor>, config: LanguageModel['config'], tokenizer: Tokenizer, recipe: StageInputs, parent: string) {
  return async (dir: string, extra: CheckpointExtras): Promise<void> => {
    const isFinal = path.basename(dir) === FINAL_DIR;
    saveCheckpoint(dir, {
      kind,
      config,
      weights: weights(),
      tokenizer,
      step: extra.trainerState.step,
      recipe,
      metrics: extra.metrics,
      parent,
      stage,
      overwrite: true,
      trainerState: isFinal ? undefined : { state: extra.trainerState, tensors: extra.optimizerTensors },
      // The model card (README.md) goes with the model a user takes away, not with each resumable step.
      card: isFinal ? { stage } : undefined,
    });
  };
}

/** Seconds rounded to the millisecond (Date.now()'s resolution), e.g. 1.4560000000000006 -> 1.456. */
const ms = (seconds: number) => Math.round(seconds * 1000) / 1000;

async function finishStage(
  stage: StageSummary['stage'],
  out: string,
  parent: string,
  res: LoopResult,
  data: Prepared<unknown>,
  padding: number,
  layout: StageSummary['data']['layout'],
  clock: StageClock,
  batchesPerEpoch: number,
  gradAccum: number,
  extra: Partial<StageSummary> = {},
): Promise<StageSummary> {
  const b = currentBackend();
  const wall = (Date.now() - clock.started) / 1000;
  const summary: StageSummary = {
    stage,
    out,
    model: path.join(out, FINAL_DIR),
    parent,
    stopped_by: res.stoppedBy,
    steps: res.steps,
    epochs: (res.steps * gradAccum) / Math.max(1, batchesPerEpoch),
    train: res.train,
    eval: res.eval,
    data: {
      train_records: data.trainRecords,
      eval_records: data.evalRecords,
      train_examples: data.train.length,
      eval_examples: data.eval.length,
      read: { invalid: data.readStats.invalid, invalid_examples: data.readStats.invalidExamples, problems: data.readStats.problems, subsets: data.readStats.subsets },
      collate: data.collate,
      padding_fraction: padding,
      layout,
    },
    wall_seconds: ms(wall),
    phases: {
      // Loading: everything before the reference pass and the loop (backend, model, data, collation), and the summary.
      load_seconds: ms(Math.max(0, wall - res.seconds - clock.referenceSeconds)),
      reference_seconds: ms(clock.referenceSeconds),
      train_seconds: ms(res.seconds - res.evalSeconds - res.saveSeconds),
      eval_seconds: ms(res.evalSeconds),
      save_seconds: ms(res.saveSeconds),
    },
    tokens: res.tokens,
    tokens_per_second: res.tokensPerSecond,
    backend: {
      name: b?.name ?? tf.getBackend(), version: b?.version ?? tf.version.tfjs, threads: b?.threads ?? 1,
      fused_kernels: fusedOpsUsed().length > 0, fused_ops: fusedOpsUsed(), ...(b?.threadsNote ? { threads_note: b.threadsNote } : {}),
    },
    ...extra,
  };
  if (res.stoppedBy === 'signal') summary.model = res.lastCheckpoint ?? summary.model;
  const summaryFile = path.join(out, SUMMARY_FILE);
  writeRunFile(summaryFile, () => fs.writeFileSync(summaryFile, JSON.stringify(summary, null, 2) + '\n'));
  return summary;
}

export function loopOptions(stage: TrainingSettings, maxSteps: number, out: string, o: StageOptions, resume: Resume) {
  return {
    maxSteps,
    gradientAccumulationSteps: stage.gradient_accumulation_steps,
    lr: stage.learning_rate,
    schedule: stage.lr_scheduler_type,
    warmupSteps: stage.warmup_ratio !== undefined ? Math.ceil(stage.warmup_ratio * maxSteps) : stage.warmup_steps,
    adamw: { beta1: stage.adam_beta1, beta2: stage.adam_beta2, epsilon: stage.adam_epsilon, weightDecay: stage.weight_decay },
    maxGradNorm: stage.max_grad_norm,
    logEvery: stage.logging_steps,
    evalEvery: stage.eval_steps,
    saveEvery: stage.save_steps,
    keepLast: stage.save_total_limit,
    outDir: out,
    resumeFrom: resume,
    quiet: o.quiet,
    reportTo: normalizeReportTo(stage.report_to),
    stopAfterStep: o.stopAfterStep,
  };
}

/** The model to start from: the resumed checkpoint's weights, else the recipe's (or the override). */
export function startSpec(recipe: StageInputs, o: StageOptions, resume: Resume): string {
  return resume ? resume.dir : o.model ?? recipe.model;
}

/** The checkpoint the stage trains from, recorded as its parent: on resume, the one the interrupted run recorded. */
export function parentOf(resume: Resume, source: string): string {
  return resume ? (loadCheckpointMeta(resume.dir).parent ?? source) : source;
}

/** A stage's examples, batched: what every stage prepares once its model and tokenizer are loaded. */
interface StageData<E, B> {
  data: Prepared<E>;
  batches: CollatedSource<E, B>;
  collate: (ex: E[]) => B;
  /** Token length of each training example (for bucketing and the padding share). */
  lengths: number[];
}

/** Reads and tokenises the data, then batches the training examples (seeded, optionally length-bucketed). */
async function stageData<E, B>(
  recipe: StageInputs,
  s: TrainingSettings,
  prepare: (r: PreferenceRecord, stats: CollateStats) => E | null,
  collate: (ex: E[]) => B,
  lengthOf: (e: E) => number,
  quiet?: boolean,
): Promise<StageData<E, B>> {
  const data = await loadData<E>(recipe, s, prepare, quiet);
  const lengths = data.train.map(lengthOf);
  const batches = new CollatedSource(data.train, collate, { batchSize: s.batch_size, seed: recipe.seed, shuffle: s.shuffle, bucket: s.length_bucketing, lengths });
  return { data, batches, collate, lengths };
}

/** What every stage does last: run the loop for the stage's steps (eval on the held-out examples), then write summary.json. */
async function trainStage<E, B>(
  stage: StageSummary['stage'],
  task: TrainTask<B>,
  d: StageData<E, B>,
  s: TrainingSettings,
  run: { out: string; parent: string; resume: Resume; o: StageOptions; clock: StageClock; layout: StageLayout },
  extra: () => Partial<StageSummary> = () => ({}),
): Promise<StageSummary> {
  const steps = totalSteps(s, d.batches.batchesPerEpoch);
  const res = await runTrainingLoop(task, d.batches, evalBatches(d.data.eval, s.batch_size, d.collate), loopOptions(s, steps, run.out, run.o, run.resume));
  const layout = layoutStats(run.layout, d.batches, stage === 'sft' || stage === 'judge' ? 'sequences' : 'pairs');
  return finishStage(stage, run.out, run.parent, res, d.data, d.batches.padding(d.lengths), layout, run.clock, d.batches.batchesPerEpoch, s.gradient_accumulation_steps, extra());
}

export function trainSft(recipe: SftInputs, o: StageOptions = {}): Promise<StageSummary> {
  return inLockedFolder(recipe, 'sft', o, (out, resume, clock) => sftIn(out, resume, recipe, o, clock));
}

async function sftIn(out: string, resume: Resume, recipe: SftInputs, o: StageOptions, clock: StageClock): Promise<StageSummary> {
  const s = recipe.sft;
  const { model, tokenizer, source } = loadPolicy(startSpec(recipe, o, resume), { tokenizer: recipe.tokenizer, seed: recipe.seed });
  try {
    const loss = s.completion_only_loss ? 'completion' : 'all';
    const layout = layoutOf(s, model.packsInOneRow());
    const d = await stageData<SequenceExample, AnySequenceBatch>(
      recipe, s, (r, st) => prepareSequence(r, tokenizer, { ...truncation(s), loss }, st), sequenceCollate(layout, tokenizer.padId), (e) => e.seq.ids.length, o.quiet,
    );
    const parent = parentOf(resume, source);
    const task = sftTask(model, saver('sft', 'policy', () => model.weights, model.config, tokenizer, recipe, parent));
    return await trainStage('sft', task, d, s, { out, parent, resume, o, clock, layout });
  } finally {
    model.dispose();
  }
}

/**
 * `rlhf judge`: SFT of a causal LM on preference pairs framed as judge prompts, both orders (train/judge.ts), then the
 * trained judge's accuracy on the held-out pairs. The template text and labels are recorded in rlhf.json
 * (recipe.judge.template_text, .labels), so judge:MODEL reads the model as it was trained.
 */
export function trainJudge(recipe: JudgeInputs, o: StageOptions = {}): Promise<StageSummary> {
  // Checked before the folder is touched: a bad template must not cost an --overwrite its old run.
  const s = recipe.judge;
  const template = s.template ? readJudgeTemplate(s.template, s.labels) : parseJudgeTemplate(DEFAULT_JUDGE_TEMPLATE, s.labels);
  return inLockedFolder(recipe, 'judge', o, (out, resume, clock) => judgeIn(out, resume, recipe, o, template, clock));
}

async function judgeIn(out: string, resume: Resume, recipe: JudgeInputs, o: StageOptions, template: JudgeTemplate, clock: StageClock): Promise<StageSummary> {
  const s = recipe.judge;
  const { model, tokenizer, source } = loadPolicy(startSpec(recipe, o, resume), { tokenizer: recipe.tokenizer, seed: recipe.seed });
  try {
    const chat = tokenizer.chatTemplate;
    const labels = labelTokens(template, tokenizer, chat, startSpec(recipe, o, resume));
    const layout = layoutOf(s, model.packsInOneRow());
    const collate = sequenceCollate(layout, tokenizer.padId);
    const d = await stageData<[SequenceExample, SequenceExample], AnySequenceBatch>(
      recipe, s, (r, st) => judgeExamples(r, tokenizer, template, labels, s.max_length, st, chat), (ex) => collate(ex.flat()),
      (e) => Math.max(e[0].seq.ids.length, e[1].seq.ids.length), o.quiet,
    );
    const parent = parentOf(resume, source);
    // What judge:MODEL reads back: the template's text (not its file, which may move) and the labels.
    const recorded = { ...recipe, judge: { ...s, template_text: template.text, labels: template.labels } };
    const task = sftTask(model, saver('judge', 'policy', () => model.weights, model.config, tokenizer, recorded, parent));
    const summary = await trainStage('judge', task, d, s, { out, parent, resume, o, clock, layout }, () => ({}));
    summary.judge = await judgeHeldOut(model, tokenizer, template, labels, d.data.eval.map((e) => e[0].record), s, o);
    const summaryFile = path.join(out, SUMMARY_FILE);
    writeRunFile(summaryFile, () => fs.writeFileSync(summaryFile, JSON.stringify(summary, null, 2) + '\n'));
    if (!o.quiet && summary.judge.eval_accuracy !== null)
      process.stderr.write(`judge: held-out accuracy ${(100 * summary.judge.eval_accuracy).toFixed(1)}% on ${summary.judge.eval_pairs} pairs (both orders averaged), position bias ${(100 * (summary.judge.eval_position_bias ?? NaN)).toFixed(1)}%\n`);
    return summary;
  } finally {
    model.dispose();
  }
}

/** The trained judge on the held-out pairs: order-averaged verdicts against the data's chosen side. */
async function judgeHeldOut(model: LanguageModel, tok: Tokenizer, template: JudgeTemplate, labels: LabelTokens, records: PreferenceRecord[], s: JudgeInputs['judge'], o: StageOptions): Promise<NonNullable<StageSummary['judge']>> {
  const base = { eval_pairs: records.length, labels: template.labels, label_ids: labels.ids, label_suffix: labels.suffix };
  if (!records.length) return { ...base, eval_accuracy: null, eval_position_bias: null };
  const progress = new Progress(2 * records.length, 'judge held-out pairs', { enabled: !o.quiet, unit: 'texts' });
  let before = 0;
  const judge = new Judge(template, modelLogOdds(model, tok, { ...labels, batchSize: s.batch_size, maxLength: s.max_length - 1, onBatch: (n) => progress.tick(before + n) }), tok.chatTemplate);
  const score: number[] = [];
  const ab: number[] = [];
  const ba: number[] = [];
  try {
    for (let i = 0; i < records.length; i += s.batch_size) {
      const batch = records.slice(i, i + s.batch_size);
      const v = await judge.scorePairs(batch.map((r) => plainText(r.prompt)), batch.map((r) => plainText(r.chosen)), batch.map((r) => plainText(r.rejected)));
      before += 2 * batch.length;
      score.push(...v.score);
      ab.push(...v.ab);
      ba.push(...v.ba);
    }
  } finally {
    progress.finish();
  }
  return { ...base, eval_accuracy: score.filter((v) => v > 0).length / records.length, eval_position_bias: positionBias(ab, ba).rate };
}

export function trainReward(recipe: RewardInputs, o: StageOptions = {}): Promise<StageSummary> {
  return inLockedFolder(recipe, 'reward', o, (out, resume, clock) => rewardIn(out, resume, recipe, o, clock));
}

async function rewardIn(out: string, resume: Resume, recipe: RewardInputs, o: StageOptions, clock: StageClock): Promise<StageSummary> {
  const s = recipe.reward;
  const { model, tokenizer, source } = loadRewardModel(startSpec(recipe, o, resume), { tokenizer: recipe.tokenizer, seed: recipe.seed });
  try {
    const layout = layoutOf(s, model.backbone.packsInOneRow());
    const d = await stageData<PairExample, AnyPairBatch>(recipe, s, (r, st) => preparePair(r, tokenizer, truncation(s), st), pairCollate(layout, tokenizer.padId), pairLength, o.quiet);
    const parent = parentOf(resume, source);
    const task = rewardTask(
      model,
      { centerRewardsCoefficient: s.center_rewards_coefficient, useMargin: s.use_margin },
      saver('reward', 'reward', () => rewardCheckpointWeights(model.weights), model.config, tokenizer, recipe, parent),
    );
    return await trainStage('reward', task, d, s, { out, parent, resume, o, clock, layout });
  } finally {
    model.dispose();
  }
}

function defaultRefCacheDir(): string {
  return process.env.RLHF_CACHE_DIR ? path.join(process.env.RLHF_CACHE_DIR, 'ref-logps') : path.join(os.homedir(), '.cache', 'rlhf-tfjs', 'ref-logps');
}

export async function trainDpo(recipe: DpoInputs, o: StageOptions = {}): Promise<StageSummary> {
  const s = recipe.dpo;
  // Checked before the folder is touched: a bad loss setting must not cost an --overwrite its old run.
  const lossConfig = resolveDpoConfig({
    beta: s.beta,
    loss_type: s.loss_type,
    loss_weights: s.loss_weights,
    label_smoothing: s.label_smoothing,
    reference_free: s.reference_free,
    discopop_tau: s.discopop_tau,
  });
  return inLockedFolder(recipe, 'dpo', o, (out, resume, clock) => dpoIn(out, resume, recipe, o, lossConfig, clock));
}

async function dpoIn(out: string, resume: Resume, recipe: DpoInputs, o: StageOptions, lossConfig: DpoLossConfig, clock: StageClock): Promise<StageSummary> {
  const s = recipe.dpo;
  const { model: policy, tokenizer, source } = loadPolicy(startSpec(recipe, o, resume), { tokenizer: recipe.tokenizer, seed: recipe.seed });
  const parent = parentOf(resume, source);
  // The reference is the starting policy unless named: on resume it is NOT the resumed weights.
  const refSpec = o.reference ?? s.reference ?? (resume ? parent : o.model ?? recipe.model);
  let reference: LanguageModel | null = null;
  try {
    if (!lossConfig.reference_free) {
      reference = loadPolicy(refSpec, { tokenizer: recipe.tokenizer, seed: recipe.seed, trainable: false }).model;
    }
    // A named reference may differ from the policy: both read the batches.
    const layout = layoutOf(s, packInOneRow(policy, reference));
    const d = await stageData<PairExample, AnyPairBatch>(recipe, s, (r, st) => preparePair(r, tokenizer, truncation(s), st), pairCollate(layout, tokenizer.padId), pairLength, o.quiet);
    const refStarted = Date.now();
    const cache = reference && s.precompute_ref_log_probs ? await precomputeReference(reference, d, referenceBatchSize(s), o) : null;
    if (cache) {
      clock.referenceSeconds = (Date.now() - refStarted) / 1000;
      // Precomputed: the reference weights are no longer needed in memory.
      reference!.dispose();
      reference = null;
    }
    const task = dpoTask(policy, { loss: lossConfig, cache, reference }, saver('dpo', 'policy', () => policy.weights, policy.config, tokenizer, recipe, parent));
    return await trainStage('dpo', task, d, s, { out, parent, resume, o, clock, layout }, () => ({
      reference: {
        source: lossConfig.reference_free ? 'none (reference_free)' : refSpec.startsWith('config:') ? refSpec : path.resolve(refSpec),
        cached_pairs: cache?.hits ?? 0,
        computed_pairs: cache?.computed ?? 0,
        cache_file: cache?.file ?? null,
      },
    }));
  } finally {
    policy.dispose();
    reference?.dispose();
  }
}

/** Reference log-probs of every training and eval pair, computed once (or read from the cache on disk) and saved. */
async function precomputeReference(reference: LanguageModel, d: StageData<PairExample, AnyPairBatch>, batchSize: number, o: StageOptions): Promise<ReferenceCache> {
  const cacheDir = o.cacheDir === undefined ? defaultRefCacheDir() : o.cacheDir;
  const cache = ReferenceCache.at(cacheDir, await fingerprintWeights(reference.weights));
  const all = [...d.data.train, ...d.data.eval];
  const progress = new Progress(all.length, 'reference log-probs', { enabled: !o.quiet, unit: 'pairs' });
  try {
    await cache.fill(reference, (function* () {
      for (let i = 0; i < all.length; i += batchSize) yield d.collate(all.slice(i, i + batchSize));
    })(), (pairs) => progress.tick(pairs));
  } finally {
    progress.finish();
  }
  cache.save();
  if (!o.quiet) process.stderr.write(`reference log-probs: ${cache.hits} pairs from the cache, ${cache.computed} computed${cache.file ? ` (${cache.file})` : ''}\n`);
  return cache;
}
