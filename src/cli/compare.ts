/** `rlhf compare` and `rlhf score`: explicit vs implicit rewards side by side, and per-response scores. */
import * as fs from 'fs';
import * as path from 'path';
import type { CommandModule } from 'yargs';
import { currentBackend, initBackend, BackendRequest } from '../backend';
import { compareRewards } from '../compare/pipeline';
import type { ComparisonSummary } from '../compare/summary';
import { scorePairs } from '../compare/scoring';
import { loadPreferences, loadTrainEval } from '../data';
import { withOutputLock } from '../io/lock';
import type { PreferenceRecord } from '../data/types';
import type { FormatName } from '../data/formats';
import { loadPolicy, loadRewardModel } from '../io/load-model';
import { loadRecipe, parseSetOption } from '../recipes/load';
import { UsageError } from './errors';
import { printResult } from './output';

/** The numbers a script wants from a comparison, without the per-pair arrays. */
export function headline(s: ComparisonSummary, report: string): Record<string, unknown> {
  return {
    n_pairs: s.n_pairs,
    explicit: { accuracy: s.explicit.accuracy, accuracy_ci: s.explicit.accuracy_ci, ties: s.explicit.ties },
    implicit: { accuracy: s.implicit.accuracy, accuracy_ci: s.implicit.accuracy_ci, ties: s.implicit.ties },
    agreement: s.agreement,
    agreement_ci: s.agreement_ci,
    correlation: s.correlation,
    report,
  };
}

export const compareCommand: CommandModule = {
  command: 'compare',
  describe: 'Compare a reward model\'s scores with DPO\'s implicit reward on held-out pairs and probes; writes comparison.json/.md and report.html',
  builder: (y) =>
    y
      .option('recipe', { type: 'string', describe: 'Take reward_model/policy/reference/probes/beta from a recipe\'s compare section' })
      .option('set', { type: 'string', array: true })
      .option('reward-model', { type: 'string', describe: 'Reward checkpoint (or run folder)' })
      .option('policy', { type: 'string', describe: 'DPO policy checkpoint (or run folder)' })
      .option('reference', { type: 'string', describe: 'The policy\'s reference (default: recorded in the policy\'s rlhf.json)' })
      .option('data', { type: 'string', describe: 'Held-out preference pairs' })
      .option('format', { type: 'string' })
      .option('probes', { type: 'string', describe: 'Probe JSONL file or folder ({probe, prompt, a, b})' })
      .option('beta', { type: 'number', describe: 'beta of the implicit reward (default: the recipe\'s dpo.beta, else 0.1)' })
      .option('tokenizer', { type: 'string' })
      .option('bootstrap', { type: 'number', describe: 'Bootstrap resamples (default 1000)' })
      .option('top-k', { type: 'number', describe: 'Top disagreements listed (default 10)' })
      .option('max-length', { type: 'number', describe: 'Max tokens per scored sequence (default: the recipe\'s, else 256); match the training setting' })
      .option('max-prompt-length', { type: 'number', describe: 'Prompt tokens kept (default: the recipe\'s, else half of max-length)' })
      .option('seed', { type: 'number', default: 42 })
      .option('out', { type: 'string', demandOption: true, describe: 'Output folder for the report' })
      .option('overwrite', { type: 'boolean', default: false })
      .example('rlhf compare --reward-model checkpoints/quickstart/reward --policy checkpoints/quickstart/dpo --data data/prefs-eval.jsonl --probes data/probes --out reports/q', 'Full comparison with probes'),
  handler: async (argv) => {
    const r = argv.recipe ? loadRecipe(argv.recipe as string, ((argv.set as string[]) ?? []).map(parseSetOption)) : null;
    // Held-out pairs: --data, else the recipe's eval file, else the recipe's seeded eval split of its
    // training data (the very pairs its trainers evaluated on).
    let data: string | PreferenceRecord[] | undefined = (argv.data as string | undefined) ?? r?.data.eval;
    if (!data && r && (r.data.eval_count !== undefined || r.data.eval_fraction !== undefined)) {
      data = (await loadTrainEval({ data: r.data.train, evalCount: r.data.eval_count, evalFraction: r.data.eval_fraction, seed: r.seed }, { skipInvalid: r.data.skip_invalid })).eval;
    }
    if (!data) throw new UsageError('compare needs held-out pairs: pass --data FILE (e.g. --data data/prefs-eval.jsonl), or a --recipe with data.eval or data.eval_count');
    const out = path.resolve(argv.out as string);
    const res = await withOutputLock(out, () => {
      if (fs.existsSync(path.join(out, 'comparison.json')) && !argv.overwrite) {
        throw new UsageError(`${out} already holds a comparison; pass --overwrite to replace it or choose another --out`);
      }
      return compareRewards({
        rewardModel: (argv['reward-model'] as string | undefined) ?? r?.compare.reward_model,
        policy: (argv.policy as string | undefined) ?? r?.compare.policy,
        reference: (argv.reference as string | undefined) ?? r?.compare.reference,
        data,
        format: argv.format as FormatName | undefined,
        probes: (argv.probes as string | undefined) ?? r?.compare.probes,
        out,
        beta: (argv.beta as number | undefined) ?? r?.compare.beta ?? r?.dpo.beta ?? 0.1,
        seed: argv.seed as number,
        bootstrap: (argv.bootstrap as number | undefined) ?? r?.compare.bootstrap,
        topK: (argv['top-k'] as number | undefined) ?? r?.compare.top_k,
        maxLength: (argv['max-length'] as number | undefined) ?? r?.compare.max_length ?? r?.dpo.max_length,
        maxPromptLength: (argv['max-prompt-length'] as number | undefined) ?? (r ? (r.compare.max_prompt_length === undefined ? r.dpo.max_prompt_length : r.compare.max_prompt_length) : undefined),
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
      .option('model', { type: 'string', demandOption: true, describe: 'A reward checkpoint, or a policy (then --reference gives the implicit reward)' })
      .option('reference', { type: 'string', describe: 'Reference for the implicit reward beta*(log pi - log pi_ref)' })
      .option('beta', { type: 'number', default: 0.1 })
      .option('data', { type: 'string', demandOption: true })
      .option('format', { type: 'string' })
      .option('tokenizer', { type: 'string' })
      .option('batch-size', { type: 'number', default: 16 })
      .option('max-length', { type: 'number', default: 256 })
      .option('max-prompt-length', { type: 'number', describe: 'Prompt tokens kept (its end); match the training setting' })
      .option('out', { type: 'string', describe: 'Write rows to this .jsonl file (default: stdout)' })
      .example('rlhf score --model checkpoints/quickstart/reward --data data/prefs-eval.jsonl --out scores.jsonl', 'Reward-model scores')
      .example('rlhf score --model checkpoints/quickstart/dpo --reference checkpoints/quickstart/sft --data data/prefs-eval.jsonl', 'Implicit DPO rewards'),
  handler: async (argv) => {
    await initBackend(argv.backend as BackendRequest | undefined);
    const { records } = await loadPreferences(argv.data as string, { format: argv.format as FormatName | undefined });
    const base = { beta: argv.beta as number, batchSize: argv['batch-size'] as number, maxLength: argv['max-length'] as number, maxPromptLength: (argv['max-prompt-length'] as number | undefined) ?? null };
    const tok = argv.tokenizer as string | undefined;
    let rows: Array<Record<string, unknown>>;
    if (argv.reference) {
      const pol = loadPolicy(argv.model as string, { tokenizer: tok, trainable: false });
      const ref = loadPolicy(argv.reference as string, { tokenizer: tok, trainable: false });
      try {
        const s = await scorePairs(records, { ...base, reward: null, policy: { model: pol.model, tokenizer: pol.tokenizer, reference: ref.model } });
        rows = s.flatMap((p) => (['chosen', 'rejected'] as const).map((side) => ({
          id: p.id, source: p.source, side, implicit_reward: p.implicit[side], policy_logp: p.policyLogps[side], reference_logp: p.referenceLogps[side], tokens: p.tokenCounts[side],
        })));
      } finally {
        pol.model.dispose();
        ref.model.dispose();
      }
    } else {
      const rm = loadRewardModel(argv.model as string, { tokenizer: tok, trainable: false });
      try {
        if (rm.fresh) throw new UsageError(`--model ${argv.model} has no score head; pass a reward checkpoint, or a policy with --reference for implicit rewards`);
        const s = await scorePairs(records, { ...base, reward: { model: rm.model, tokenizer: rm.tokenizer }, policy: null });
        rows = s.flatMap((p) => (['chosen', 'rejected'] as const).map((side) => ({ id: p.id, source: p.source, side, reward: p.explicit[side] })));
      } finally {
        rm.model.dispose();
      }
    }
    const text = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    if (argv.out) {
      fs.mkdirSync(path.dirname(path.resolve(argv.out as string)), { recursive: true });
      fs.writeFileSync(argv.out as string, text);
      printResult({ rows: rows.length, out: path.resolve(argv.out as string), backend: currentBackend()?.name ?? null });
    } else process.stdout.write(text);
  },
};
