/**
 * The one training loop SFT, reward modelling and DPO share. Each trainer only says what differs:
 * how a batch becomes a loss and metrics (a TrainTask). Order per step, fixed:
 *   1) set lr  2) maybe eval  3) forward/backward over the accumulation micro-batches
 *   4) clip + NaN/Inf check  5) optimiser step  6) log  7) maybe checkpoint  8) maybe stop on signal
 * One host sync per step: loss, metrics and grad_norm are read together.
 *
 * Gradient accumulation is exact: k micro-batches give the loss, gradients and metrics of one batch holding
 * all of them. Each task's loss is a mean over its batch's items (`lossWeight`: completion tokens for SFT,
 * pairs for reward and DPO); the loop collects the step's k micro-batches first (as transformers'
 * get_batch_samples does), then back-propagates micro-batch i's loss times n_i / Σ_j n_j. For SFT that is
 * Σ_i (token NLL sum)_i / (tokens of the whole step): transformers/TRL 1.13's `num_items_in_batch`, so
 * micro-batches with different token counts weigh by their tokens, not equally. For reward and DPO it is the
 * mean over all pairs of the step; TRL instead divides each micro-batch's mean by the number of micro-batches
 * (its reward and DPO trainers set model_accepts_loss_kwargs = False), which equals ours when micro-batches
 * hold equally many pairs and weighs a smaller last batch of an epoch like a full one where they do not.
 * Logged per step, with TRL 1.13 / transformers Trainer meanings: `loss` is the weighted mean above (the loss
 * that was optimised; TRL logs the same number for SFT, and for reward/DPO whenever micro-batches hold equally
 * many pairs); each task metric is the plain mean of its per-micro-batch values, as TRL averages its metric
 * lists (so `min_reward` / `max_reward` are means of per-micro-batch extremes, and with unequal micro-batches
 * a mean is not re-weighted by examples); grad_norm (the global norm before clipping), learning_rate (the rate
 * this step used), epoch (micro-batches consumed / micro-batches per epoch) and num_tokens (every
 * attention-mask token of every training batch so far, prompt and completion, chosen and rejected: a running
 * total over the run, resumes included). With k = 1 every weight is exactly 1 and nothing changes numerically.
 * Eval rows (eval_ prefix; see evaluate()) carry no num_tokens: TRL copies the training total there.
 *
 * Does NOT: read data files, build models or write checkpoint folders itself (the task's `save`
 * does, atomically); it decides when, and what trainer state goes with them.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AdamW, AdamWOptions } from './optimizer';
import { clipByGlobalNorm } from './clip';
import { leanVariableGrads } from './grads';
import { learningRate, ScheduleName } from './schedule';
import { Progress } from './progress';
import { openTrackers, ReportTarget, type Trackers } from './trackers';
import { FINAL_DIR, OPTIMIZER_FILE, processAlive, pruneCheckpoints, recoverInterruptedSave, TRAINER_STATE_FILE } from '../io/checkpoint';

/** What a batch produces: a scalar loss (mean over the batch) and named scalar metrics (TRL names). */
export interface StepOutputs {
  loss: tf.Scalar;
  metrics: Record<string, tf.Scalar>;
}

/** A resumable, seeded source of micro-batches that wraps around epochs. */
export interface BatchSource<B> {
  next(): B;
  /** Batches per epoch (for epoch bookkeeping and the default step count). */
  readonly batchesPerEpoch: number;
  getState(): unknown;
  setState(state: unknown): void;
}

export interface TrainTask<B> {
  readonly kind: 'sft' | 'reward' | 'dpo' | 'grpo' | 'rloo' | 'online-dpo';
  /** Trainable variables by HF name (explicit var list for the gradients). */
  readonly params: Map<string, tf.Variable>;
  /** Loss and metrics of one batch. Called inside leanVariableGrads (training) or tf.tidy (eval). */
  forward(batch: B, training: boolean): StepOutputs;
  /**
   * Optional work before `forward`, outside the gradient tape (e.g. a frozen reference model's
   * forward, which the tape would otherwise record; an online trainer's sampling and scoring). May sync with
   * the host. The loop prepares all of a step's micro-batches before it asks for their tokens and loss weights.
   */
  prepare?(batch: B): Promise<void>;
  /** Non-padding tokens in a batch, all of them (prompt and completions): num_tokens and throughput. */
  tokens(batch: B): number;
  /** Number of examples (pairs or sequences) in a batch, to weight the eval loss. */
  examples(batch: B): number;
  /**
   * How many items the batch's loss is a mean over: completion (loss) tokens for SFT, pairs for reward and
   * DPO. Under gradient accumulation each micro-batch's loss is weighted by its share of the step's total
   * (see the header). A finite number >= 0.
   */
  lossWeight(batch: B): number;
  /** Writes a complete checkpoint folder atomically at `dir`, including `extra` trainer state. */
  save(dir: string, extra: CheckpointExtras): Promise<void>;
}

/** What a checkpoint carries besides the weights: the trainer state to resume from, and the metrics to record. */
export interface CheckpointExtras {
  trainerState: TrainerState;
  optimizerTensors: Map<string, tf.Tensor>;
  /** The last step's train metrics and the last eval's (eval_ prefix), for rlhf.json and the model card. */
  metrics: Record<string, number>;
}

/** The format string trainer_state.json starts with; a resume checks it. */
export const TRAINER_STATE_FORMAT = 'rlhf-trainer-state/v1';

/** Everything besides weights and moments that an exact resume needs (trainer_state.json). */
export interface TrainerState {
  format: typeof TRAINER_STATE_FORMAT;
  step: number;
  optimizerStep: number;
  dataState: unknown;
  bestEval: Record<string, number> | null;
  options: Record<string, unknown>;
  /** num_tokens at this step (non-padding training tokens so far). Absent in checkpoints written before it was kept. */
  numTokens?: number;
}

export interface LoopOptions {
  maxSteps: number;
  gradientAccumulationSteps: number;
  lr: number;
  schedule: ScheduleName;
  warmupSteps: number;
  adamw: AdamWOptions;
  /** Global-norm clip; null disables clipping (grad_norm is still reported). */
  maxGradNorm: number | null;
  logEvery: number;
  /** 0 disables periodic eval (eval still runs at the end when eval data exists). */
  evalEvery: number;
  /** 0 disables periodic checkpoints (the final model is still saved). */
  saveEvery: number;
  keepLast: number;
  outDir: string;
  /**
   * Resume from this checkpoint folder (written by this loop). The state is validated before anything is
   * written (a damaged one is a TrainerStateError); the loop disposes `optimizerTensors` once restored.
   */
  resumeFrom?: { dir: string; state: TrainerState; optimizerTensors: Map<string, tf.Tensor> };
  quiet?: boolean;
  /** Where metric rows go (trackers.ts; TRL's report_to). @default ['jsonl'] */
  reportTo?: ReportTarget[];
  /** Test hook: stop (as if SIGINT arrived) after this step. */
  stopAfterStep?: number;
}

export interface LoopResult {
  steps: number;
  stoppedBy: 'max_steps' | 'signal';
  train: Record<string, number>;
  eval: Record<string, number> | null;
  tokens: number;
  /** The whole loop: training steps, evaluations and checkpoint writes. */
  seconds: number;
  /** Of `seconds`: time in evaluations (periodic and final). */
  evalSeconds: number;
  /** Of `seconds`: time writing checkpoints (step checkpoints and final/). */
  saveSeconds: number;
  /** tokens / (seconds − evalSeconds − saveSeconds): the training steps' own rate. */
  tokensPerSecond: number;
  lastCheckpoint: string | null;
}

export class NonFiniteError extends Error {
  constructor(readonly step: number, what: string, readonly lastCheckpoint: string | null) {
    super(
      `step ${step}: ${what} is not finite; the run stopped without applying this update. ` +
        (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}. ` : 'No checkpoint was written yet. ') +
        'Try a lower learning rate (--lr), gradient clipping (max_grad_norm) or check the data.',
    );
  }
}

/** A checkpoint's trainer state (trainer_state.json + optimizer.safetensors) cannot resume exactly. */
export class TrainerStateError extends Error {
  constructor(readonly dir: string, detail: string) {
    super(`checkpoint ${dir}: ${detail}; it cannot resume exactly. Resume from another checkpoint-N (--resume DIR) or start over (--overwrite)`);
    this.name = 'TrainerStateError';
  }
}

/** What the loop carries from step to step (and into checkpoints and its result). */
interface RunState {
  step: number;
  /** TRL's num_tokens; null after resuming a checkpoint that did not record it (a count restarted from 0 would be a different quantity under the same name). */
  numTokens: number | null;
  bestEval: Record<string, number> | null;
  lastCheckpoint: string | null;
  lastTrain: Record<string, number>;
  lastEval: Record<string, number> | null;
  /** Training tokens of this process's steps (throughput). */
  tokensSeen: number;
  /** Seconds spent in evaluations and in checkpoint writes (the loop's time that is not training steps). */
  evalSeconds: number;
  saveSeconds: number;
}

export async function runTrainingLoop<B>(
  task: TrainTask<B>,
  data: BatchSource<B>,
  evalBatches: (() => Iterable<B>) | null,
  o: LoopOptions,
): Promise<LoopResult> {
  const k = o.gradientAccumulationSteps;
  if (!(Number.isSafeInteger(k) && k >= 1)) {
    throw new Error(`runTrainingLoop: gradientAccumulationSteps is ${k}; expected an integer >= 1 (recipe field gradient_accumulation_steps)`);
  }
  fs.mkdirSync(o.outDir, { recursive: true });
  const optimizer = new AdamW(task.params, o.adamw);
  const progress = new Progress(o.maxSteps, task.kind, process.stderr, !o.quiet);
  const say = (line: string) => {
    if (!o.quiet) progress.log(line);
  };
  const run = startRun(o, task, optimizer, data);
  const trackers: Trackers = openTrackers(o.outDir, o.reportTo ?? ['jsonl'], o.resumeFrom ? run.step : null, writeRunFile);
  if (trackers.tensorboardDir) say(`TensorBoard: tensorboard --logdir ${path.dirname(trackers.tensorboardDir)}`);
  const stop = listenForStop(o, say);
  const started = Date.now();
  /** Runs fn, adding its wall time to the run's eval or save seconds. */
  const timed = async <T>(phase: 'evalSeconds' | 'saveSeconds', fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      run[phase] += (Date.now() - t0) / 1000;
    }
  };
  const evalAndLog = async (batches: () => Iterable<B>) => {
    run.lastEval = await timed('evalSeconds', () => evaluate(task, batches()));
    run.bestEval = pickBest(run.bestEval, run.lastEval);
    trackers.log({ step: run.step, ...prefixed(run.lastEval, 'eval_') });
    say(formatLine(run.step, o.maxSteps, prefixed(run.lastEval, 'eval_')));
  };
  const saveAt = (dirName: string) => timed('saveSeconds', () => saveCheckpointAt(path.join(o.outDir, dirName), task, optimizer, data, run, o));

  try {
    while (run.step < o.maxSteps) {
      // 1) learning rate for this optimiser step
      const lr = learningRate(run.step, { name: o.schedule, lr: o.lr, warmupSteps: o.warmupSteps, totalSteps: o.maxSteps });
      // 2) periodic eval (before the update, like HF's evaluation at step boundaries)
      if (evalBatches && o.evalEvery > 0 && run.step > 0 && run.step % o.evalEvery === 0) await evalAndLog(evalBatches);
      // 3) forward/backward, accumulating gradients over the step's micro-batches
      const acc = await accumulate(task, data, k);
      // 4) clip, then one host sync for loss, metrics and grad_norm
      const { clipped, loss, gradNorm, metrics } = await clipAndRead(acc, o.maxGradNorm);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        for (const g of clipped.values()) g.dispose();
        throw new NonFiniteError(run.step + 1, !Number.isFinite(loss) ? `the loss (${loss})` : `the gradient norm (${gradNorm})`, run.lastCheckpoint);
      }
      // 5) optimiser step
      optimizer.apply(clipped, lr);
      for (const g of clipped.values()) g.dispose();
      run.step += 1;
      run.tokensSeen += acc.tokens;
      if (run.numTokens !== null) run.numTokens += acc.tokens;
      // 6) log
      run.lastTrain = { loss, grad_norm: gradNorm, learning_rate: lr, ...metrics };
      if (run.numTokens !== null) run.lastTrain.num_tokens = run.numTokens;
      trackers.log({ step: run.step, ...run.lastTrain, epoch: run.step / Math.max(1, data.batchesPerEpoch / k) });
      const elapsed = (Date.now() - started) / 1000;
      if (run.step % o.logEvery === 0 || run.step === o.maxSteps) {
        say(formatLine(run.step, o.maxSteps, { loss, ...pickDisplay(run.lastTrain), 'tok/s': run.tokensSeen / Math.max(elapsed, 1e-9) }));
      }
      progress.tick(run.step, { loss, ...pickDisplay(run.lastTrain) }); // terminal only: the live line with ETA
      // 7) periodic checkpoint. Yield to the event loop first: on backends whose data() resolves without
      // a macrotask (tfjs-node, cpu) a SIGINT/SIGTERM handler would otherwise not run until the loop ends.
      await yieldToEventLoop();
      const stopNow = stop.requested() || (o.stopAfterStep !== undefined && run.step >= o.stopAfterStep);
      if ((o.saveEvery > 0 && run.step % o.saveEvery === 0 && run.step < o.maxSteps) || (stopNow && run.step < o.maxSteps)) {
        run.lastCheckpoint = await saveAt(`checkpoint-${run.step}`);
        // Newest keepLast step checkpoints stay (renamed before deletion; final/ is never touched).
        if (o.keepLast > 0) pruneCheckpoints(o.outDir, o.keepLast);
      }
      // 8) stop on signal
      if (stopNow && run.step < o.maxSteps) {
        progress.finish();
        return loopResult(run, 'signal', started);
      }
    }
    if (evalBatches) await evalAndLog(evalBatches);
    progress.finish();
    run.lastCheckpoint = await saveAt(FINAL_DIR);
    return loopResult(run, 'max_steps', started);
  } finally {
    stop.remove();
    optimizer.dispose();
    trackers.close();
    progress.finish(); // also on errors: a live line's redraw timer must not keep the process alive
  }
}

function loopResult(run: RunState, stoppedBy: LoopResult['stoppedBy'], started: number): LoopResult {
  const seconds = (Date.now() - started) / 1000;
  const { step: steps, lastTrain: train, lastEval, tokensSeen: tokens, lastCheckpoint, evalSeconds, saveSeconds } = run;
  const trainSeconds = seconds - evalSeconds - saveSeconds;
  return {
    steps, stoppedBy, train, eval: lastEval ? prefixed(lastEval, 'eval_') : null, tokens, seconds, evalSeconds, saveSeconds,
    tokensPerSecond: tokens / Math.max(trainSeconds, 1e-9), lastCheckpoint,
  };
}

/**
 * The run's starting state: fresh, or restored from `resumeFrom` (validated and restored before anything in the
 * run folder changes). Dead runs' leftovers are cleaned up. Disposes the optimizer when the resume state is refused.
 */
function startRun<B>(o: LoopOptions, task: TrainTask<B>, optimizer: AdamW, data: BatchSource<B>): RunState {
  const run: RunState = { step: 0, numTokens: 0, bestEval: null, lastCheckpoint: null, lastTrain: {}, lastEval: null, tokensSeen: 0, evalSeconds: 0, saveSeconds: 0 };
  if (o.resumeFrom) {
    try {
      restoreTrainerState(o.resumeFrom, task.params, optimizer, data);
    } catch (e) {
      optimizer.dispose();
      throw e;
    }
  }
  removeDeadLeftovers(o.outDir);
  if (o.resumeFrom) {
    const s = o.resumeFrom.state;
    run.step = s.step;
    run.bestEval = s.bestEval;
    run.numTokens = s.numTokens ?? null;
    run.lastCheckpoint = o.resumeFrom.dir;
  }
  return run;
}

/**
 * SIGINT/SIGTERM handling while the loop runs: the first signal asks it to finish the step, checkpoint and stop;
 * a second one means "now" (handlers removed, the signal re-raised). Checkpoint saves are atomic, so a save this
 * interrupts leaves only a hidden temp folder (cleaned on the next run). `remove` uninstalls the handlers.
 */
function listenForStop(o: LoopOptions, say: (line: string) => void): { requested: () => boolean; remove: () => void } {
  let stopRequested = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopRequested) {
      remove();
      if (!o.quiet) process.stderr.write(`\n${sig} received again: stopping now without a checkpoint\n`);
      process.kill(process.pid, sig);
      return;
    }
    stopRequested = true;
    say(`${sig} received: finishing this step, writing a checkpoint, then stopping (send it again to stop at once)`);
  };
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  const remove = () => {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
  };
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  return { requested: () => stopRequested, remove };
}

/** Writes a checkpoint of the run at `dir` through the task's save, with the trainer state an exact resume needs. */
async function saveCheckpointAt<B>(dir: string, task: TrainTask<B>, optimizer: AdamW, data: BatchSource<B>, run: RunState, o: LoopOptions): Promise<string> {
  const st = optimizer.state();
  await task.save(dir, {
    trainerState: {
      format: TRAINER_STATE_FORMAT,
      step: run.step,
      optimizerStep: optimizer.stepCount,
      dataState: data.getState(),
      bestEval: run.bestEval,
      options: { ...o, resumeFrom: undefined, outDir: undefined },
      ...(run.numTokens !== null ? { numTokens: run.numTokens } : {}),
    },
    optimizerTensors: st.tensors,
    metrics: { ...run.lastTrain, ...(run.lastEval ? prefixed(run.lastEval, 'eval_') : {}) },
  });
  return dir;
}

/** One step's k micro-batches, forward and backward: summed gradients (by HF name), kept losses and metrics. */
interface Accumulated {
  grads: Map<string, tf.Tensor>;
  lossParts: tf.Scalar[];
  metricParts: Record<string, tf.Scalar[]>;
  /** Each micro-batch's loss weight n_i / Σ n_j. */
  weights: number[];
  /** Non-padding training tokens of the step. */
  tokens: number;
}

/**
 * Step 3: collects the step's k micro-batches first (each one's loss is weighted by its share of the step's items,
 * tokens or pairs, known only once all are there), then runs forward/backward on each and sums the gradients.
 */
async function accumulate<B>(task: TrainTask<B>, data: BatchSource<B>, k: number): Promise<Accumulated> {
  const varToName = new Map<string, string>();
  for (const [name, v] of task.params) varToName.set(v.name, name);
  const batches: B[] = [];
  for (let micro = 0; micro < k; micro++) batches.push(data.next());
  // Prepared first: an online trainer's batch knows its tokens (hence its loss weight) only once sampled.
  if (task.prepare) for (const b of batches) await task.prepare(b);
  const weights = lossWeights(task, batches);
  let gradSum: Map<string, tf.Tensor> | null = null;
  const lossParts: tf.Scalar[] = [];
  const metricParts: Record<string, tf.Scalar[]> = {};
  let tokens = 0;
  for (let micro = 0; micro < batches.length; micro++) {
    if (micro > 0) await yieldToEventLoop(); // a long accumulation still hears signals
    const batch = batches[micro];
    tokens += task.tokens(batch);
    let kept: StepOutputs | null = null;
    const vars = [...task.params.values()];
    const { value, grads } = leanVariableGrads(() => {
      const out = task.forward(batch, true);
      kept = { loss: tf.keep(out.loss.clone()), metrics: keepAll(out.metrics) };
      return out.loss.mul(weights[micro]) as tf.Scalar; // × n_i / Σ n (exactly 1 when k = 1)
    }, vars);
    value.dispose();
    lossParts.push(kept!.loss);
    for (const [name, v] of Object.entries(kept!.metrics)) (metricParts[name] ??= []).push(v);
    const named = new Map<string, tf.Tensor>();
    for (const [vn, g] of Object.entries(grads)) named.set(varToName.get(vn) ?? vn, g);
    gradSum = gradSum === null ? named : addInto(gradSum, named);
  }
  return { grads: gradSum!, lossParts, metricParts, weights, tokens };
}

/** sum[n] += g[n] for every gradient, disposing what it replaces; returns sum. */
function addInto(sum: Map<string, tf.Tensor>, grads: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  for (const [n, g] of grads) {
    const prev = sum.get(n);
    sum.set(n, prev ? tf.tidy(() => prev.add(g)) : g);
    if (prev) {
      prev.dispose();
      g.dispose();
    }
  }
  return sum;
}

/**
 * Step 4: clips the summed gradients by their global norm and reads the step's loss, metrics and grad_norm in one
 * host sync. Disposes everything of `acc`; the caller owns (and disposes) `clipped`.
 */
async function clipAndRead(acc: Accumulated, maxGradNorm: number | null) {
  const { grads: clipped, norm } = clipByGlobalNorm(acc.grads, maxGradNorm);
  for (const g of acc.grads.values()) g.dispose();
  const keys = Object.keys(acc.metricParts);
  const packed = tf.tidy(() =>
    tf.stack([weightedSum(acc.lossParts, acc.weights), ...keys.map((k) => combineStepMetric(acc.metricParts[k])), norm]),
  );
  const values = await packed.data();
  packed.dispose();
  acc.lossParts.forEach((t) => t.dispose());
  Object.values(acc.metricParts).forEach((ts) => ts.forEach((t) => t.dispose()));
  norm.dispose();
  const metrics: Record<string, number> = {};
  keys.forEach((k, i) => (metrics[k] = values[i + 1]));
  return { clipped, loss: values[0], gradNorm: values[values.length - 1], metrics };
}

/**
 * Checks a saved trainer state field by field (it comes from a file) and restores the optimizer moments
 * and the data position; every problem is a TrainerStateError naming the checkpoint and the field.
 * Disposes the optimizer tensors it was given.
 */
function restoreTrainerState<B>(
  r: NonNullable<LoopOptions['resumeFrom']>,
  params: Map<string, tf.Variable>,
  optimizer: AdamW,
  data: BatchSource<B>,
): void {
  const fail = (detail: string): never => {
    throw new TrainerStateError(r.dir, detail);
  };
  const show = (v: unknown) => {
    const t = JSON.stringify(v) ?? String(v);
    return t.length > 60 ? `${t.slice(0, 57)}...` : t;
  };
  try {
    const s = r.state as unknown as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) fail(`${TRAINER_STATE_FILE} must hold an object`);
    for (const k of ['step', 'optimizerStep']) {
      const v = s[k];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${TRAINER_STATE_FILE} field "${k}" is ${show(v)}; expected a non-negative integer`);
    }
    if (s.numTokens !== undefined && (typeof s.numTokens !== 'number' || !Number.isSafeInteger(s.numTokens) || s.numTokens < 0)) {
      fail(`${TRAINER_STATE_FILE} field "numTokens" is ${show(s.numTokens)}; expected a non-negative integer`);
    }
    if (typeof s.dataState !== 'object' || s.dataState === null) fail(`${TRAINER_STATE_FILE} field "dataState" is ${show(s.dataState)}; expected the saved data position`);
    if (s.bestEval !== null && (typeof s.bestEval !== 'object' || Array.isArray(s.bestEval))) fail(`${TRAINER_STATE_FILE} field "bestEval" is ${show(s.bestEval)}; expected an object or null`);
    if ((s.optimizerStep as number) > 0) {
      // Adam moments exist for every trained parameter after the first step: a missing one would silently
      // restart that parameter's moments and break exactness.
      for (const name of params.keys()) {
        for (const kind of ['exp_avg', 'exp_avg_sq']) {
          if (!r.optimizerTensors.has(`${kind}.${name}`)) fail(`${OPTIMIZER_FILE} lacks "${kind}.${name}" (${r.optimizerTensors.size} tensors present)`);
        }
      }
    }
    try {
      optimizer.restore(s.optimizerStep as number, r.optimizerTensors);
    } catch (e) {
      fail(`${OPTIMIZER_FILE}: ${(e as Error).message}`);
    }
    try {
      data.setState(s.dataState);
    } catch (e) {
      fail(`${TRAINER_STATE_FILE} field "dataState": ${(e as Error).message}`);
    }
  } finally {
    for (const t of r.optimizerTensors.values()) t.dispose();
  }
}

/**
 * Each value's share of the total. Example: [30, 10] -> [0.75, 0.25]; [5] -> [1]. All zero (an SFT step with
 * no completion token) -> equal shares, so the step's loss is the mean of its micro-batches' (zero) losses.
 */
export function shares(counts: number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return total > 0 ? counts.map((c) => c / total) : counts.map(() => 1 / counts.length);
}

/** The micro-batches' loss weights n_i / Σ n_j; a count that is not a finite number >= 0 is a task bug, named. */
function lossWeights<B>(task: TrainTask<B>, batches: B[]): number[] {
  const counts = batches.map((b) => task.lossWeight(b));
  counts.forEach((c, i) => {
    if (!(Number.isFinite(c) && c >= 0)) {
      throw new Error(`${task.kind} task: lossWeight of micro-batch ${i + 1} is ${c}; expected a finite number >= 0 (the items its loss is a mean over)`);
    }
  });
  return shares(counts);
}

/** Σ_i w_i·x_i of scalars (inside a tidy). With one part and weight 1 it is that part, bit for bit. */
function weightedSum(parts: tf.Scalar[], w: number[]): tf.Scalar {
  return tf.sum(tf.stack(parts).mul(tf.tensor1d(w))) as tf.Scalar;
}

/** One step's value of a metric from its micro-batches: their plain mean, as TRL averages its metric lists. */
function combineStepMetric(parts: tf.Scalar[]): tf.Scalar {
  return tf.mean(tf.stack(parts)) as tf.Scalar;
}

/** Lets pending macrotasks (signal handlers) run; tf's data() may resolve without one. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Eval metrics as transformers' Trainer and TRL 1.13 compute them: loss is the mean of the per-batch losses
 * weighted by the examples in each batch (Trainer repeats each batch's loss batch-size times); every other
 * metric is the plain mean of its per-batch values (TRL's metric lists), so min_reward / max_reward are the
 * mean of each batch's extreme, and a short last batch counts as much as a full one.
 * Example: batches of 4 and 2 pairs with accuracy 1 and 0 -> accuracy 0.5 (not 4/6).
 */
export async function evaluate<B>(task: TrainTask<B>, batches: Iterable<B>): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  let examples = 0;
  let count = 0;
  for (const batch of batches) {
    if (task.prepare) await task.prepare(batch);
    const n = task.examples(batch); // after prepare: an online batch knows its size once sampled
    const keys: string[] = [];
    const packed = tf.tidy(() => {
      const out = task.forward(batch, false);
      keys.push('loss', ...Object.keys(out.metrics));
      return tf.stack([out.loss, ...Object.values(out.metrics)]);
    });
    const vals = await packed.data();
    packed.dispose();
    keys.forEach((k, i) => (sums[k] = (sums[k] ?? 0) + (k === 'loss' ? vals[i] * n : vals[i])));
    examples += n;
    count += 1;
  }
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(sums)) out[k] = v / Math.max(k === 'loss' ? examples : count, 1);
  return out;
}

function keepAll(m: Record<string, tf.Scalar>): Record<string, tf.Scalar> {
  const out: Record<string, tf.Scalar> = {};
  for (const [k, v] of Object.entries(m)) out[k] = tf.keep(v.clone());
  return out;
}

function prefixed(m: Record<string, number>, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) out[k.startsWith(prefix) ? k : prefix + k] = v;
  return out;
}

/** Lower eval loss is better; the best eval metrics are kept for the summary. */
function pickBest(best: Record<string, number> | null, cur: Record<string, number>): Record<string, number> {
  if (!best || (cur.loss ?? Infinity) < (best.loss ?? Infinity)) return { ...cur };
  return best;
}

const DISPLAY = ['accuracy', 'rewards/accuracies', 'rewards/margins', 'reward', 'kl', 'grad_norm'];
function pickDisplay(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of DISPLAY) if (k in m) out[k] = m[k];
  return out;
}

/** "step 120/500 | loss 0.5231 | accuracy 0.7100 | tok/s 812" */
function formatLine(step: number, total: number, m: Record<string, number>): string {
  const parts = Object.entries(m).map(([k, v]) => `${k} ${Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(4)}`);
  return [`step ${step}/${total}`, ...parts].join(' | ');
}

/** A file of the run folder (metrics.jsonl, summary.json) could not be written: a full disk, say. */
export class RunFolderError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'RunFolderError';
  }
}

/** Runs a write to `file`; errno failures become a RunFolderError that names the file and the way out. */
export function writeRunFile<T>(file: string, write: () => T): T {
  try {
    return write();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      ENOSPC: 'no space left on the device', EDQUOT: 'disk quota exceeded', EROFS: 'the filesystem is read-only',
      EACCES: 'permission denied', EPERM: 'operation not permitted', EFBIG: 'a file size limit was hit (ulimit -f or the filesystem\'s maximum)',
    };
    if (!code) throw e;
    throw new RunFolderError(file, `could not write (${why[code] ?? code}); free some space or choose another --out. Checkpoints already written are intact: continue with --resume`);
  }
}

/**
 * Removes what killed runs left in a run folder: hidden `.<checkpoint-N|final>.(tmp|del)-PID-*` folders
 * of processes that are gone, and restores a `.<name>.old-PID-*` folder set aside by a save that was
 * killed between its two renames (io/checkpoint's recoverInterruptedSave does both for one target).
 */
function removeDeadLeftovers(outDir: string): void {
  if (!fs.existsSync(outDir)) return;
  for (const n of fs.readdirSync(outDir)) {
    const m = /^\.(checkpoint-\d+|final)\.(tmp|old|del)-(\d+)-[0-9a-f]+$/.exec(n);
    if (!m || processAlive(Number(m[3]))) continue;
    if (m[2] === 'del') fs.rmSync(path.join(outDir, n), { recursive: true, force: true });
    else recoverInterruptedSave(path.join(outDir, m[1]));
  }
}

/** The newest checkpoint-N folder in a run folder, for --resume with no explicit path. */
export function latestCheckpoint(outDir: string): string | null {
  if (!fs.existsSync(outDir)) return null;
  const steps = fs
    .readdirSync(outDir)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  for (const s of steps) {
    const dir = path.join(outDir, `checkpoint-${s}`);
    if (fs.existsSync(path.join(dir, TRAINER_STATE_FILE))) return dir;
  }
  return null;
}
