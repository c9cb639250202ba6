/**
 * The hand-over to TRL (`rlhf export --trl`, src/run/trl-export.ts) and back:
 *  - every recipe field of a stage is either written under a TRL name or listed as having none (no silent drop);
 *  - TRL's own parser reads the YAML into the recipe's values, under TRL 1.13's names;
 *  - `trl reward|dpo --config <stage>.yaml`, run from the export as its README says, trains 2 steps on stories260K,
 *    and its logged losses are compared with ours on the same pairs. Two paths, kept apart:
 *      ids   ours trained on the token ids TRL's trainer prepared (read from TRL's trainer by test/cli/trl_handover.py):
 *            step 1 and 2 losses and metrics agree to float32 rounding, so the model folder, the data and every mapped
 *            hyperparameter (lr, cosine schedule, betas, epsilon, weight decay, clipping, loss types and weights) match;
 *      text  ours from the recipe's text. Named difference: rlhf-tfjs tokenises prompt and completion separately and
 *            TRL tokenises `prompt + completion` as one text; with stories260K's SentencePiece-style tokenizer every
 *            separately tokenised completion starts with one more token (the word-start piece "▁" of its leading space),
 *            so each side has exactly one token more than TRL's; bounded below (reward loss within 0.05 at step 1, DPO
 *            step 1 equal since policy = reference there). With the byte-level tokenizer (config:tiny, materialised as
 *            an HF folder by the export) the texts give TRL's ids exactly and the text path agrees as tightly;
 *  - back: TRL's output folders (output/checkpoint-2/ with trainer_state.json, optimizer.pt, ...; output/) are read by
 *    --model, --reward-model and --policy, score as transformers scores them, and --resume on one says what it is.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRecipe } from '../../src/recipes/load';
import { DpoSchema, GrpoSchema, RewardSchema } from '../../src/recipes/schema';
import { resolveModelSource } from '../../src/io/source';
import { trlMapping, yamlScalar, handoverCommands, TRL_STAGES } from '../../src/run/trl-export';
import { trainDpo, trainReward, StageError } from '../../src/train/stages';
import { tokenizeRecord } from '../../src/data/collate';
import { loadPreferences } from '../../src/data';
import { loadTokenizer } from '../../src/tokenizer/load';
import { withOwnPad } from '../../src/tokenizer/pad';
import { allOf, describeIf } from '../helpers/gates';
import { PYTHON, pythonWith, runPython, runPythonJson } from '../helpers/python';
import { sharedFiles, sharedPath } from '../helpers/shared';
import { rlhf } from './helpers';

const ORACLE = path.join(__dirname, 'trl_handover.py');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-trl-'));

/** Eight short story pairs (written here): chosen continues the story, rejected does not. */
const PAIRS: Array<[string, string, string]> = [
  ['Once upon a time, there was a little girl named Lily.', ' She liked to play in the park.', ' The car was very blue and fast.'],
  ['One day, a cat found a big red ball.', ' The cat played with the ball all day.', ' Ball cat red big.'],
  ['Tom had a small dog.', ' The dog was happy and ran to Tom.', ' Dog.'],
  ['The sun was warm and bright.', ' The kids went outside to play.', ' It was cold night rain.'],
  ['Mia wanted to bake a cake.', ' She asked her mom to help her.', ' Cake cake cake cake.'],
  ['A bird sat on a tree.', ' It sang a happy song.', ' The tree was a bird.'],
  ['Ben lost his toy car.', ' He looked under the bed and found it.', ' He ate the car.'],
  ['The little fish swam in the sea.', ' It met a friendly turtle.', ' Fish no swim.'],
];

/** Non-default values wherever a mapped field has one, so a wrong name or value shows in TRL's step 2. */
const STAGE_FIELDS = {
  max_steps: 2, batch_size: 8, learning_rate: 0.002, lr_scheduler_type: 'cosine', adam_beta1: 0.8, adam_beta2: 0.99,
  adam_epsilon: 1e-7, weight_decay: 0.1, max_grad_norm: 0.5, max_length: 256, logging_steps: 1, save_steps: 2,
};

/** A folder with prefs.jsonl and recipe.json (both stages, the 8 pairs as training data, no eval split). */
function writeRun(model: string): { dir: string; recipe: string } {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'prefs.jsonl'), PAIRS.map(([prompt, chosen, rejected]) => JSON.stringify({ prompt, chosen, rejected })).join('\n') + '\n');
  const recipe = {
    name: 'handover', model, data: { train: 'prefs.jsonl' },
    reward: { ...STAGE_FIELDS, truncation_mode: 'drop' },
    dpo: { ...STAGE_FIELDS, beta: 0.2, loss_type: ['sigmoid', 'ipo'], loss_weights: [1, 0.5] },
  };
  fs.writeFileSync(path.join(dir, 'recipe.json'), JSON.stringify(recipe, null, 1));
  return { dir, recipe: path.join(dir, 'recipe.json') };
}

/** The trl CLI beside RLHF_PYTHON (a venv's bin), else the same entry point through the interpreter. */
function trlCommand(): [string, string[]] {
  const bin = path.join(path.dirname(PYTHON), 'trl');
  return fs.existsSync(bin) ? [bin, []] : [PYTHON, ['-m', 'trl.cli.main']];
}

type Row = Record<string, number>;

/** `trl <stage> --config <stage>.yaml` in the export folder, on the CPU; its per-step log rows (output/checkpoint-2). */
function runTrl(exportDir: string, stage: string): Row[] {
  const [cmd, pre] = trlCommand();
  const r = spawnSync(cmd, [...pre, stage, '--config', `${stage}.yaml`], {
    cwd: exportDir, encoding: 'utf8', timeout: 600_000,
    env: {
      ...process.env, CUDA_VISIBLE_DEVICES: '', HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1', TQDM_DISABLE: '1',
      HF_DATASETS_CACHE: path.join(exportDir, '..', 'hf-datasets-cache'), PATH: `${path.dirname(PYTHON)}:${process.env.PATH}`,
    },
  });
  if (r.status !== 0) throw new Error(`trl ${stage} failed (exit ${r.status}):\n${(r.stderr || '').slice(-4000)}`);
  const state = JSON.parse(fs.readFileSync(path.join(exportDir, 'output', 'checkpoint-2', 'trainer_state.json'), 'utf8'));
  return (state.log_history as Row[]).filter((x) => 'loss' in x);
}

const metricRows = (out: string): Row[] =>
  fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x: Row) => 'loss' in x);

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);

interface OracleAnswer {
  config: Record<string, unknown>;
  ids: Array<{ prompt_ids?: number[]; chosen_ids: number[]; rejected_ids: number[] }>;
  splits: string[];
}

/** Ours on the ids TRL prepared: a pre-tokenised JSONL of them, trained with the same recipe. */
async function oursOnTrlIds(run: { dir: string; recipe: string }, stage: 'reward' | 'dpo', ids: OracleAnswer['ids']): Promise<Row[]> {
  const file = path.join(run.dir, `trl-ids-${stage}.jsonl`);
  fs.writeFileSync(file, ids.map((x) => JSON.stringify(
    stage === 'reward'
      ? { prompt_input_ids: [], chosen_input_ids: x.chosen_ids, rejected_input_ids: x.rejected_ids }
      : { prompt_input_ids: x.prompt_ids, chosen_input_ids: x.chosen_ids, rejected_input_ids: x.rejected_ids },
  )).join('\n') + '\n');
  const recipe = loadRecipe(run.recipe, [{ key: 'data.train', value: file, origin: 'test' }]);
  const out = path.join(run.dir, `ours-ids-${stage}`);
  await (stage === 'reward' ? trainReward : trainDpo)(recipe, { out, quiet: true, cacheDir: null });
  return metricRows(out);
}

/** Per pair: whether our text ids equal TRL's, and how many more tokens ours has per side. */
async function compareTokenisation(run: { dir: string }, stage: 'reward' | 'dpo', modelDir: string, trl: OracleAnswer['ids']) {
  const tok = stage === 'reward' ? withOwnPad(loadTokenizer(modelDir)).tokenizer : loadTokenizer(modelDir);
  const { records } = await loadPreferences(path.join(run.dir, 'prefs.jsonl'));
  return records.map((r, i) => {
    const o = tokenizeRecord(r, tok);
    const ours = { chosen: [...o.prompt, ...o.chosen], rejected: [...o.prompt, ...o.rejected] };
    const p = trl[i].prompt_ids ?? [];
    const theirs = { chosen: [...p, ...trl[i].chosen_ids], rejected: [...p, ...trl[i].rejected_ids] };
    return {
      same: JSON.stringify(ours) === JSON.stringify(theirs),
      extra: [ours.chosen.length - theirs.chosen.length, ours.rejected.length - theirs.rejected.length],
      samePrompt: JSON.stringify(o.prompt) === JSON.stringify(theirs.chosen.slice(0, o.prompt.length)),
    };
  });
}

describe('the TRL config mapping', () => {
  test('every field of the reward, DPO and GRPO sections is written under a TRL name or listed as having none', () => {
    const recipe = loadRecipe(undefined, [{ key: 'data.train', value: 'prefs.jsonl', origin: 'test' }]);
    for (const [stage, schema] of [['reward', RewardSchema], ['dpo', DpoSchema], ['grpo', GrpoSchema]] as const) {
      const m = trlMapping(stage, { recipe, hasEval: true, hasMargin: false, conversational: false, separateReference: false });
      const covered = new Set([...m.settings.flatMap((x) => x.from ?? []), ...m.unmapped.map((u) => u.field.replace(`${stage}.`, ''))]);
      const missing = Object.keys(schema.shape).filter((k) => !covered.has(k));
      expect({ stage, missing }).toEqual({ stage, missing: [] });
      expect(m.unmapped.map((u) => u.field)).toEqual(expect.arrayContaining([`${stage}.max_prompt_length`]));
    }
  });

  test('shuffle false is transformers\' sequential sampler; the default is its random one', () => {
    const strategy = (shuffle: boolean) => {
      const recipe = loadRecipe(undefined, [{ key: 'data.train', value: 'prefs.jsonl', origin: 'test' }, { key: 'reward.shuffle', value: shuffle, origin: 'test' }]);
      const m = trlMapping('reward', { recipe, hasEval: true, hasMargin: false, conversational: false, separateReference: false });
      return m.settings.find((x) => x.key === 'train_sampling_strategy')?.value;
    };
    expect([strategy(true), strategy(false)]).toEqual(['random', 'sequential']);
  });

  test('YAML scalars PyYAML reads back as the same values (floats keep a dot: PyYAML reads 1e-8 as a string)', () => {
    expect([1e-8, 5e-4, 0.001, 2, -1, 1e21, true, null, 'keep_end', ['sigmoid', 'ipo'], [1, 0.5]].map(yamlScalar)).toEqual([
      '1.0e-8', '0.0005', '0.001', '2', '-1', '1.0e+21', 'true', 'null', '"keep_end"', '["sigmoid", "ipo"]', '[1, 0.5]',
    ]);
  });

  test('commands: the trl CLI, accelerate on several GPUs and on several machines', () => {
    expect(handoverCommands('dpo')).toEqual([
      'trl dpo --config dpo.yaml',
      'accelerate launch --num_processes 8 -m trl.scripts.dpo --config dpo.yaml',
      'accelerate launch --num_machines 2 --machine_rank 0 --main_process_ip 10.0.0.1 --main_process_port 29500 --num_processes 16 -m trl.scripts.dpo --config dpo.yaml',
    ]);
    expect(Object.keys(TRL_STAGES)).toEqual(['reward', 'dpo', 'grpo']);
    expect(handoverCommands('grpo')[0]).toBe('trl grpo --config grpo.yaml');
  });

  test('--trl needs --stage; a stage of a recipe whose SFT output does not exist yet is an error that says what to do', async () => {
    const r = await rlhf('export', '--trl', '--out', path.join(tmp(), 'x'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--trl needs --stage \(reward or dpo or grpo\)/);
    const run = writeRun('config:tiny');
    const withSft = await rlhf('export', '--trl', '--recipe', run.recipe, '--set', 'sft.enabled=true', '--stage', 'dpo', '--out', path.join(run.dir, 'e'));
    expect(withSft.code).toBe(1);
    expect(withSft.stderr).toMatch(/trains an SFT stage first .*sft[/\\]final does not exist; run `rlhf sft/);
    // GRPO: rewards TRL cannot load, and no reward at all, are one-line errors; nothing is written.
    for (const [set, msg] of [
      ['grpo.reward=["fn:r.mjs"]', /grpo\.reward "fn:r\.mjs": TRL can only load a reward model folder/],
      ['grpo.reward=["a","b"]', /grpo\.reward has 2 rewards; trl grpo takes one reward model/],
      ['grpo.reward=[]', /grpo\.reward is empty, so the stage scores with this run's reward model, but .*reward[/\\]final does not exist/],
    ] as const) {
      const out = path.join(run.dir, 'g');
      const g = await rlhf('export', '--trl', '--recipe', run.recipe, '--set', set, '--stage', 'grpo', '--out', out);
      expect({ set, code: g.code }).toEqual({ set, code: 1 });
      expect(g.stderr).toMatch(msg);
      expect(fs.existsSync(out)).toBe(false);
    }
  });
});

const STORIES = 'models/stories260K/hf/model.safetensors';

describeIf(allOf(pythonWith(['torch', 'trl', 'datasets', 'transformers', 'yaml']), sharedFiles(STORIES)), 'TRL trains from the export (stories260K), and its output comes back', () => {
  const run = { dir: '', recipe: '' };
  const exp: Record<string, string> = {};
  beforeAll(() => {
    Object.assign(run, writeRun(sharedPath('models/stories260K/hf')));
  });

  test.each(['reward', 'dpo'] as const)('%s: export, TRL\'s parser reads the recipe\'s values, `trl %s --config` trains; losses vs ours', async (stage) => {
    const out = path.join(run.dir, `trl-${stage}`);
    exp[stage] = out;
    const e = await rlhf('export', '--trl', '--recipe', run.recipe, '--stage', stage, '--out', out);
    expect({ code: e.code, stderr: e.stderr.slice(-800) }).toEqual({ code: 0, stderr: expect.any(String) });
    const res = e.json() as { data: { train_rows: number; test_rows: number }; commands: string[]; unmapped: string[] };
    expect(res.data).toMatchObject({ train_rows: 8, test_rows: 0 });
    for (const f of [`${stage}.yaml`, 'README.md', 'data/train.jsonl', 'model/config.json', 'model/model.safetensors', 'model/tokenizer.json']) {
      expect({ f, there: fs.existsSync(path.join(out, f)) }).toEqual({ f, there: true });
    }
    expect(fs.readFileSync(path.join(out, 'README.md'), 'utf8')).toContain(`\n${res.commands[0]}\n`);
    const yaml = fs.readFileSync(path.join(out, `${stage}.yaml`), 'utf8');
    expect(yaml).toMatch(new RegExp(`^# ${stage}\\.max_prompt_length = 128: TRL 1\\.13's ${stage === 'dpo' ? 'DPOConfig' : 'RewardConfig'} has no prompt limit`, 'm'));

    // TRL's own parser and trainer on the export: the config values and the ids it prepares.
    const fields = ['model_name_or_path', 'dataset_name', 'output_dir', 'seed', 'max_steps', 'per_device_train_batch_size', 'learning_rate', 'lr_scheduler_type',
      'adam_beta1', 'adam_beta2', 'adam_epsilon', 'weight_decay', 'max_grad_norm', 'max_length', 'logging_steps', 'save_strategy', 'save_steps', 'report_to', 'bf16',
      ...(stage === 'dpo' ? ['beta', 'loss_type', 'loss_weights', 'precompute_ref_log_probs', 'truncation_mode'] : ['center_rewards_coefficient'])];
    const oracle = runPythonJson<OracleAnswer>(ORACLE, { dir: out, stage, fields });
    expect(oracle.config).toEqual({
      model_name_or_path: 'model', dataset_name: 'data', output_dir: 'output', seed: 42, max_steps: 2, per_device_train_batch_size: 8, learning_rate: 0.002,
      lr_scheduler_type: 'cosine', adam_beta1: 0.8, adam_beta2: 0.99, adam_epsilon: 1e-7, weight_decay: 0.1, max_grad_norm: 0.5, max_length: 256, logging_steps: 1,
      save_strategy: 'steps', save_steps: 2, report_to: [], bf16: false,
      ...(stage === 'dpo'
        ? { beta: 0.2, loss_type: ['sigmoid', 'ipo'], loss_weights: [1, 0.5], precompute_ref_log_probs: true, truncation_mode: 'keep_end' }
        : { center_rewards_coefficient: null }),
    });
    expect(oracle.ids).toHaveLength(8);

    const trl = runTrl(out, stage);
    expect(trl.map((x) => x.step)).toEqual([1, 2]);
    // ids path: ours on TRL's ids agrees to float32 rounding at step 1 (same weights, same batch) and step 2 (same update).
    const ids = await oursOnTrlIds(run, stage, oracle.ids);
    const keys = stage === 'reward' ? ['loss', 'accuracy', 'margin', 'mean_reward', 'grad_norm', 'num_tokens'] : ['loss', 'logps/chosen', 'logps/rejected', 'rewards/margins', 'grad_norm', 'num_tokens'];
    for (const step of [0, 1]) {
      for (const k of keys) {
        expect({ step: step + 1, k, close: relDiff(ids[step][k], trl[step][k]) < (step === 0 ? 2e-5 : 2e-4) || Math.abs(ids[step][k] - trl[step][k]) < 1e-5 })
          .toEqual({ step: step + 1, k, close: true });
      }
    }
    // text path: the named tokenisation difference, and its bound.
    const tokens = await compareTokenisation(run, stage, path.join(out, 'model'), oracle.ids);
    expect(tokens.every((t) => t.samePrompt)).toBe(true);
    expect(tokens.map((t) => t.extra)).toEqual(PAIRS.map(() => [1, 1])); // one more token per completion, every pair
    const text = await (stage === 'reward' ? trainReward : trainDpo)(loadRecipe(run.recipe), { out: path.join(run.dir, `ours-text-${stage}`), quiet: true, cacheDir: null });
    const rows = metricRows(text.out);
    expect(rows[0].num_tokens - trl[0].num_tokens).toBe(16); // 8 pairs x 2 completions x 1 token
    if (stage === 'reward') expect(Math.abs(rows[0].loss - trl[0].loss)).toBeLessThan(0.05);
    else expect(rows[0].loss).toBeCloseTo(trl[0].loss, 6); // policy = reference at step 1: ln 2 + 0.5 * (1 / (2 beta))^2 either way
  }, 900_000);

  test('grpo: export (prompts, reward model), TRL\'s grpo parser reads the recipe\'s values, its GRPOTrainer takes the folder, `trl grpo --config` trains 2 steps', async () => {
    const out = path.join(run.dir, 'trl-grpo');
    const sets = [
      `grpo.reward=${JSON.stringify([sharedPath('models/stories260K/hf')])}`, 'grpo.max_steps=2', 'grpo.batch_size=8', 'grpo.num_generations=4', 'grpo.max_new_tokens=8',
      'grpo.beta=0.04', 'grpo.loss_type="bnpo"', 'grpo.learning_rate=0.002', 'grpo.logging_steps=1', 'grpo.save_steps=2', 'grpo.temperature=0.9', 'grpo.top_k=20',
      'grpo.top_p=0.95', 'grpo.epsilon_high=0.28', 'grpo.scale_rewards="batch"', 'grpo.reward_weights=[0.5]',
    ].flatMap((x) => ['--set', x]);
    const e = await rlhf('export', '--trl', '--recipe', run.recipe, ...sets, '--stage', 'grpo', '--out', out);
    expect({ code: e.code, stderr: e.stderr.slice(-800) }).toEqual({ code: 0, stderr: expect.any(String) });
    const res = e.json() as { data: { train_rows: number; test_rows: number }; commands: string[]; unmapped: string[] };
    expect(res.data).toMatchObject({ train_rows: 8, test_rows: 0 });
    expect(res.commands[0]).toBe('trl grpo --config grpo.yaml');
    for (const f of ['grpo.yaml', 'README.md', 'data/train.jsonl', 'model/model.safetensors', 'reward_model/config.json', 'reward_model/model.safetensors']) {
      expect({ f, there: fs.existsSync(path.join(out, f)) }).toEqual({ f, there: true });
    }
    const rows = fs.readFileSync(path.join(out, 'data', 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.prompt).sort()).toEqual(PAIRS.map((p) => p[0]).sort());
    expect(fs.readFileSync(path.join(out, 'grpo.yaml'), 'utf8')).toMatch(/^# grpo\.max_length = 256: GRPOConfig has no total limit/m);
    const fields = ['model_name_or_path', 'reward_model_name_or_path', 'dataset_name', 'max_steps', 'per_device_train_batch_size', 'learning_rate', 'num_generations',
      'max_completion_length', 'beta', 'loss_type', 'temperature', 'top_k', 'top_p', 'epsilon', 'epsilon_high', 'scale_rewards', 'num_iterations', 'reward_weights',
      'mask_truncated_completions', 'steps_per_generation'];
    const oracle = runPythonJson<{ config: Record<string, unknown>; prompts: string[] }>(ORACLE, { dir: out, stage: 'grpo', fields });
    expect(oracle.config).toEqual({
      model_name_or_path: 'model', reward_model_name_or_path: 'reward_model', dataset_name: 'data', max_steps: 2, per_device_train_batch_size: 8, learning_rate: 0.002,
      num_generations: 4, max_completion_length: 8, beta: 0.04, loss_type: 'bnpo', temperature: 0.9, top_k: 20, top_p: 0.95, epsilon: 0.2, epsilon_high: 0.28,
      scale_rewards: 'batch', num_iterations: 1, reward_weights: [0.5], mask_truncated_completions: false, steps_per_generation: 1,
    });
    expect(oracle.prompts).toEqual(rows.map((r) => r.prompt));
    // TRL trains from the folder as its README says. Losses are not compared: the two sides draw different samples.
    const trl = runTrl(out, 'grpo');
    expect(trl.map((x) => x.step)).toEqual([1, 2]);
    expect(trl.every((x) => Number.isFinite(x.loss) && Number.isFinite(x.reward))).toBe(true);
  });

  test('TRL\'s output folders come back: --model, --reward-model, --policy; scores as transformers\'; --resume says what it is', async () => {
    expect(Object.keys(exp).sort()).toEqual(['dpo', 'reward']);
    const rmCkpt = path.join(exp.reward, 'output', 'checkpoint-2');
    const dpoCkpt = path.join(exp.dpo, 'output', 'checkpoint-2');
    for (const f of ['trainer_state.json', 'optimizer.pt', 'scheduler.pt', 'training_args.bin', 'config.json', 'model.safetensors', 'tokenizer.json']) {
      expect({ f, there: fs.existsSync(path.join(rmCkpt, f)) }).toEqual({ f, there: true });
    }
    for (const dir of [rmCkpt, dpoCkpt, path.join(exp.reward, 'output'), path.join(exp.dpo, 'output')]) expect(resolveModelSource(dir)).toEqual({ kind: 'hf', path: dir });

    // --model (rlhf score) on the reward checkpoint: the scores transformers gives for the same ids.
    const scores = path.join(run.dir, 'scores.jsonl');
    const s = await rlhf('score', '--model', rmCkpt, '--data', path.join(run.dir, 'prefs.jsonl'), '--out', scores, '--quiet');
    expect({ code: s.code, stderr: s.stderr.slice(-500) }).toEqual({ code: 0, stderr: expect.any(String) });
    const ours = fs.readFileSync(scores, 'utf8').trim().split('\n').map((l) => JSON.parse(l).reward as number);
    const tok = withOwnPad(loadTokenizer(rmCkpt)).tokenizer;
    const { records } = await loadPreferences(path.join(run.dir, 'prefs.jsonl'));
    const seqs = records.flatMap((r) => {
      const t = tokenizeRecord(r, tok);
      return [[...t.prompt, ...t.chosen], [...t.prompt, ...t.rejected]];
    });
    const hf = runPython<number[]>(`
import json, sys, torch
from transformers import AutoModelForSequenceClassification
req = json.load(sys.stdin)
m = AutoModelForSequenceClassification.from_pretrained(req["dir"]).eval()
with torch.no_grad():
    print(json.dumps([m(torch.tensor([s])).logits[0, 0].item() for s in req["seqs"]]))
`, { dir: rmCkpt, seqs });
    expect(ours).toHaveLength(16);
    ours.forEach((v, i) => expect({ i, diff: Math.abs(v - hf[i]) < 1e-4 }).toEqual({ i, diff: true }));

    // --reward-model and --policy (rlhf compare), the policy's reference being the export's starting model.
    const cmp = await rlhf('compare', '--reward-model', rmCkpt, '--policy', dpoCkpt, '--reference', path.join(exp.dpo, 'model'), '--data', path.join(run.dir, 'prefs.jsonl'),
      '--beta', '0.2', '--bootstrap', '0', '--out', path.join(run.dir, 'cmp'), '--quiet');
    expect({ code: cmp.code, stderr: cmp.stderr.slice(-500) }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(cmp.json()).toMatchObject({ n_pairs: 8 });

    // --model for training: DPO continues from TRL's final DPO model (output/).
    const more = await rlhf('dpo', '--model', path.join(exp.dpo, 'output'), '--data', path.join(run.dir, 'prefs.jsonl'), '--max-steps', '1', '--batch-size', '8', '--out', path.join(run.dir, 'more'), '--quiet');
    expect({ code: more.code, stderr: more.stderr.slice(-500) }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(more.json()).toMatchObject({ parent: path.join(exp.dpo, 'output'), steps: 1 });

    // --resume on TRL's output folder: its checkpoint-2 holds transformers' trainer state, said so.
    await expect(trainDpo(loadRecipe(run.recipe), { out: path.join(exp.dpo, 'output'), resume: true, quiet: true })).rejects.toThrow(StageError);
    await expect(trainDpo(loadRecipe(run.recipe), { out: path.join(exp.dpo, 'output'), resume: true, quiet: true }))
      .rejects.toThrow(/trainer_state\.json was written by transformers' Trainer \(TRL\).*--model .*checkpoint-2/);
  }, 600_000);
});

describeIf(pythonWith(['torch', 'trl', 'datasets', 'transformers', 'yaml']), 'TRL trains from a materialised preset (config:tiny, byte-level tokenizer)', () => {
  test.each(['reward', 'dpo'] as const)('%s, conversational data: message lists handed over with our default chat layout as model/chat_template.jinja; TRL\'s ids equal ours', async (stage) => {
    const run = writeRun('config:tiny');
    const chat = (t: string, role: string) => [{ role, content: t.trim() }];
    fs.writeFileSync(path.join(run.dir, 'prefs.jsonl'), PAIRS.map(([p, c, r]) => JSON.stringify({ prompt: chat(p, 'user'), chosen: chat(c, 'assistant'), rejected: chat(r, 'assistant') })).join('\n') + '\n');
    const out = path.join(run.dir, `trl-${stage}`);
    const e = await rlhf('export', '--trl', '--recipe', run.recipe, '--stage', stage, '--out', out);
    expect(e.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'data', 'train.jsonl'), 'utf8').split('\n')[0]).prompt).toEqual([{ role: 'user', content: PAIRS[0][0] }]);
    expect(fs.existsSync(path.join(out, 'model', 'chat_template.jinja'))).toBe(true);
    const oracle = runPythonJson<OracleAnswer>(ORACLE, { dir: out, stage, fields: ['model_name_or_path'] });
    const tokens = await compareTokenisation(run, stage, path.join(out, 'model'), oracle.ids);
    expect(tokens.map((t) => t.same)).toEqual(PAIRS.map(() => true));
  }, 300_000);

  test('reward: the export writes config:tiny as an HF folder; TRL\'s ids equal ours from the text, so the text path agrees', async () => {
    const run = writeRun('config:tiny');
    const out = path.join(run.dir, 'trl-reward');
    const e = await rlhf('export', '--trl', '--recipe', run.recipe, '--stage', 'reward', '--out', out);
    expect(e.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'model', 'rlhf.json'), 'utf8'))).toMatchObject({ kind: 'reward', parent: 'config:tiny' });
    // TRL appends EOS as text: the hand-over's tokenizer reads "<eos>" as the EOS id (our checkpoints spell it out).
    expect(JSON.parse(fs.readFileSync(path.join(out, 'model', 'tokenizer_config.json'), 'utf8')).split_special_tokens).toBe(false);
    expect(fs.readFileSync(path.join(out, 'README.md'), 'utf8')).toMatch(/split_special_tokens is false here .* 0 of 8 pairs spell a special token/);
    const oracle = runPythonJson<OracleAnswer>(ORACLE, { dir: out, stage: 'reward', fields: ['model_name_or_path'] });
    const tokens = await compareTokenisation(run, 'reward', path.join(out, 'model'), oracle.ids);
    expect(tokens.map((t) => t.same)).toEqual(PAIRS.map(() => true));
    const trl = runTrl(out, 'reward');
    await trainReward(loadRecipe(run.recipe), { out: path.join(run.dir, 'ours'), quiet: true, cacheDir: null });
    const ours = metricRows(path.join(run.dir, 'ours'));
    for (const step of [0, 1]) {
      for (const k of ['loss', 'accuracy', 'margin', 'grad_norm', 'num_tokens']) {
        expect({ step: step + 1, k, close: relDiff(ours[step][k], trl[step][k]) < 2e-4 || Math.abs(ours[step][k] - trl[step][k]) < 1e-5 }).toEqual({ step: step + 1, k, close: true });
      }
    }
  }, 900_000);
});
