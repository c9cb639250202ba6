/**
 * Every command's happy path on tiny settings, plus the mistakes a user makes first: a mistyped flag,
 * recipe key, file path or model folder gets a message naming it and suggesting the fix; exit code 1.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { rlhf } from './helpers';

const REPO = path.resolve(__dirname, '../..');
const DATA = path.join(REPO, 'data/prefs.jsonl');
const EVAL = path.join(REPO, 'data/prefs-eval.jsonl');
const tiny = ['--max-steps', '2', '--batch-size', '4', '--limit', '24', '--max-length', '160', '--quiet'];
let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-cli-'));
});

describe('happy paths', () => {
  test('env prints the backend as text and JSON', async () => {
    const t = await rlhf('env');
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^backend: +(tensorflow|wasm|cpu)/m);
    // Which fused kernels each family uses where they load (GPT-2 has no RMSNorm or SwiGLU gate to fuse).
    expect(t.stdout).toMatch(/^families: (fused per family: llama: causal_attention, segment_attention, rms_norm, silu_mul, log_softmax_pick, sum_squares, adamw; gpt2: causal_attention, segment_attention, log_softmax_pick, sum_squares, adamw|every family on TF.js ops \(no fused kernels here\))$/m);
    const j = await rlhf('env', '--json');
    expect(j.code).toBe(0);
    expect(j.json()).toHaveProperty('backend');
    const fused = (j.json() as { nativeOps?: { loaded: boolean }; fusedByFamily: Record<string, string[]> });
    expect(fused.fusedByFamily).toEqual(fused.nativeOps?.loaded ? { llama: ['causal_attention', 'segment_attention', 'rms_norm', 'silu_mul', 'log_softmax_pick', 'sum_squares', 'adamw'], gpt2: ['causal_attention', 'segment_attention', 'log_softmax_pick', 'sum_squares', 'adamw'] } : {});
  });

  test('sft, reward, dpo, compare, score, generate, export on one tiny chain', async () => {
    const sft = await rlhf('sft', '--model', 'config:tiny', '--data', DATA, '--eval-count', '8', '--out', path.join(root, 'sft'), ...tiny);
    expect(sft.stderr).toBe('');
    expect(sft.code).toBe(0);
    expect(sft.json()).toMatchObject({ stage: 'sft', steps: 2 });

    const rm = await rlhf('reward', '--model', path.join(root, 'sft'), '--data', DATA, '--eval-count', '8', '--out', path.join(root, 'rm'), ...tiny);
    expect(rm.code).toBe(0);
    expect(rm.json()).toMatchObject({ stage: 'reward', steps: 2, parent: path.join(root, 'sft', 'final') });

    const dpo = await rlhf('dpo', '--model', path.join(root, 'sft'), '--data', DATA, '--eval-count', '8', '--beta', '0.2', '--loss-type', 'sigmoid,sft', '--set', 'dpo.loss_weights=[1,0.5]', '--out', path.join(root, 'dpo'), ...tiny);
    expect(dpo.code).toBe(0);
    expect((dpo.json().eval as Record<string, number>)['eval_rewards/accuracies']).toBeGreaterThanOrEqual(0);

    const cmp = await rlhf('compare', '--reward-model', path.join(root, 'rm'), '--policy', path.join(root, 'dpo'), '--data', EVAL, '--probes', path.join(REPO, 'data/probes/politeness.jsonl'), '--bootstrap', '50', '--out', path.join(root, 'cmp'), '--quiet');
    expect(cmp.code).toBe(0);
    expect(cmp.json()).toMatchObject({ n_pairs: 320 });
    expect(fs.existsSync(path.join(root, 'cmp', 'report.html'))).toBe(true);
    // The reference was found in the policy's rlhf.json (its parent: the SFT model).
    const again = await rlhf('compare', '--policy', path.join(root, 'dpo'), '--data', EVAL, '--out', path.join(root, 'cmp'), '--quiet');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds a comparison; pass --overwrite');

    const score = await rlhf('score', '--model', path.join(root, 'rm'), '--data', EVAL, '--out', path.join(root, 'scores.jsonl'));
    expect(score.code).toBe(0);
    const rows = fs.readFileSync(path.join(root, 'scores.jsonl'), 'utf8').trim().split('\n');
    expect(rows).toHaveLength(640);
    expect(Object.keys(JSON.parse(rows[0]))).toEqual(['id', 'source', 'side', 'reward']);

    const implicit = await rlhf('score', '--model', path.join(root, 'dpo'), '--reference', path.join(root, 'sft'), '--beta', '0.2', '--data', EVAL);
    expect(implicit.code).toBe(0);
    expect(JSON.parse(implicit.stdout.split('\n')[0])).toHaveProperty('implicit_reward');

    const gen = await rlhf('generate', '--model', path.join(root, 'dpo'), '--prompt', 'What is two plus two?', '--max-new-tokens', '12', '--seed', '3');
    expect(gen.code).toBe(0);
    const gen2 = await rlhf('generate', '--model', path.join(root, 'dpo'), '--prompt', 'What is two plus two?', '--max-new-tokens', '12', '--seed', '3');
    expect(gen2.stdout).toBe(gen.stdout); // seeded

    const exp = await rlhf('export', '--model', path.join(root, 'rm'), '--out', path.join(root, 'rm-hf'));
    expect(exp.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'rm-hf', 'config.json'), 'utf8')).architectures).toEqual(['LlamaForSequenceClassification']);
  });

  test('data inspect and convert', async () => {
    const i = await rlhf('data', 'inspect', EVAL, '--json');
    expect(i.code).toBe(0);
    expect(i.json()).toMatchObject({ records: 320, invalid: 0 });
    const c = await rlhf('data', 'convert', EVAL, '--out', path.join(root, 'normal.jsonl'));
    expect(c.code).toBe(0);
    expect(c.json()).toMatchObject({ written: 320 });
  });

  test('run: a tiny recipe end to end, then a re-run skips every stage', async () => {
    const recipe = path.join(root, 'tiny-run.json');
    fs.writeFileSync(recipe, JSON.stringify({
      name: 'tiny', out: 'runs/tiny', data: { train: DATA, eval: EVAL, limit: 24 },
      sft: { enabled: true, max_steps: 2, batch_size: 4, max_length: 160 },
      reward: { max_steps: 2, batch_size: 4, max_length: 160 },
      dpo: { max_steps: 2, batch_size: 4, max_length: 160 },
      compare: { bootstrap: 20 },
    }));
    const a = await rlhf('run', recipe, '--quiet');
    expect(a.code).toBe(0);
    const ja = a.json() as { stages: { stage: string; status: string }[]; comparison: { n_pairs: number } };
    expect(ja.stages.map((s) => `${s.stage}:${s.status}`)).toEqual(['sft:trained', 'reward:trained', 'dpo:trained', 'compare:trained']);
    expect(ja.comparison.n_pairs).toBe(320);
    expect(fs.existsSync(path.join(root, 'runs/tiny/compare/report.html'))).toBe(true); // out resolves relative to the recipe
    const b = await rlhf('run', recipe, '--quiet');
    expect((b.json() as typeof ja).stages.map((s) => s.status)).toEqual(['skipped', 'skipped', 'skipped', 'trained']);
    // Changing a stage's inputs without --overwrite is refused; nothing is replaced.
    const c = await rlhf('run', recipe, '--set', 'dpo.beta=0.3', '--quiet');
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('holds a run with different inputs');
  });

  test('recipe explain and check', async () => {
    const e = await rlhf('recipe', 'explain', 'dpo.beta');
    expect(e.stdout).toContain('(default 0.1)');
    const c = await rlhf('recipe', 'check', path.join(REPO, 'recipes/quickstart.json'));
    expect(c.code).toBe(0);
    expect(c.json()).toMatchObject({ name: 'quickstart' });
  });
});

describe('mistakes get a message that names them and suggests the fix', () => {
  test('mistyped flag', async () => {
    const r = await rlhf('reward', '--lerning-rate', '0.1', '--data', DATA);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: unknown option --lerning-rate (did you mean --learning-rate?); see --help for the options of this command\n');
  });

  test('mistyped command', async () => {
    const r = await rlhf('rewrd');
    expect(r.stderr).toBe('error: unknown command "rewrd"; did you mean reward? (rlhf --help lists the commands)\n');
  });

  test('mistyped recipe key', async () => {
    const file = path.join(root, 'typo.json');
    fs.writeFileSync(file, JSON.stringify({ data: { train: DATA }, dpo: { bta: 0.1 } }));
    const r = await rlhf('dpo', '--recipe', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('✖ dpo.bta: unknown key; did you mean "beta"?');
  });

  test('mistyped data path', async () => {
    const r = await rlhf('reward', '--data', path.join(REPO, 'data/pref.jsonl'), '--out', path.join(root, 'x'));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: data.train: ${path.join(REPO, 'data/pref.jsonl')} does not exist (did you mean ${DATA}?)\n`);
  });

  test('mistyped model folder', async () => {
    fs.mkdirSync(path.join(root, 'models', 'dpo-tiny'), { recursive: true });
    const r = await rlhf('generate', '--model', path.join(root, 'models', 'dpo-tinny'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`did you mean ${path.join(root, 'models', 'dpo-tiny')}?`);
  });

  test('no overwrite of an existing run unless asked', async () => {
    const out = path.join(root, 'once');
    expect((await rlhf('reward', '--data', DATA, '--out', out, ...tiny)).code).toBe(0);
    const again = await rlhf('reward', '--data', DATA, '--out', out, ...tiny);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`output folder ${out} already holds a run; pass --overwrite to replace it, --resume to continue it`);
    expect((await rlhf('reward', '--data', DATA, '--out', out, '--overwrite', ...tiny)).code).toBe(0);
  });

  test('no stack trace without --verbose, a stack with it', async () => {
    const r = await rlhf('reward', '--data', DATA, '--set', 'reward.batch_size=0');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const v = await rlhf('reward', '--data', DATA, '--set', 'reward.batch_size=0', '--verbose');
    expect(v.stderr).toMatch(/\n\s+at /);
  });
});
