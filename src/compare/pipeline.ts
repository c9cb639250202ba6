/**
 * runComparison: the comparison's numbers as one library call — load the reward model, the DPO policy
 * and its reference (and a generative judge when given), score held-out pairs and probes, summarise, and gather what the report shows beside
 * them (the runs' training curves when their metrics.jsonl is found, a subtitle naming the models).
 * Each model is scored with the settings it was trained with (β, lengths, truncation: io/scoring-settings.ts
 * reads them from its rlhf.json; overrides win), and the report says which values it used and where from.
 *
 * Does NOT: write files (report/compare.ts compareRewards writes comparison.json/.md and report.html),
 * train (train/) or parse command lines (cli/).
 */
import * as fs from 'fs';
import * as path from 'path';
import { currentBackend, initBackend } from '../backend';
import { loadPreferences } from '../data';
import { METRICS_FILE } from '../io/checkpoint';
import { readCheckpointMeta, recordedReference, scoringSettings, type ResolvedScoring, type ScoringField, type ScoringOverrides } from '../io/scoring-settings';
import type { FormatChoice } from '../data/formats';
import type { PreferenceRecord } from '../data/types';
import { loadPolicy, loadRewardModel, resolveModelPath } from '../io/load-model';
import { readMetricsLog } from './metrics-log';
import { loadProbes, scorePairs, scoreProbes, Scorers, type ScoringLengths } from './scoring';
import { summarise, ComparisonSummary } from './summary';
import { ComparisonInputError, MetricsLog, SCORING_BATCH_SIZE } from './types';
import { byteProgress, Progress } from '../util/progress';
import { judgeReward } from '../rewards/judge';

/** The bootstrap's seed, and a config:NAME reference's initialisation seed, unless given (the recipes' default seed). */
const DEFAULT_SEED = 42;

export interface ComparisonOptions {
  rewardModel?: string;
  policy?: string;
  /** Reference of the policy (default: the one its rlhf.json records: dpo.reference, else its parent). */
  reference?: string;
  /** A generative judge (judge:MODEL's MODEL: a checkpoint, HF folder or llama2.c .bin) asked about every pair and probe. @default none */
  judge?: string;
  /** The judge's prompt template file. @default the one the judge was trained with, else rewards/judge.ts DEFAULT_JUDGE_TEMPLATE */
  judgeTemplate?: string;
  /** The judge's two answer labels. @default the trained ones, else ["A", "B"] */
  judgeLabels?: [string, string];
  /** Held-out pairs: a file spec, or records already loaded. */
  data: string | PreferenceRecord[];
  format?: FormatChoice;
  probes?: string;
  /**
   * Scoring settings that win over what each model's rlhf.json recorded (β applies to the policy, the lengths and
   * truncation to both), each with its source for the report. Build them with overridesFrom. @default none
   */
  overrides?: ScoringOverrides;
  seed?: number;
  bootstrap?: number;
  topK?: number;
  batchSize?: number;
  /** Score each pair in one row with its prompt computed once (the same scores up to float rounding). @default true */
  sharePrompt?: boolean;
  tokenizer?: string;
  /** Backend to score on when none is active yet, or a different one is named. @default RLHF_BACKEND, else auto */
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  quiet?: boolean;
}

/** The comparison's numbers and what the report shows beside them. */
export interface ComparisonRun {
  summary: ComparisonSummary;
  /** "reward model … · policy … · reference … · β … · N held-out pairs" */
  subtitle: string;
  /** The reward model's and the policy's training logs, where found beside them. */
  metricsLogs: MetricsLog[];
}

/** metrics.jsonl beside a run's final/ folder, if the model came from a run folder. */
function metricsNear(spec: string | undefined, name: string): MetricsLog | null {
  if (!spec) return null;
  const dir = resolveModelPath(spec);
  for (const cand of [path.join(dir, METRICS_FILE), path.join(path.dirname(dir), METRICS_FILE)]) {
    if (fs.existsSync(cand)) return readMetricsLog(cand, name);
  }
  return null;
}

/** The lengths scorePairs cuts a model's pairs to, from its resolved settings. */
export function lengthsOf(r: ResolvedScoring): ScoringLengths {
  return { maxLength: r.values.max_length, maxPromptLength: r.values.max_prompt_length, truncation: r.values.truncation_mode };
}

/** "β 0.5 (policy rlhf.json (dpo.beta))": a setting and its source, for the report's subtitle and progress lines. */
function describeSettings(r: ResolvedScoring, fields: ScoringField[]): string {
  return fields.map((f) => `${f === 'beta' ? 'β' : f} ${r.values[f]} (${r.sources[f]})`).join(', ');
}

/** Runs `score` with a live line counting the pairs scored (terminal only; --quiet: none). */
export async function withProgress<T>(total: number, label: string, quiet: boolean | undefined, scorers: Scorers, score: () => Promise<T>): Promise<T> {
  const progress = new Progress(total, label, { enabled: !quiet, unit: 'pairs' });
  let done = 0;
  scorers.onBatch = (n) => progress.tick((done += n));
  try {
    return await score();
  } finally {
    scorers.onBatch = undefined;
    progress.finish();
  }
}

export async function runComparison(o: ComparisonOptions): Promise<ComparisonRun> {
  // summarise() needs both scores of every pair; fail here, before loading and scoring, not after.
  if (!o.rewardModel || !o.policy) {
    const got = o.rewardModel ? 'only a reward model' : o.policy ? 'only a policy' : 'neither';
    throw new ComparisonInputError(`compare needs a reward model (--reward-model) and a DPO policy (--policy); got ${got}. To score one model alone use rlhf score`);
  }
  if (!currentBackend() || (o.backend && o.backend !== 'auto' && currentBackend()!.name !== o.backend)) await initBackend(o.backend);
  const say = (l: string) => { if (!o.quiet) process.stderr.write(l + '\n'); };
  const reading = byteProgress('reading data', { enabled: !o.quiet });
  const records = typeof o.data === 'string' ? (await loadPreferences(o.data, { format: o.format, onProgress: reading.onProgress }).finally(reading.finish)).records : o.data;
  if (records.length < 2) throw new ComparisonInputError(`compare needs at least 2 held-out pairs; got ${records.length}`);

  // Each model is scored with its own training settings, read from its rlhf.json (overrides win).
  const policyMeta = readCheckpointMeta(resolveModelPath(o.policy));
  const policySettings = scoringSettings(policyMeta, o.overrides, 'policy');
  const rewardSettings = scoringSettings(readCheckpointMeta(resolveModelPath(o.rewardModel)), o.overrides, 'reward model');
  const refSpec = o.reference ?? recordedReference(policyMeta);
  if (!refSpec) throw new ComparisonInputError(`--policy ${o.policy}: no reference given and none recorded in its rlhf.json; pass --reference (the model DPO started from)`);

  const models = loadModels(o, refSpec);
  try {
    const { rm, pol, ref, judge } = models;
    const scorers: Scorers = {
      reward: { model: rm.model, tokenizer: rm.tokenizer, lengths: lengthsOf(rewardSettings) },
      policy: { model: pol.model, tokenizer: pol.tokenizer, reference: ref.model, beta: policySettings.values.beta, lengths: lengthsOf(policySettings) },
      judge,
      batchSize: o.batchSize ?? SCORING_BATCH_SIZE,
      sharePrompt: o.sharePrompt ?? true,
    };
    say(`scoring ${records.length} pairs (reward model, policy, reference${judge ? ', judge' : ''}); policy: ${describeSettings(policySettings, ['beta', 'max_length', 'max_prompt_length', 'truncation_mode'])}`);
    const passes = judge ? 3 : 2; // one pass over the pairs per model (the reference goes with the policy)
    const pairs = await withProgress(records.length * passes, 'scoring pairs', o.quiet, scorers, () => scorePairs(records, scorers));
    const probeRecords = o.probes ? loadProbes(o.probes) : [];
    if (probeRecords.length) say(`scoring ${probeRecords.length} probes`);
    const probes = probeRecords.length ? await withProgress(probeRecords.length * passes, 'scoring probes', o.quiet, scorers, () => scoreProbes(probeRecords, scorers)) : [];
    const beta = policySettings.values.beta;
    const summary = summarise(pairs, probes, {
      seed: o.seed ?? DEFAULT_SEED, bootstrap: o.bootstrap, topK: o.topK, beta, scoring: { policy: policySettings, reward_model: rewardSettings },
    });
    const logs = [metricsNear(o.rewardModel, 'reward'), metricsNear(o.policy, 'dpo'), metricsNear(o.judge, 'judge')].filter((x): x is MetricsLog => x !== null);
    const subtitle = [
      `reward model ${rm.source}`,
      `policy ${pol.source}`,
      `reference ${ref.source}`,
      ...(judge ? [`judge ${o.judge} (labels ${judge.judge.template.labels.join('/')})`] : []),
      describeSettings(policySettings, ['beta']),
      `${records.length} held-out pairs`,
    ].join(' · ');
    return { summary, subtitle, metricsLogs: logs };
  } finally {
    models.dispose();
  }
}

/** The three models (and the judge), frozen; a reward model without a score head is refused. The caller disposes them. */
function loadModels(o: ComparisonOptions, refSpec: string) {
  const rm = loadRewardModel(o.rewardModel!, { tokenizer: o.tokenizer, trainable: false });
  if (rm.fresh) {
    rm.model.dispose();
    throw new ComparisonInputError(`--reward-model ${o.rewardModel} is not a reward model (it has no score head); train one with rlhf reward`);
  }
  const loaded: { model: { dispose(): void } }[] = [rm];
  const dispose = () => loaded.forEach((m) => m.model.dispose());
  try {
    const pol = loadPolicy(o.policy!, { tokenizer: o.tokenizer, trainable: false });
    loaded.push(pol);
    const ref = loadPolicy(refSpec, { tokenizer: o.tokenizer, trainable: false, seed: o.seed ?? DEFAULT_SEED });
    loaded.push(ref);
    // The judge reads with its own tokenizer (its labels are checked against it), never --tokenizer.
    const judge = o.judge ? judgeReward(o.judge, { template: o.judgeTemplate, labels: o.judgeLabels, seed: o.seed ?? DEFAULT_SEED }) : null;
    if (judge) loaded.push({ model: judge });
    return { rm, pol, ref, judge, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}
