/**
 * `rlhf compare` and `rlhf score`: argument plumbing into compareRewards (report/compare.ts) and
 * scoreResponses (compare/score.ts). Scoring settings given here (flags, the recipe's compare section) are
 * overrides; what they leave out comes from each model's rlhf.json (io/scoring-settings.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { CommandModule } from 'yargs';
import { currentBackend, initBackend, BackendRequest } from '../backend';
import { compareRewards } from '../report/compare';
import { COMPARISON_FILE, headline } from '../report/report';
import { scoreResponses } from '../compare/score';
import { loadTrainEval } from '../data';
import { TRUNCATION_MODES } from '../data/collate';
import type { FormatChoice } from '../data/formats';
import type { PreferenceRecord } from '../data/types';
import { withOutputLock } from '../io/lock';
import { overridesFrom, type ScoringOverrides, type ScoringSettings } from '../io/scoring-settings';
import { loadRecipe, parseSetOption } from '../recipes/load';
import type { Recipe } from '../recipes/schema';
import { compareScoringOverrides } from '../recipes/scoring';
import { UsageError } from './errors';
import { fieldHelp, formatOption } from './options';
import { printResult } from './output';

/** The scoring flags compare and score share (the recipe's compare fields, same text); each overrides what the model's rlhf.json recorded. */
const scoringOptions = {
  beta: { type: 'number', describe: fieldHelp('compare.beta') },
  'max-length': { type: 'number', describe: fieldHelp('compare.max_length') },
  'max-prompt-length': { type: 'number', describe: fieldHelp('compare.max_prompt_length') },
  'truncation-mode': { type: 'string', choices: TRUNCATION_MODES, describe: fieldHelp('compare.truncation_mode') },
} as const;

/** Flags as labelled overrides ("--beta"). */
function flagOverrides(argv: Record<string, unknown>): ScoringOverrides {
  const values: Partial<ScoringSettings> = {
    beta: argv.beta as number | undefined,
    max_length: argv['max-length'] as number | undefined,
    max_prompt_length: argv['max-prompt-length'] as number | undefined,
    truncation_mode: argv['truncation-mode'] as ScoringSettings['truncation_mode'] | undefined,
  };
  return overridesFrom(values, (f) => `--${f.replace(/_/g, '-')}`);
}

/** The recipe's compare section as overrides ("recipe compare.beta"), under the flags. */
function compareOverrides(r: Recipe | null, argv: Record<string, unknown>): ScoringOverrides {
  return { ...(r ? compareScoringOverrides(r.compare) : {}), ...flagOverrides(argv) };
}

/** Held-out pairs: --data, else the recipe's eval file, else its seeded eval split (the pairs its trainers evaluated on). */
async function heldOutPairs(argv: Record<string, unknown>, r: Recipe | null): Promise<string | PreferenceRecord[]> {
  const data = (argv.data as string | undefined) ?? r?.data.eval;
  if (data) return data;
  if (r && (r.data.eval_count !== undefined || r.data.eval_fraction !== undefined)) {
    return (await loadTrainEval({ data: r.data.train, evalCount: r.data.eval_count, evalFraction: r.data.eval_fraction, seed: r.seed }, { skipInvalid: r.data.skip_invalid, format: r.data.format })).eval;
  }
  throw new UsageError('compare needs held-out pairs: pass --data FILE (e.g. --data data/prefs-eval.jsonl), or a --recipe with data.eval or data.eval_count');
}

/** --judge-labels B,T -> ["B", "T"]; anything but two labels is a usage error. */
function judgeLabelsOf(v: string | undefined): [string, string] | undefined {
  if (v === undefined) return undefined;
  const l = v.split(',').map((x) => x.trim());
  if (l.length !== 2 || !l[0] || !l[1] || l[0] === l[1]) throw new UsageError(`--judge-labels ${v}: expected two different labels separated by a comma, e.g. --judge-labels B,T`);
  return [l[0], l[1]];
}

export const compareCommand: CommandModule = {
  command: 'compare',
  describe: 'Compare a reward model\'s scores with DPO\'s implicit reward on held-out pairs and probes; writes comparison.json/.md and report.html',
  builder: (y) =>
    y
      .option('recipe', { type: 'string', describe: 'Take reward_model/policy/reference/probes/beta from a recipe\'s compare section' })
      .option('set', { type: 'string', array: true })
      .option('reward-model', { type: 'string', describe: fieldHelp('compare.reward_model') })
      .option('policy', { type: 'string', describe: fieldHelp('compare.policy') })
      .option('reference', { type: 'string', describe: fieldHelp('compare.reference') })
      .option('data', { type: 'string', describe: 'Held-out preference pairs' })
      .option('format', formatOption)
      .option('probes', { type: 'string', describe: fieldHelp('compare.probes') })
      .option('judge', { type: 'string', describe: fieldHelp('compare.judge') })
      .option('judge-template', { type: 'string', describe: fieldHelp('compare.judge_template') })
      .option('judge-labels', { type: 'string', describe: `${fieldHelp('compare.judge_labels')} Comma-separated here: --judge-labels B,T.` })
      .options(scoringOptions)
      .option('tokenizer', { type: 'string' })
      .option('bootstrap', { type: 'number', describe: fieldHelp('compare.bootstrap') })
      .option('top-k', { type: 'number', describe: fieldHelp('compare.top_k') })
      .option('seed', { type: 'number', default: 42 })
      .option('out', { type: 'string', demandOption: true, describe: 'Output folder for the report' })
      .option('overwrite', { type: 'boolean', default: false })
      .example('rlhf compare --reward-model checkpoints/quickstart/reward --policy checkpoints/quickstart/dpo --data data/prefs-eval.jsonl --probes data/probes --out reports/q', 'Full comparison with probes')
      .example('rlhf compare --reward-model checkpoints/quickstart/reward --policy checkpoints/quickstart/dpo --judge checkpoints/quickstart/judge --data data/prefs-eval.jsonl --out reports/q3', 'Three rewards: reward model, DPO, generative judge'),
  handler: async (argv) => {
    const r = argv.recipe ? loadRecipe(argv.recipe as string, ((argv.set as string[]) ?? []).map(parseSetOption)) : null;
    const data = await heldOutPairs(argv, r);
    const out = path.resolve(argv.out as string);
    const res = await withOutputLock(out, () => {
      if (fs.existsSync(path.join(out, COMPARISON_FILE)) && !argv.overwrite) {
        throw new UsageError(`${out} already holds a comparison; pass --overwrite to replace it or choose another --out`);
      }
      return compareRewards({
        rewardModel: (argv['reward-model'] as string | undefined) ?? r?.compare.reward_model,
        policy: (argv.policy as string | undefined) ?? r?.compare.policy,
        reference: (argv.reference as string | undefined) ?? r?.compare.reference,
        data,
        format: argv.format as FormatChoice | undefined,
        probes: (argv.probes as string | undefined) ?? r?.compare.probes,
        judge: (argv.judge as string | undefined) ?? r?.compare.judge,
        judgeTemplate: (argv['judge-template'] as string | undefined) ?? r?.compare.judge_template,
        judgeLabels: judgeLabelsOf(argv['judge-labels'] as string | undefined) ?? r?.compare.judge_labels,
        out,
        overrides: compareOverrides(r, argv),
        seed: argv.seed as number,
        bootstrap: (argv.bootstrap as number | undefined) ?? r?.compare.bootstrap,
        topK: (argv['top-k'] as number | undefined) ?? r?.compare.top_k,
        sharePrompt: r?.compare.share_prompt,
        tokenizer: argv.tokenizer as string | undefined,
        // flag > the recipe's backend (its file, --set, else RLHF_BACKEND) > RLHF_BACKEND > auto
        backend: (argv.backend as BackendRequest | undefined) ?? r?.backend,
        quiet: argv.quiet as boolean,
      });
    });
    process.stderr.write(`report: ${res.paths.html}\n`);
    printResult({ ...headline(res.summary, res.paths.html), backend: currentBackend()?.name ?? null });
  },
};

export const scoreCommand: CommandModule = {
  command: 'score',
  describe: 'Score each response of each pair: explicit reward (reward model), or implicit reward with --reference; one JSONL row per response',
  builder: (y) =>
    y
      .option('model', { type: 'string', describe: 'A reward checkpoint, or a policy (then --reference gives the implicit reward)' })
      .option('reward', { type: 'string', describe: 'Instead of --model: a reward spec (a reward checkpoint, implicit:POLICY, implicit-mean:POLICY, fn:FILE.mjs, oracle; see rlhf bon --help)' })
      .option('reference', { type: 'string', describe: 'Reference for the implicit reward beta*(log pi - log pi_ref)' })
      .options(scoringOptions)
      .option('data', { type: 'string', demandOption: true })
      .option('format', formatOption)
      .option('tokenizer', { type: 'string' })
      .option('batch-size', { type: 'number', describe: fieldHelp('compare.batch_size') })
      .option('out', { type: 'string', describe: 'Write rows to this .jsonl file (default: stdout)' })
      .example('rlhf score --model checkpoints/quickstart/reward --data data/prefs-eval.jsonl --out scores.jsonl', 'Reward-model scores')
      .example('rlhf score --model checkpoints/quickstart/dpo --reference checkpoints/quickstart/sft --data data/prefs-eval.jsonl', 'Implicit DPO rewards')
      .example('rlhf score --reward oracle --data data/prefs-eval.jsonl', 'Any reward spec: here the shipped data\'s oracle'),
  handler: async (argv) => {
    await initBackend(argv.backend as BackendRequest | undefined);
    const res = await scoreResponses({
      model: argv.model as string | undefined,
      reward: argv.reward as string | undefined,
      reference: argv.reference as string | undefined,
      data: argv.data as string,
      format: argv.format as FormatChoice | undefined,
      tokenizer: argv.tokenizer as string | undefined,
      batchSize: argv['batch-size'] as number,
      overrides: flagOverrides(argv),
      quiet: argv.quiet as boolean,
    });
    const settings = res.settings ? { values: res.settings.values, sources: res.settings.sources } : null;
    const text = res.rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    if (argv.out) {
      fs.mkdirSync(path.dirname(path.resolve(argv.out as string)), { recursive: true });
      fs.writeFileSync(argv.out as string, text);
      printResult({ rows: res.rows.length, out: path.resolve(argv.out as string), settings, ...(res.source ? { reward: res.source } : {}), backend: currentBackend()?.name ?? null });
    } else {
      if (!argv.quiet) process.stderr.write(`scored with ${JSON.stringify(settings)}\n`);
      process.stdout.write(text);
    }
  },
};
