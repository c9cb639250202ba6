/**
 * runFrontierAudit: the whole reward–KL frontier as one library call (`rlhf frontier` and the recipes'
 * frontier stage): load the start policy, the proxies and the gold from their specs, the prompts from a file,
 * find the RL checkpoints of each run folder, run frontier/frontier.ts, then write frontier.json, frontier.md,
 * samples.jsonl and report.html (./frontier.ts).
 *
 * Every input is checked before any sampling (specs parse, RL folders hold checkpoints, n-max is an integer
 * >= 1, the gold scores every prompt), and nothing is written until everything is computed: a failure leaves
 * the output folder as it was.
 * Does NOT: parse command lines (cli/frontier.ts) or run recipes (run/).
 */
import * as fs from 'fs';
import * as path from 'path';
import { promptText, readPrompts } from '../data/prompts';
import { currentBackend, initBackend } from '../backend';
import { FINAL_DIR, loadCheckpointMeta, META_FILE } from '../io/checkpoint';
import { loadPolicy } from '../io/load-model';
import { promptTokens } from '../model/sample-prompts';
import { FrontierError, runFrontier, type FrontierPrompt, type FrontierResult, type LoadedLM, type PolicyToPlace } from '../frontier';
import { parseRewardSpec, parseRewardSpecs } from '../rewards/spec';
import type { RewardSource } from '../rewards/types';
import type { Tokenizer } from '../tokenizer/types';
import { writeFrontierReport, type FrontierPaths, type FrontierSettings } from './frontier';

export interface FrontierAuditOptions {
  /** The start policy (a checkpoint or run folder, HF folder, .bin). */
  policy: string;
  /** Proxy reward specs (rewards/spec.ts): a reward checkpoint, implicit:POLICY, fn:FILE.mjs, oracle. */
  proxies: string[];
  /** The gold reward spec. */
  gold: string;
  /** A prompts file: {prompt} rows or preference records (data/prompts.ts); each distinct prompt once. */
  prompts: string;
  out: string;
  /** @default 64 */
  nMax?: number;
  /** RL run folders: each checkpoint-<N>/ inside is a point. */
  rlRuns?: string[];
  /** Trained policies to place (e.g. the DPO policy). */
  policyPoints?: string[];
  /** @default 0 */
  seed?: number;
  /** @default 64 */
  maxNewTokens?: number;
  /** Distinct prompts used at most (in file order). @default all */
  maxPrompts?: number;
  /** @default 8 */
  samplesPerPolicy?: number;
  tokenizer?: string;
  batchSize?: number;
  /** The backend to start when none is active yet, or to switch to (a recipe's; the CLI starts its own). @default auto */
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  log?: (line: string) => void;
}

export interface FrontierAuditResult {
  result: FrontierResult;
  paths: FrontierPaths;
  settings: FrontierSettings;
  wall_s: number;
}

/**
 * Each distinct prompt of a prompts file once, in file order (a prompts file or preference records, as
 * data/prompts.ts reads them), as text (what the rewards see) and as the policy's ids.
 */
export async function loadFrontierPrompts(file: string, tok: Tokenizer, max?: number): Promise<FrontierPrompt[]> {
  const seen = new Set<string>();
  const out: FrontierPrompt[] = [];
  for await (const p of readPrompts(file)) {
    const text = promptText(p, tok.chatTemplate);
    if (seen.has(text)) continue;
    seen.add(text);
    out.push({ text, ids: promptTokens(p, tok), source: p.source });
    if (max !== undefined && out.length >= max) break;
  }
  return out;
}

/**
 * The checkpoints of an RL run folder by step: each checkpoint-<N>/, and final/ (its step from its rlhf.json)
 * unless a checkpoint-<N>/ has that step already. Neither is an error naming the folder.
 */
export function rlCheckpoints(dir: string): Array<{ step: number; path: string }> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new FrontierError(`--rl-run ${dir} is not a folder; pass the output folder of rlhf grpo, rloo or online-dpo`);
  const found = fs.readdirSync(dir)
    .map((name) => ({ m: /^checkpoint-(\d+)$/.exec(name), name }))
    .filter((x) => x.m !== null && fs.statSync(path.join(dir, x.name)).isDirectory())
    .map((x) => ({ step: Number(x.m![1]), path: path.join(dir, x.name) }));
  const final = path.join(dir, FINAL_DIR);
  if (fs.existsSync(path.join(final, META_FILE))) {
    const step = loadCheckpointMeta(final).step;
    if (!found.some((c) => c.step === step)) found.push({ step, path: final });
  }
  if (found.length === 0) {
    throw new FrontierError(`--rl-run ${dir} holds no checkpoint-<N>/ or final/ folder; pass the output folder of an RL run (rlhf grpo, rloo or online-dpo)`);
  }
  return found.sort((a, b) => a.step - b.step);
}

function checkLimits(o: FrontierAuditOptions): void {
  const positive = (v: number | undefined, flag: string) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new FrontierError(`${flag} must be an integer >= 1; got ${v}`);
  };
  positive(o.nMax, '--n-max');
  positive(o.maxNewTokens, '--max-new-tokens');
  positive(o.maxPrompts, '--max-prompts');
  positive(o.samplesPerPolicy, '--policy-samples');
}

export async function runFrontierAudit(o: FrontierAuditOptions): Promise<FrontierAuditResult> {
  const t0 = performance.now();
  checkLimits(o);
  const rl = (o.rlRuns ?? []).map((dir) => ({ dir, checkpoints: rlCheckpoints(dir) }));
  for (const p of o.policyPoints ?? []) {
    if (!fs.existsSync(p)) throw new FrontierError(`--policy-point ${p} does not exist; pass a trained policy's checkpoint or run folder`);
  }
  // `rlhf run` with every training stage skipped reaches here with no backend: start one (TF.js' JS cpu would be ~10x slower).
  if (!currentBackend() || (o.backend && o.backend !== 'auto' && currentBackend()!.name !== o.backend)) await initBackend(o.backend);
  const ctx = { tokenizer: o.tokenizer, batchSize: o.batchSize, seed: o.seed };
  const start: LoadedLM = loadPolicy(o.policy, { tokenizer: o.tokenizer, trainable: false });
  const sources: RewardSource[] = [];
  try {
    const prompts = await loadFrontierPrompts(o.prompts, start.tokenizer, o.maxPrompts);
    sources.push(...parseRewardSpecs(o.proxies, ctx));
    sources.push(parseRewardSpec(o.gold, ctx));
    const gold = sources[sources.length - 1];
    const load = (p: string) => (): LoadedLM => loadPolicy(p, { tokenizer: o.tokenizer, trainable: false });
    const policies: PolicyToPlace[] = [
      ...(o.policyPoints ?? []).map((p): PolicyToPlace => ({ method: 'policy', label: p, load: load(p) })),
      ...rl.flatMap((run) => run.checkpoints.map((c): PolicyToPlace => ({ method: 'rl', label: run.dir, step: c.step, load: load(c.path) }))),
    ];
    const settings: FrontierSettings = {
      policy: o.policy, prompts: o.prompts, n_max: o.nMax ?? 64, seed: o.seed ?? 0, max_new_tokens: o.maxNewTokens ?? 64,
      samples_per_policy: o.samplesPerPolicy ?? 8, rl_runs: o.rlRuns ?? [], policy_points: o.policyPoints ?? [],
    };
    const result = await runFrontier(start, prompts, sources.slice(0, -1), gold, policies, {
      nMax: settings.n_max, seed: settings.seed, maxNewTokens: settings.max_new_tokens, samplesPerPolicy: settings.samples_per_policy,
      batchSize: o.batchSize, log: o.log,
    });
    const wall = (performance.now() - t0) / 1000;
    return { result, settings, wall_s: wall, paths: writeFrontierReport(path.resolve(o.out), result, settings, wall) };
  } finally {
    sources.forEach((s) => s.dispose?.());
    start.model.dispose();
  }
}

/** The summary the CLI prints as its last line: where the files are and the headline per proxy. */
export function frontierSummary(a: FrontierAuditResult): Record<string, unknown> {
  return {
    frontier: a.paths.json, report: a.paths.html, prompts: a.result.counts.prompts, n_max: a.settings.n_max, points: a.result.points.length,
    headline: a.result.headline, verdict: a.result.sentence, wall_s: a.wall_s,
  };
}
