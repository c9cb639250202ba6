/**
 * The stage functions end to end on a slice of the shipped data with the tiny preset:
 * run folders, summaries, no-overwrite, and stop-and-resume bit-identity; report_to tensorboard read back by
 * TensorBoard's own EventAccumulator (Python), fresh and resumed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { trainDpo, trainReward, trainSft, StageError } from '../../src/train/stages';
import { ReferenceCache } from '../../src/train/reference';
import { readSafetensors } from '../../src/io/safetensors';
import { fusedOpsAvailable } from '../../src/backend/native-ops';
import * as tf from '@tensorflow/tfjs';
import { trainerTag } from '../../src/io/tensorboard';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';

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
    expect(padded.data.layout).toMatchObject({ share_prompt: false, padding_free: false, rows: 'per-item', cells_saved_fraction: 0, padding_saved_fraction: 0 });
    // Where the fused segment kernel runs, a whole batch goes in one row: no cell is padding. Elsewhere rows are as long
    // as a batch's longest pair (the TF.js path's [T, T] bias), so some padding remains.
    if (fusedOpsAvailable()) {
      expect(packed.data.layout.rows).toBe('one-row');
      expect(packed.data.layout.packed_cells).toBe(packed.data.layout.placed_tokens);
    } else {
      expect(packed.data.layout.rows).toBe('fit-longest');
      expect(packed.data.layout.packed_cells).toBeGreaterThan(packed.data.layout.placed_tokens);
    }
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

  test('shuffle false trains in file order: the first step sees the file\'s first batch (shuffled, it does not)', async () => {
    const dir = tmp();
    const lines = fs.readFileSync(path.join(REPO, 'data/prefs.jsonl'), 'utf8').split('\n').filter(Boolean);
    const write = (name: string, rows: string[]) => {
      fs.writeFileSync(path.join(dir, name), rows.join('\n') + '\n');
      return path.join(dir, name);
    };
    const whole = write('whole.jsonl', lines.slice(0, 40));
    const head = write('head.jsonl', lines.slice(0, 8));
    const held = write('eval.jsonl', lines.slice(40, 48));
    const firstStep = async (train: string, shuffle: boolean) => {
      const out = path.join(dir, `rm-${path.basename(train, '.jsonl')}-${shuffle}`);
      const r = loadRecipe(undefined, [
        parseSetOption(`data.train=${train}`), parseSetOption(`data.eval=${held}`), parseSetOption('reward.max_steps=1'),
        parseSetOption('reward.batch_size=8'), parseSetOption('reward.max_length=160'), parseSetOption(`reward.shuffle=${shuffle}`),
      ]);
      await trainReward(r, { out, quiet: true, cacheDir: null });
      return JSON.parse(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').split('\n')[0]);
    };
    // The same seed gives the same initial model, so the first step differs only by which 8 pairs it sees.
    const headOnly = await firstStep(head, false);
    const inOrder = await firstStep(whole, false);
    expect(inOrder.step).toBe(1);
    expect(inOrder.num_tokens).toBe(headOnly.num_tokens);
    expect(inOrder.loss).toBe(headOnly.loss);
    const shuffled = await firstStep(whole, true);
    expect(shuffled.num_tokens).not.toBe(headOnly.num_tokens);
  });

  test('precompute_ref_batch_size: the reference pass runs that many pairs per forward (default 64), with the same log-probs', async () => {
    const original = ReferenceCache.prototype.fill;
    const sizes: number[][] = [];
    const spy = jest.spyOn(ReferenceCache.prototype, 'fill').mockImplementation(function (this: ReferenceCache, ref, batches, onProgress) {
      const seen = [...batches];
      sizes.push(seen.map((b) => b.size));
      return original.call(this, ref, seen, onProgress);
    });
    try {
      const root = tmp();
      const losses = async (name: string, extra: string[]) => {
        const out = path.join(root, name);
        await trainDpo(recipe(['dpo.max_steps=2', ...extra]), { out, quiet: true, cacheDir: null });
        return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => 'loss' in r).map((r) => r.loss as number);
      };
      const byDefault = await losses('default', []);
      const byFive = await losses('five', ['dpo.precompute_ref_batch_size=5']);
      const [one, five] = sizes;
      // every train and held-out pair once: all of them (under 64) in one forward by default, else 5 at a time
      expect(one).toEqual([five.reduce((a, b) => a + b, 0)]);
      expect(one[0]).toBeGreaterThan(40);
      expect(five.slice(0, -1).every((n) => n === 5)).toBe(true);
      expect(byDefault).toHaveLength(2);
      for (let i = 0; i < 2; i++) expect(Math.abs(byFive[i] - byDefault[i])).toBeLessThan(1e-6);
    } finally {
      spy.mockRestore();
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

/** Every scalar of every event file under `dir` (one run folder), as TensorBoard's EventAccumulator sees them. */
const ACCUMULATE = `
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(json.load(sys.stdin)["dir"])
acc.Reload()
print(json.dumps({t: [[s.step, s.value] for s in acc.Scalars(t)] for t in acc.Tags()["scalars"]}))
`;

describeIf(pythonWith(['tensorboard']), 'report_to tensorboard', () => {
  /** metrics.jsonl as TensorBoard points: tag -> [[step, float32 value]], in log order. */
  const expectedPoints = (out: string) => {
    const want: Record<string, Array<[number, number]>> = {};
    for (const line of fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')) {
      const { step, ...m } = JSON.parse(line) as Record<string, number>;
      for (const [k, v] of Object.entries(m)) (want[trainerTag(k)] ??= []).push([step, Math.fround(v)]);
    }
    return want;
  };
  const runFolder = (out: string) => {
    const names = fs.readdirSync(path.join(out, 'runs'));
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_/); // transformers' default_logdir name
    return path.join(out, 'runs', names[0]);
  };

  test('event files under <out>/runs/<date>_<host>/ hold metrics.jsonl with Trainer tags, step for step', async () => {
    const out = path.join(tmp(), 'rm');
    await trainReward(recipe(['reward.eval_steps=2', 'reward.report_to=["jsonl","tensorboard"]']), { out, quiet: true });
    const got = runPython<Record<string, Array<[number, number]>>>(ACCUMULATE, { dir: runFolder(out) });
    const want = expectedPoints(out);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const tag of ['train/loss', 'train/accuracy', 'train/grad_norm', 'train/learning_rate', 'train/epoch', 'train/num_tokens', 'eval/loss', 'eval/accuracy']) {
      expect(want).toHaveProperty([tag]);
    }
    expect(want['eval/loss'].map(([st]) => st)).toEqual([2, 4]); // periodic eval at step 2 and the final one
    for (const tag of Object.keys(want)) expect({ tag, points: got[tag] }).toEqual({ tag, points: want[tag] });
  });

  test('resumed from an earlier checkpoint: the interrupted steps past it are gone from both, the rest agrees', async () => {
    const root = tmp();
    const r = recipe(['reward.max_steps=6', 'reward.save_steps=2', 'reward.eval_steps=2', 'reward.report_to="tensorboard"']);
    const both = recipe(['reward.max_steps=6', 'reward.save_steps=2', 'reward.eval_steps=2', 'reward.report_to=["tensorboard","jsonl"]']);
    const part = path.join(root, 'part');
    await trainReward(both, { out: part, quiet: true, stopAfterStep: 5 });
    expect(fs.existsSync(path.join(part, 'checkpoint-5'))).toBe(true);
    // Continue from checkpoint-4: step 5 and the eval at step 4 were logged after it and are logged again.
    await trainReward(both, { out: part, quiet: true, resume: path.join(part, 'checkpoint-4') });
    const full = path.join(root, 'full');
    await trainReward(r, { out: full, quiet: true });
    expect(fs.existsSync(path.join(full, 'metrics.jsonl'))).toBe(false); // report_to without jsonl: no metrics.jsonl
    const want = expectedPoints(part);
    const steps = (tag: string) => want[tag].map(([st]) => st);
    expect(steps('train/loss')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps('eval/loss')).toEqual([2, 4, 6]);
    const resumed = runPython<Record<string, Array<[number, number]>>>(ACCUMULATE, { dir: runFolder(part) });
    const fresh = runPython<Record<string, Array<[number, number]>>>(ACCUMULATE, { dir: runFolder(full) });
    expect(fs.readdirSync(runFolder(part)).filter((n) => n.startsWith('events.out.tfevents.'))).toHaveLength(2);
    for (const tag of Object.keys(want)) {
      // TensorBoard's view of the resumed folder: the SessionLog START at step 5 dropped the interrupted step 5;
      // the eval at step 4 appears twice with the same values (computed again from the same weights).
      const seen = new Map(resumed[tag].map(([st, v]) => [st, v]));
      expect({ tag, points: [...seen] }).toEqual({ tag, points: want[tag] });
      expect(resumed[tag].length).toBe(want[tag].length + (tag.startsWith('eval/') ? 1 : 0));
      // And an uninterrupted run logs the same points (bit-identical resume).
      expect({ tag, points: fresh[tag] }).toEqual({ tag, points: want[tag] });
    }
  });
});
