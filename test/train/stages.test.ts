/**
 * The stage functions end to end on a slice of the shipped data with the tiny preset:
 * run folders, summaries, no-overwrite, and stop-and-resume bit-identity.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { trainDpo, trainReward, trainSft, StageError } from '../../src/train/stages';
import { readSafetensors } from '../../src/io/safetensors';
import { fusedOpsAvailable } from '../../src/backend/native-ops';
import * as tf from '@tensorflow/tfjs';

const REPO = path.resolve(__dirname, '../..');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-stage-'));

function recipe(extra: string[] = []) {
  return loadRecipe(undefined, [
    parseSetOption(`data.train=${path.join(REPO, 'data/prefs.jsonl')}`),
    parseSetOption('data.limit=48'),
    parseSetOption('data.eval_count=16'),
    ...['sft', 'reward', 'dpo'].flatMap((s) => [
      parseSetOption(`${s}.max_steps=4`),
      parseSetOption(`${s}.batch_size=8`),
      parseSetOption(`${s}.max_length=160`),
      parseSetOption(`${s}.max_prompt_length=64`),
      parseSetOption(`${s}.learning_rate=0.003`),
    ]),
    ...extra.map(parseSetOption),
  ]);
}

const weightsOf = (dir: string) => {
  const t = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
  return new Map([...t].map(([k, v]) => [k, Array.from(v.data as Float32Array)]));
};

describe('training stages', () => {
  test('reward stage writes final/, metrics.jsonl and summary.json with TRL metric names', async () => {
    const out = path.join(tmp(), 'rm');
    const s = await trainReward(recipe(), { out, quiet: true, cacheDir: null });
    expect(s.steps).toBe(4);
    expect(s.data.train_records).toBe(32);
    expect(s.data.eval_records).toBe(16);
    for (const k of ['eval_loss', 'eval_accuracy', 'eval_margin', 'eval_mean_reward', 'eval_min_reward', 'eval_max_reward']) expect(s.eval).toHaveProperty(k);
    expect(fs.existsSync(path.join(out, 'final', 'rlhf.json'))).toBe(true);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'final', 'config.json'), 'utf8'));
    expect(cfg.architectures).toEqual(['LlamaForSequenceClassification']);
    const written = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(written.steps).toBe(4);
    // final/ carries the final metrics (rlhf.json) and a model card with them; transformers can read its tokenizer.
    const meta = JSON.parse(fs.readFileSync(path.join(out, 'final', 'rlhf.json'), 'utf8'));
    expect(meta.metrics).toEqual({ ...s.train, ...s.eval });
    expect(meta.tokenizer).toEqual({ kind: 'byte', files: ['byte_tokenizer.json'], hf_files: ['tokenizer.json', 'tokenizer_config.json'] });
    const card = fs.readFileSync(path.join(out, 'final', 'README.md'), 'utf8');
    expect(card).toMatch(/^---\nlibrary_name: transformers\npipeline_tag: text-classification\ntags:\n- "rlhf-tfjs"\n- "reward-model"/);
    expect(card).toContain(`| eval_accuracy | ${Number(s.eval!.eval_accuracy.toPrecision(4))} |`);
    // Which backend ran it, and whether the fused native kernels did (exactly when they are in use here).
    // The Llama family uses every fused kernel: where they load, all ran but the causal one (the default layout packs
    // every batch: shared prompts, padding-free rows, so attention is the segment kernel's); none elsewhere.
    const fusedOps = fusedOpsAvailable() ? ['segment_attention', 'rms_norm', 'silu_mul', 'sum_squares', 'adamw'] : [];
    expect(written.backend).toEqual({ name: tf.getBackend(), version: expect.any(String), threads: expect.any(Number), fused_kernels: fusedOpsAvailable(), fused_ops: fusedOps });
    if (process.env.RLHF_NATIVE_OPS === '1' && tf.getBackend() === 'tensorflow') expect(written.backend.fused_kernels).toBe(true);
    expect(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length).toBe(5);
    // No overwrite unless asked.
    await expect(trainReward(recipe(), { out, quiet: true })).rejects.toThrow(StageError);
    await expect(trainReward(recipe(), { out, quiet: true })).rejects.toThrow(/already holds a run; pass --overwrite/);
  });

  test('SFT then DPO from the SFT output: the reference is the SFT model and is cached on disk', async () => {
    const root = tmp();
    const sft = await trainSft(recipe(), { out: path.join(root, 'sft'), quiet: true });
    const cacheDir = path.join(root, 'cache');
    const r = recipe();
    const d1 = await trainDpo(r, { out: path.join(root, 'dpo'), model: sft.model, quiet: true, cacheDir });
    expect(d1.reference!.computed_pairs).toBe(48);
    expect(d1.reference!.source).toBe(sft.model);
    for (const k of ['eval_rewards/accuracies', 'eval_rewards/margins', 'eval_logps/chosen', 'eval_logits/chosen']) expect(d1.eval).toHaveProperty(k);
    // A second run with the same reference and data takes everything from the cache.
    const d2 = await trainDpo(r, { out: path.join(root, 'dpo2'), model: sft.model, quiet: true, cacheDir });
    expect(d2.reference!.computed_pairs).toBe(0);
    expect(d2.reference!.cached_pairs).toBe(48);
    // Same data, same init, same reference values -> identical training.
    expect(d2.train.loss).toBe(d1.train.loss);
  });

  test('DPO: shared prompts and padding-free rows (the default) train as padded rows do; the summary has the layout\'s savings and the phases', async () => {
    const root = tmp();
    const packed = await trainDpo(recipe(), { out: path.join(root, 'packed'), quiet: true, cacheDir: null });
    const padded = await trainDpo(recipe(['dpo.share_prompt=false', 'dpo.padding_free=false']), { out: path.join(root, 'padded'), quiet: true, cacheDir: null });
    // The same steps up to float rounding (4 AdamW steps amplify it a little).
    const rows = (d: string) => fs.readFileSync(path.join(root, d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => 'loss' in r);
    rows('packed').forEach((r, i) => expect(Math.abs(r.loss - rows('padded')[i].loss)).toBeLessThan(1e-4));
    expect(packed.eval!.eval_loss).toBeCloseTo(padded.eval!.eval_loss, 4);
    // num_tokens and tokens count every sequence's tokens in both layouts.
    expect(rows('packed').map((r) => r.num_tokens)).toEqual(rows('padded').map((r) => r.num_tokens));
    expect(packed.tokens).toBe(padded.tokens);
    expect(packed.data.layout).toMatchObject({ share_prompt: true, padding_free: true });
    expect(padded.data.layout).toMatchObject({ share_prompt: false, padding_free: false, cells_saved_fraction: 0, padding_saved_fraction: 0 });
    expect(packed.data.layout.padded_cells).toBe(padded.data.layout.padded_cells);
    expect(packed.data.layout.packed_cells).toBeLessThan(packed.data.layout.padded_cells);
    expect(packed.data.layout.placed_tokens).toBeLessThan(packed.data.layout.tokens); // each prompt laid out once
    expect(packed.data.layout.padding_saved_fraction).toBeGreaterThan(0);
    expect(packed.data.layout.padding_saved_fraction).toBeLessThanOrEqual(1);
    // The phases add up to the whole stage; tokens/s is over the training phase.
    for (const s of [packed, padded]) {
      const p = s.phases;
      expect(p.reference_seconds).toBeGreaterThan(0);
      expect(p.load_seconds + p.reference_seconds + p.train_seconds + p.eval_seconds + p.save_seconds).toBeCloseTo(s.wall_seconds, 2);
      expect(s.tokens_per_second).toBeCloseTo(s.tokens / p.train_seconds, 0);
    }
  });

  test('stop after step 3 and resume: later losses and final weights are bit-identical to an uninterrupted run', async () => {
    const root = tmp();
    const r = recipe(['reward.max_steps=6', 'reward.save_steps=2', 'reward.lr_scheduler_type="cosine"', 'reward.warmup_steps=1']);
    await trainReward(r, { out: path.join(root, 'full'), quiet: true });
    const stopped = await trainReward(r, { out: path.join(root, 'part'), quiet: true, stopAfterStep: 3 });
    expect(stopped.stopped_by).toBe('signal');
    expect(fs.existsSync(path.join(root, 'part', 'checkpoint-3', 'trainer_state.json'))).toBe(true);
    await trainReward(r, { out: path.join(root, 'part'), quiet: true, resume: true });
    const rows = (d: string) => fs.readFileSync(path.join(root, d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const a = rows('full');
    const b = rows('part');
    expect(b.map((x) => x.loss)).toEqual(a.map((x) => x.loss));
    // num_tokens is a running total over the run: the resumed run continues it, as the uninterrupted one counts.
    const tokens = (rs: Record<string, number>[]) => rs.filter((x) => 'loss' in x).map((x) => x.num_tokens);
    expect(tokens(b)).toEqual(tokens(a));
    expect(tokens(a).length).toBe(6);
    expect(tokens(a)[5]).toBeGreaterThan(tokens(a)[0]);
    const wa = weightsOf(path.join(root, 'full', 'final'));
    const wb = weightsOf(path.join(root, 'part', 'final'));
    for (const [k, v] of wa) expect(wb.get(k)).toEqual(v);
  });
});
