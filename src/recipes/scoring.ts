/**
 * A recipe's compare section as scoring overrides: the β and lengths it names win over what each model's
 * rlhf.json recorded (io/scoring-settings.ts), and the report names them "recipe compare.<field>".
 * Used by `rlhf run` (run/pipeline.ts) and `rlhf compare --recipe` (cli/compare.ts).
 */
import { overridesFrom, type ScoringOverrides } from '../io/scoring-settings';
import type { CompareRecipe } from './schema';

/** Example: {beta: 0.3} -> {beta: {value: 0.3, source: 'recipe compare.beta'}}; fields left out stay out. */
export function compareScoringOverrides(c: CompareRecipe): ScoringOverrides {
  return overridesFrom(
    { beta: c.beta, max_length: c.max_length, max_prompt_length: c.max_prompt_length, truncation_mode: c.truncation_mode },
    (f) => `recipe compare.${f}`,
  );
}
