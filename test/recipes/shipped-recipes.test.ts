/**
 * The recipes shipped in recipes/: each one validates, the inputs it names exist, and a DPO-only recipe
 * runs end to end (SFT reference, then DPO) on tiny `--set` overrides.
 *
 * Paths that may legitimately be absent are skipped by name, never silently:
 *  - byo-hf-template.json: its REPLACE-ME placeholders (a template the user fills in);
 *  - compare-only.json: checkpoints/quickstart/... are outputs of `rlhf run recipes/quickstart.json`
 *    (checked instead to be exactly where the quickstart writes them);
 *  - politeness-*.json: ../shared (the reference material beside the repo): the check is gated on it
 *    (helpers/gates.ts: skipped with the reason, or a failure under RLHF_REQUIRE_ORACLES=1).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { PATH_FIELDS, Recipe } from '../../src/recipes/schema';
import { runPipeline } from '../../src/run/pipeline';
import type { StageSummary } from '../../src/train/stages';
import { testIf } from '../helpers/gates';
import { filesUnder, SHARED_BESIDE_REPO } from '../helpers/shared';

const REPO = path.resolve(__dirname, '../..');
const RECIPES = path.join(REPO, 'recipes');
// The politeness recipes name ../../shared/... relative to themselves: the folder beside the repository (RLHF_SHARED
// cannot move it).
const POLITENESS_INPUTS = filesUnder(SHARED_BESIDE_REPO, ['models/stories260K/hf/model.safetensors', 'data/politeness-dpo.json'],
  '../shared beside the repository (recipes/politeness-*.json read it)', 'put the reference folder beside the repository as ../shared');
const files = fs.readdirSync(RECIPES).filter((f) => f.endsWith('.json')).sort();

/** The value at a dotted path of a loaded recipe, when it is a string. */
function field(r: Recipe, key: string): string | undefined {
  let o: unknown = r;
  for (const p of key.split('.')) o = o && typeof o === 'object' ? (o as Record<string, unknown>)[p] : undefined;
  return typeof o === 'string' ? o : undefined;
}

/** Paths a recipe reads (its `out` is written, so it need not exist). A `:split` suffix is not part of the path. */
function inputPaths(r: Recipe): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (const key of PATH_FIELDS) {
    const v = field(r, key);
    if (key === 'out' || v === undefined || v.startsWith('config:') || v === 'byte') continue;
    out.push({ key, value: fs.existsSync(v) ? v : v.replace(/:[A-Za-z0-9_.-]+$/, '') });
  }
  return out;
}

test('the ready recipes issue 6 lists are all there', () => {
  for (const name of ['quickstart', 'reward-only', 'dpo-sigmoid', 'dpo-ipo', 'dpo-hinge', 'dpo-mpo', 'compare-only', 'byo-hf-template', 'politeness-reward', 'politeness-dpo']) {
    expect(files).toContain(`${name}.json`);
  }
});

describe.each(files)('recipes/%s', (file) => {
  const full = path.join(RECIPES, file);

  test('validates and has a description', () => {
    const r = loadRecipe(full, [], REPO);
    expect(typeof r.description).toBe('string');
    expect(r.description!.length).toBeGreaterThan(20);
  });

  const inputsExist = () => {
    const r = loadRecipe(full, [], REPO);
    let checked = 0;
    for (const { key, value } of inputPaths(r)) {
      if (file === 'byo-hf-template.json' && value.includes('REPLACE-ME')) continue;
      if (file === 'compare-only.json' && value.startsWith(path.join(REPO, 'checkpoints', 'quickstart'))) continue;
      expect({ key, exists: fs.existsSync(value) }).toEqual({ key, exists: true });
      checked++;
    }
    // Every recipe reads at least its training data, except where that is a placeholder.
    if (file !== 'byo-hf-template.json') expect(checked).toBeGreaterThan(0);
  };
  if (file.startsWith('politeness-')) testIf(POLITENESS_INPUTS, 'the inputs it names exist', inputsExist);
  else test('the inputs it names exist', inputsExist);
});

test('byo-hf-template: every path it reads is a marked placeholder or shipped data', () => {
  const r = loadRecipe(path.join(RECIPES, 'byo-hf-template.json'), [], REPO);
  expect(r.model).toContain('REPLACE-ME');
  expect(r.data.train).toContain('REPLACE-ME');
  expect(r.description).toContain('REPLACE-ME');
});

test('compare-only points at exactly what `rlhf run recipes/quickstart.json` writes (run from the repo root)', () => {
  const q = loadRecipe(path.join(RECIPES, 'quickstart.json'), [], REPO);
  const c = loadRecipe(path.join(RECIPES, 'compare-only.json'), [], REPO);
  // Default run folder: checkpoints/<name> under the cwd, i.e. the repo root.
  const root = path.resolve(REPO, q.out ?? path.join('checkpoints', q.name));
  expect(q.sft.enabled && q.reward.enabled && q.dpo.enabled).toBe(true);
  expect(c.compare.reward_model).toBe(path.join(root, 'reward'));
  expect(c.compare.policy).toBe(path.join(root, 'dpo'));
  expect(c.compare.reference).toBe(path.join(root, 'sft'));
  expect(c.compare.beta).toBe(q.dpo.beta);
  expect([c.sft.enabled, c.reward.enabled, c.dpo.enabled]).toEqual([false, false, false]);
  expect(c.description).toContain('rlhf run recipes/quickstart.json');
});

test('the DPO family recipes are DPO-only and differ in their loss', () => {
  const losses: Record<string, unknown> = {};
  for (const f of ['dpo-sigmoid', 'dpo-ipo', 'dpo-hinge', 'dpo-mpo']) {
    const r = loadRecipe(path.join(RECIPES, `${f}.json`), [], REPO);
    expect(r.reward.enabled).toBe(false);
    expect(r.dpo.enabled).toBe(true);
    losses[f] = r.dpo.loss_type;
  }
  expect(losses).toEqual({ 'dpo-sigmoid': 'sigmoid', 'dpo-ipo': 'ipo', 'dpo-hinge': 'hinge', 'dpo-mpo': ['sigmoid', 'bco_pair', 'sft'] });
});

test('dpo-mpo runs end to end on tiny overrides: SFT makes the reference, then DPO', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-shipped-'));
  const tiny = ['sft', 'dpo'].flatMap((s) => [`${s}.max_steps=2`, `${s}.batch_size=4`, `${s}.max_length=64`, `${s}.max_prompt_length=32`]);
  const r = loadRecipe(path.join(RECIPES, 'dpo-mpo.json'), ['data.limit=16', ...tiny, `out=${out}`].map(parseSetOption), REPO);
  const res = await runPipeline(r, { quiet: true, cacheDir: null });
  expect(res.stages.map((s) => [s.stage, s.status])).toEqual([['sft', 'trained'], ['dpo', 'trained']]);
  const dpo = res.stages[1].summary! as StageSummary; // an offline stage's summary (online stages have their own shape)
  expect(dpo.steps).toBe(2);
  expect(dpo.data.train_records).toBe(16);
  // Held-out pairs come from data/prefs-eval.jsonl (320 pairs; data.limit currently caps that file as well).
  expect(dpo.data.eval_records).toBeGreaterThan(0);
  expect(dpo.data.eval_records).toBeLessThanOrEqual(320);
  expect(dpo.reference!.source).toBe(path.join(out, 'sft', 'final'));
  for (const k of ['eval_loss', 'eval_rewards/accuracies', 'eval_rewards/margins']) expect(Number.isFinite(dpo.eval![k])).toBe(true);
  expect(fs.existsSync(path.join(out, 'dpo', 'final', 'model.safetensors'))).toBe(true);
  fs.rmSync(out, { recursive: true, force: true });
});

test('a DPO-only recipe with compare switched on is refused before any training, naming the fix', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-shipped-'));
  const r = loadRecipe(path.join(RECIPES, 'dpo-sigmoid.json'), ['compare.enabled=true', `out=${out}`].map(parseSetOption), REPO);
  await expect(runPipeline(r, { quiet: true, cacheDir: null })).rejects.toThrow(
    'compare is enabled but needs both rewards; missing a reward model (enable reward or set compare.reward_model); or set compare.enabled false',
  );
  expect(fs.readdirSync(out)).toEqual([]);
  fs.rmSync(out, { recursive: true, force: true });
});

test('compare-only with a missing model names the recipe field and the way out', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-shipped-'));
  const missing = path.join(out, 'no-such-reward');
  const r = loadRecipe(path.join(RECIPES, 'compare-only.json'), [`compare.reward_model=${missing}`, `out=${out}`].map(parseSetOption), REPO);
  await expect(runPipeline(r, { quiet: true, cacheDir: null })).rejects.toThrow(
    `compare.reward_model: ${missing} does not exist; train that model first (the recipe's description says how) or fix the path`,
  );
  fs.rmSync(out, { recursive: true, force: true });
});
