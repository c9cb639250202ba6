/**
 * `rlhf bon`: best-of-n. Plumbing into bestOfNRun (rewards/bon.ts) under the output folder's lock; the summary
 * JSON is the last stdout line. Reward specs are parsed by rewards/spec.ts (`rlhf bon --help` lists the forms).
 */
import type { CommandModule } from 'yargs';
import { currentBackend, initBackend, BackendRequest } from '../backend';
import { TRUNCATION_MODES } from '../data/collate';
import { withOutputLock } from '../io/lock';
import { overridesFrom, type ScoringSettings } from '../io/scoring-settings';
import { acceptedSpecs, parseWeights } from '../rewards';
import { bestOfNRun, BON_DEFAULTS } from '../rewards/bon';
import { printResult } from './output';

export const bonCommand: CommandModule = {
  command: 'bon',
  describe: 'Best-of-n: sample max(n) completions per prompt once, pick the best by a reward for every n; writes bon.json, chosen.jsonl, samples.jsonl',
  builder: (y) =>
    y
      .option('policy', { type: 'string', demandOption: true, describe: 'The policy to sample from (checkpoint/run folder, HF folder, llama2.c .bin)' })
      .option('tokenizer', { type: 'string', describe: 'Tokenizer (default: each model\'s own)' })
      .option('reward', { type: 'string', array: true, demandOption: true, describe: `Reward spec; repeat to combine (with --reward-weights). Forms: ${acceptedSpecs()}; options after ?, e.g. runs/rm?truncation_mode=keep_end` })
      .option('reward-weights', { type: 'string', describe: 'One weight per --reward, comma-separated (default: all 1)' })
      .option('gold', { type: 'string', describe: 'A reward spec the picks are also measured by (not picked by), e.g. oracle' })
      .option('prompts', { type: 'string', demandOption: true, describe: 'Prompts file (.jsonl, .json, .arrow, .parquet, HF folder): a "prompt" column (string or chat messages) or preference records' })
      .option('n', { type: 'string', demandOption: true, describe: 'Sample counts, comma-separated, e.g. 1,4,16 (max(n) samples are drawn once)' })
      .option('out', { type: 'string', demandOption: true, describe: 'Output folder' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an existing bon.json' })
      .option('seed', { type: 'number', default: BON_DEFAULTS.seed })
      .option('max-new-tokens', { type: 'number', default: BON_DEFAULTS.maxNewTokens })
      .option('temperature', { type: 'number', default: BON_DEFAULTS.temperature, describe: '0 = greedy' })
      .option('top-k', { type: 'number', default: BON_DEFAULTS.topK, describe: '0 = off' })
      .option('top-p', { type: 'number', default: BON_DEFAULTS.topP, describe: '1 = off' })
      .option('min-p', { type: 'number', default: BON_DEFAULTS.minP, describe: '0 = off' })
      .option('batch-size', { type: 'number', default: BON_DEFAULTS.batchSize, describe: 'Prompts per sampling batch' })
      .option('beta', { type: 'number', describe: 'β of implicit: rewards (default: the policy\'s rlhf.json)' })
      .option('max-length', { type: 'number', describe: 'Scoring max_length of model rewards (default: each model\'s rlhf.json)' })
      .option('max-prompt-length', { type: 'number', describe: 'Scoring max_prompt_length of model rewards (default: each model\'s rlhf.json)' })
      .option('truncation-mode', { type: 'string', choices: TRUNCATION_MODES, describe: 'Scoring truncation of model rewards (default: each model\'s rlhf.json)' })
      .option('fn-timeout', { type: 'number', describe: 'Seconds one call of an fn: reward may take (default 10)' })
      .example('rlhf bon --policy checkpoints/quickstart/dpo --reward checkpoints/quickstart/reward --gold oracle --prompts data/prefs-eval.jsonl --n 1,4,16 --out reports/bon', 'Best-of-1/4/16 by the reward model, measured by the oracle'),
  handler: async (argv) => {
    await initBackend(argv.backend as BackendRequest | undefined);
    const overrides = overridesFrom({
      beta: argv.beta as number | undefined,
      max_length: argv['max-length'] as number | undefined,
      max_prompt_length: argv['max-prompt-length'] as number | undefined,
      truncation_mode: argv['truncation-mode'] as ScoringSettings['truncation_mode'] | undefined,
    }, (f) => `--${f.replace(/_/g, '-')}`);
    const out = argv.out as string;
    const summary = await withOutputLock(out, () => bestOfNRun({
      policy: argv.policy as string,
      tokenizer: argv.tokenizer as string | undefined,
      reward: argv.reward as string[],
      rewardWeights: argv['reward-weights'] === undefined ? undefined : parseWeights(argv['reward-weights'] as string),
      gold: argv.gold as string | undefined,
      rewardContext: {
        tokenizer: argv.tokenizer as string | undefined,
        overrides,
        fnTimeoutMs: argv['fn-timeout'] === undefined ? undefined : (argv['fn-timeout'] as number) * 1000,
      },
      prompts: argv.prompts as string,
      n: argv.n as string,
      out,
      overwrite: argv.overwrite as boolean,
      seed: argv.seed as number,
      maxNewTokens: argv['max-new-tokens'] as number,
      temperature: argv.temperature as number,
      topK: argv['top-k'] as number,
      topP: argv['top-p'] as number,
      minP: argv['min-p'] as number,
      batchSize: argv['batch-size'] as number,
      quiet: argv.quiet as boolean,
    }));
    printResult({ ...summary, backend: currentBackend()?.name ?? null });
  },
};
