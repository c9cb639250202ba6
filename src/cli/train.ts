/** `rlhf sft | reward | dpo | judge`: one training stage from a recipe and/or flags; prints summary.json's object last. */
import type { Argv, CommandModule } from 'yargs';
import type { Recipe } from '../recipes/schema';
import { trainDpo, trainJudge, trainReward, trainSft, StageOptions, StageSummary } from '../train/stages';
import { fieldHelp, FLAG_KEYS, recipeFromArgs, Stage, trainingOptions } from './options';
import { printResult } from './output';

const TRAINERS: Record<Stage, (recipe: Recipe, o: StageOptions) => Promise<StageSummary>> = { sft: trainSft, reward: trainReward, dpo: trainDpo, judge: trainJudge };

const DESCRIBE: Record<Stage, string> = {
  sft: 'Supervised fine-tuning on chosen responses (makes a reference policy)',
  reward: 'Train a Bradley-Terry reward model on preference pairs',
  dpo: 'Direct Preference Optimization of a policy against a frozen reference',
  judge: 'Train a generative judge: SFT on preference pairs framed as "which answer is better?" prompts, the better label as target, both orders',
};

function builder(stage: Stage) {
  return (y: Argv) => {
    let b = trainingOptions(y);
    if (stage === 'dpo') {
      b = b
        .option('reference', { type: 'string', describe: fieldHelp(FLAG_KEYS.reference) })
        .option('beta', { type: 'number', describe: fieldHelp(FLAG_KEYS.beta) })
        .option('loss-type', { type: 'string', describe: `${fieldHelp(FLAG_KEYS['loss-type'])} A list is comma-separated here (--set dpo.loss_weights=[..] weighs it).` });
    }
    if (stage === 'reward') {
      b = b
        .option('center-rewards-coefficient', { type: 'number', describe: fieldHelp(FLAG_KEYS['center-rewards-coefficient']) })
        .option('margin', { type: 'boolean', describe: `${fieldHelp(FLAG_KEYS.margin)} --no-margin turns it off.` });
    }
    if (stage === 'judge') {
      b = b
        .option('template', { type: 'string', describe: fieldHelp(FLAG_KEYS.template) })
        .option('labels', { type: 'string', describe: `${fieldHelp(FLAG_KEYS.labels)} Comma-separated here: --labels B,T.` });
    }
    const ex: Record<Stage, [string, string][]> = {
      sft: [['rlhf sft --model config:tiny --data data/prefs.jsonl --out checkpoints/sft-tiny --max-steps 200', 'SFT a tiny model from scratch on chosen responses']],
      reward: [
        ['rlhf reward --model ../shared/models/stories260K/hf --data prefs.json --eval-count 100 --out checkpoints/rm', 'Reward model from a pretrained backbone'],
        ['rlhf reward --recipe recipes/reward-only.json --set reward.learning_rate=1e-3', 'From a recipe, with an override'],
      ],
      dpo: [
        ['rlhf dpo --model checkpoints/sft-tiny --data data/prefs.jsonl --beta 0.1 --out checkpoints/dpo', 'DPO (reference = the starting model)'],
        ['rlhf dpo --recipe recipes/dpo-ipo.json --resume --out checkpoints/dpo-ipo', 'Continue an interrupted run exactly'],
      ],
      judge: [
        ['rlhf judge --model config:tiny --data data/prefs.jsonl --eval-data data/prefs-eval.jsonl --out checkpoints/judge', 'A judge from scratch (byte tokenizer: labels A and B)'],
        ['rlhf judge --model ../shared/models/stories260K/stories260K.bin --labels B,T --data data/prefs.jsonl --eval-data data/prefs-eval.jsonl --out checkpoints/judge-260k', 'From stories260K (its tokenizer has no single-token "A")'],
      ],
    };
    for (const [cmd, what] of ex[stage]) b = b.example(cmd, what);
    return b;
  };
}

function trainCommand(stage: Stage): CommandModule {
  return {
    command: stage,
    describe: DESCRIBE[stage],
    builder: builder(stage),
    handler: async (argv) => {
      const recipe = recipeFromArgs(argv, stage);
      const resume = argv.resume === undefined || argv.resume === false ? undefined : argv.resume === true || argv.resume === '' ? true : String(argv.resume);
      const summary: StageSummary = await TRAINERS[stage](recipe, {
        out: argv.out as string | undefined,
        overwrite: argv.overwrite as boolean,
        resume,
        quiet: argv.quiet as boolean,
      });
      printResult(summary);
      if (summary.stopped_by === 'signal') process.exitCode = 130;
    },
  };
}

export const sftCommand = trainCommand('sft');
export const rewardCommand = trainCommand('reward');
export const dpoCommand = trainCommand('dpo');
export const judgeCommand = trainCommand('judge');
