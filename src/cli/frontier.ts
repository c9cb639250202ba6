/**
 * `rlhf frontier`: argument plumbing into runFrontierAudit (report/frontier-audit.ts), which samples one pool
 * per prompt from the start policy, places best-of-n, RL checkpoints and trained policies on proxy/gold vs KL,
 * and writes frontier.json, frontier.md, samples.jsonl and report.html. The last stdout line is the summary.
 */
import * as path from 'path';
import type { CommandModule } from 'yargs';
import { currentBackend, initBackend, BackendRequest } from '../backend';
import { withOutputLock } from '../io/lock';
import { frontierSummary, runFrontierAudit } from '../report/frontier-audit';
import { printResult } from './output';

const list = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String));

export const frontierCommand: CommandModule = {
  command: 'frontier',
  describe: 'Reward-KL frontier: what optimising each proxy (best-of-n, RL checkpoints, trained policies) does to a gold reward; writes frontier.json/.md and report.html',
  builder: (y) =>
    y
      .option('policy', { type: 'string', demandOption: true, describe: 'The start policy (the SFT model best-of-n samples from and KL is measured against)' })
      .option('proxy', { type: 'string', array: true, demandOption: true, describe: 'A proxy reward spec (repeatable): a reward checkpoint, implicit:POLICY, fn:FILE.mjs, oracle' })
      .option('gold', { type: 'string', demandOption: true, describe: 'The gold reward spec (e.g. oracle on the shipped data)' })
      .option('prompts', { type: 'string', demandOption: true, describe: 'Prompts: {prompt} rows or preference records (each distinct prompt once)' })
      .option('n-max', { type: 'number', default: 64, describe: 'Samples per prompt in the pool; best-of-n for n = 1, 2, 4, ... up to it' })
      .option('rl-run', { type: 'string', array: true, describe: 'An RL run folder (repeatable): each checkpoint-<N>/ is a point' })
      .option('policy-point', { type: 'string', array: true, describe: 'A trained policy to place by its sampled KL and gold (repeatable), e.g. the DPO policy' })
      .option('policy-samples', { type: 'number', default: 8, describe: 'Samples per prompt for each RL/policy point' })
      .option('max-prompts', { type: 'number', describe: 'Use at most this many distinct prompts (file order)' })
      .option('max-new-tokens', { type: 'number', default: 64 })
      .option('tokenizer', { type: 'string' })
      .option('batch-size', { type: 'number', describe: 'Sequences per scoring forward' })
      .option('seed', { type: 'number', default: 0 })
      .option('out', { type: 'string', demandOption: true, describe: 'Output folder' })
      .example(
        'rlhf frontier --policy checkpoints/quickstart/sft --proxy checkpoints/quickstart/reward --proxy implicit:checkpoints/quickstart/dpo --gold oracle --prompts data/prefs-eval.jsonl --policy-point checkpoints/quickstart/dpo --out checkpoints/quickstart/frontier',
        'Both quickstart rewards against the oracle, with the DPO policy as a point',
      ),
  handler: async (argv) => {
    await initBackend(argv.backend as BackendRequest | undefined);
    const out = path.resolve(argv.out as string);
    const quiet = argv.quiet as boolean;
    const res = await withOutputLock(out, () => runFrontierAudit({
      policy: argv.policy as string,
      proxies: list(argv.proxy),
      gold: argv.gold as string,
      prompts: argv.prompts as string,
      out,
      nMax: argv['n-max'] as number,
      rlRuns: list(argv['rl-run']),
      policyPoints: list(argv['policy-point']),
      samplesPerPolicy: argv['policy-samples'] as number,
      maxPrompts: argv['max-prompts'] as number | undefined,
      maxNewTokens: argv['max-new-tokens'] as number,
      tokenizer: argv.tokenizer as string | undefined,
      batchSize: argv['batch-size'] as number | undefined,
      seed: argv.seed as number,
      log: (line) => !quiet && process.stderr.write(line + '\n'),
    }));
    process.stderr.write(`report: ${res.paths.html}\n`);
    printResult({ ...frontierSummary(res), backend: currentBackend()?.name ?? null });
  },
};
