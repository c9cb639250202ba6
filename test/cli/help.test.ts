/**
 * One text per setting: a flag that stands for a recipe field shows the schema's description of that field in
 * `--help`, the same words `rlhf recipe explain` prints, so the two cannot disagree.
 */
import { fieldHelp, FLAG_KEYS } from '../../src/cli/options';
import { recipeFieldDocs } from '../../src/recipes/explain';
import { rlhf, rlhfChild } from './helpers';

/** yargs wraps help text to the terminal width: compare with whitespace collapsed. */
const flat = (s: string) => s.replace(/\s+/g, ' ');

const docs = new Map(recipeFieldDocs().map((d) => [d.path, d.description]));

test('every training flag\'s help is its recipe field\'s description', () => {
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const field = key.replace('$stage', 'dpo');
    expect({ flag, text: fieldHelp(key) }).toEqual({ flag, text: docs.get(field) });
  }
  // The stages share their common fields' text, so one stage's copy stands for all three.
  for (const f of ['epochs', 'max_steps', 'batch_size', 'learning_rate', 'max_length', 'max_prompt_length']) {
    expect(new Set(['sft', 'reward', 'dpo'].map((s) => docs.get(`${s}.${f}`))).size).toBe(1);
  }
});

test('--help shows those descriptions, as recipe explain does', async () => {
  const dpo = flat((await rlhfChild(['dpo', '--help'])).stdout);
  for (const key of ['dpo.beta', 'data.format', '$stage.max_prompt_length', 'data.eval_fraction', 'model']) expect({ key, shown: dpo.includes(flat(fieldHelp(key))) }).toEqual({ key, shown: true });
  const compare = flat((await rlhfChild(['compare', '--help'])).stdout);
  for (const key of ['compare.beta', 'compare.truncation_mode', 'compare.reference']) expect({ key, shown: compare.includes(flat(fieldHelp(key))) }).toEqual({ key, shown: true });
  const explain = await rlhf('recipe', 'explain', 'dpo.beta');
  expect(flat(explain.stdout)).toContain(flat(fieldHelp('dpo.beta')));
}, 120_000);
