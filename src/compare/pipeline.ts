/**
 * compareRewards: the whole comparison as one library call — load the reward model, the DPO policy
 * and its reference, score held-out pairs and probes, summarise, and write comparison.json,
 * comparison.md and report.html (with the runs' training curves when their metrics.jsonl is found).
 *
 * Does NOT: train (train/) or parse command lines (cli/).
 */
import * as fs from 'fs';
import * as path from 'path';
import { currentBackend, initBackend } from '../backend';
import { loadPreferences } from '../data';
import type { FormatName } from '../data/formats';
import type { PreferenceRecord } from '../data/types';
import { loadPolicy, loadRewardModel, resolveModelPath } from '../io/load-model';
import { readMetricsLog } from './metrics-log';
import { writeReport, ReportPaths } from './report';
import { loadProbes, scorePairs, scoreProbes, Scorers } from './scoring';
import { summarise, ComparisonSummary } from './summary';
import { ComparisonInputError, MetricsLog } from './types';

export interface CompareOptions {
  rewardModel?: string;
  policy?: string;
  /** Reference of the policy (default: the policy checkpoint's parent, as recorded in its rlhf.json). */
  reference?: string;
  /** Held-out pairs: a file spec, or records already loaded. */
  data: string | PreferenceRecord[];
  format?: FormatName;
  probes?: string;
  out: string;
  beta: number;
  seed?: number;
  bootstrap?: number;
  topK?: number;
  batchSize?: number;
  maxLength?: number;
  /** Prompt tokens kept when scoring (match the training setting). @default maxLength / 2 */
  maxPromptLength?: number | null;
  /** Score each pair in one row with its prompt computed once (the same scores). @default true */
  sharePrompt?: boolean;
  tokenizer?: string;
  /** Backend to score on when none is active yet, or a different one is named. @default RLHF_BACKEND, else auto */
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  title?: string;
  quiet?: boolean;
}

export interface CompareResult {
  summary: ComparisonSummary;
  paths: ReportPaths;
}

/** The parent recorded in a checkpoint's rlhf.json (DPO records its reference's source there). */
function recordedParent(spec: string): string | null {
  const meta = path.join(resolveModelPath(spec), 'rlhf.json');
  if (!fs.existsSync(meta)) return null;
  const p = JSON.parse(fs.readFileSync(meta, 'utf8')).parent;
  return typeof p === 'string' && (p.startsWith('config:') || fs.existsSync(p)) ? p : null;
}

/** metrics.jsonl beside a run's final/ folder, if the model came from a run folder. */
function metricsNear(spec: string | undefined, name: string): MetricsLog | null {
  if (!spec) return null;
  const dir = resolveModelPath(spec);
  for (const cand of [path.join(dir, 'metrics.jsonl'), path.join(path.dirname(dir), 'metrics.jsonl')]) {
    if (fs.existsSync(cand)) return readMetricsLog(cand, name);
  }
  return null;
}

export async function compareRewards(o: CompareOptions): Promise<CompareResult> {
  // summarise() needs both scores of every pair; fail here, before loading and scoring, not after.
  if (!o.rewardModel || !o.policy) {
    const got = o.rewardModel ? 'only a reward model' : o.policy ? 'only a policy' : 'neither';
    throw new ComparisonInputError(`compare needs a reward model (--reward-model) and a DPO policy (--policy); got ${got}. To score one model alone use rlhf score`);
  }
  if (!currentBackend() || (o.backend && o.backend !== 'auto' && currentBackend()!.name !== o.backend)) await initBackend(o.backend);
  const say = (l: string) => { if (!o.quiet) process.stderr.write(l + '\n'); };
  const records = typeof o.data === 'string' ? (await loadPreferences(o.data, { format: o.format })).records : o.data;
  if (records.length < 2) throw new ComparisonInputError(`compare needs at least 2 held-out pairs; got ${records.length}`);

  const rm = o.rewardModel ? loadRewardModel(o.rewardModel, { tokenizer: o.tokenizer, trainable: false }) : null;
  if (rm?.fresh) {
    rm.model.dispose();
    throw new ComparisonInputError(`--reward-model ${o.rewardModel} is not a reward model (it has no score head); train one with rlhf reward`);
  }
  const pol = o.policy ? loadPolicy(o.policy, { tokenizer: o.tokenizer, trainable: false }) : null;
  const refSpec = o.policy ? o.reference ?? recordedParent(o.policy) : null;
  if (o.policy && !refSpec) {
    rm?.model.dispose();
    pol?.model.dispose();
    throw new ComparisonInputError(`--policy ${o.policy}: no reference given and none recorded in its rlhf.json; pass --reference (the model DPO started from)`);
  }
  const ref = refSpec ? loadPolicy(refSpec, { tokenizer: o.tokenizer, trainable: false, seed: o.seed ?? 42 }) : null;
  try {
    const scorers: Scorers = {
      reward: rm ? { model: rm.model, tokenizer: rm.tokenizer } : null,
      policy: pol ? { model: pol.model, tokenizer: pol.tokenizer, reference: ref?.model ?? null } : null,
      beta: o.beta,
      batchSize: o.batchSize ?? 16,
      maxLength: o.maxLength ?? 256,
      maxPromptLength: o.maxPromptLength === undefined ? Math.floor((o.maxLength ?? 256) / 2) : o.maxPromptLength,
      sharePrompt: o.sharePrompt ?? true,
    };
    say(`scoring ${records.length} pairs (${[rm && 'reward model', pol && 'policy', ref && 'reference'].filter(Boolean).join(', ')})`);
    const pairs = await scorePairs(records, scorers);
    const probeRecords = o.probes ? loadProbes(o.probes) : [];
    if (probeRecords.length) say(`scoring ${probeRecords.length} probes`);
    const probes = probeRecords.length ? await scoreProbes(probeRecords, scorers) : [];
    const summary = summarise(pairs, probes, { seed: o.seed ?? 42, bootstrap: o.bootstrap ?? 1000, topK: o.topK ?? 10, beta: o.beta });
    const logs = [metricsNear(o.rewardModel, 'reward'), metricsNear(o.policy, 'dpo')].filter((x): x is MetricsLog => x !== null);
    const subtitle = [
      rm && `reward model ${rm.source}`,
      pol && `policy ${pol.source}`,
      ref && `reference ${ref.source}`,
      `beta ${o.beta}`,
      `${records.length} held-out pairs`,
    ].filter(Boolean).join(' · ');
    const paths = writeReport(path.resolve(o.out), summary, { title: o.title, subtitle, metricsLogs: logs });
    return { summary, paths };
  } finally {
    rm?.model.dispose();
    pol?.model.dispose();
    ref?.model.dispose();
  }
}
