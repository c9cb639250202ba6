/**
 * The high-level library calls, taking recipes as plain objects (validated and defaulted by the
 * same schema as recipe files) so a TypeScript user writes what a recipe file would say:
 *   await trainReward({ model: 'config:tiny', data: { train: 'data/prefs.jsonl', eval_count: 100 } }, { out: 'runs/rm' })
 * Paths are used as given (relative to the process's working folder).
 */
import { z } from 'zod';
import { compareRewards as compareImpl, CompareOptions, CompareResult } from './report/compare';
import { RecipeError } from './recipes/load';
import { crossFieldIssues } from './recipes/load';
import { Recipe, RecipeSchema } from './recipes/schema';
import { withEnvironment } from './recipes/settings';
import { runPipeline as runImpl, PipelineOptions, PipelineResult } from './run/pipeline';
import { OnlineStageOptions, OnlineStageSummary, trainGrpo as grpoImpl, trainOnlineDpo as onlineDpoImpl } from './train/online-stages';
import { StageOptions, StageSummary, trainDpo as dpoImpl, trainJudge as judgeImpl, trainReward as rewardImpl, trainSft as sftImpl } from './train/stages';

/** A recipe as written: every field optional except data.train; defaults as in `rlhf recipe explain`. */
export type RecipeInput = z.input<typeof RecipeSchema>;

/**
 * Validates and fills defaults; throws RecipeError with every problem listed. A field the object leaves out
 * takes its environment variable when set (RLHF_BACKEND -> backend), as recipe files do (recipes/settings.ts).
 */
export function defineRecipe(input: RecipeInput): Recipe {
  const r = RecipeSchema.safeParse(withEnvironment(input));
  if (!r.success) {
    throw new RecipeError(r.error.issues.map((i) => `✖ ${i.path.join('.') || '(top level)'}: ${i.message}`).join('\n'));
  }
  const cross = crossFieldIssues(r.data);
  if (cross.length) throw new RecipeError(cross.map((c) => `✖ ${c.path}: ${c.message}`).join('\n'));
  return r.data;
}

export const trainSft = (recipe: RecipeInput, o: StageOptions = {}): Promise<StageSummary> => sftImpl(defineRecipe(recipe), o);
export const trainReward = (recipe: RecipeInput, o: StageOptions = {}): Promise<StageSummary> => rewardImpl(defineRecipe(recipe), o);
export const trainDpo = (recipe: RecipeInput, o: StageOptions = {}): Promise<StageSummary> => dpoImpl(defineRecipe(recipe), o);
/** A generative judge by SFT on the pairs framed as judge prompts (the recipe's judge section). */
export const trainJudge = (recipe: RecipeInput, o: StageOptions = {}): Promise<StageSummary> => judgeImpl(defineRecipe(recipe), o);
/** GRPO (or RLOO with grpo.advantage "rloo"); `o.rewards` takes reward sources built in code (e.g. a function). */
export const trainGrpo = (recipe: RecipeInput, o: OnlineStageOptions = {}): Promise<OnlineStageSummary> => grpoImpl(defineRecipe(recipe), o);
export const trainOnlineDpo = (recipe: RecipeInput, o: OnlineStageOptions = {}): Promise<OnlineStageSummary> => onlineDpoImpl(defineRecipe(recipe), o);
export const runPipeline = (recipe: RecipeInput, o: PipelineOptions = {}): Promise<PipelineResult> => runImpl(defineRecipe(recipe), o);
export const compareRewards = (o: CompareOptions): Promise<CompareResult> => compareImpl(o);
