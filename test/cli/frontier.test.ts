/**
 * `rlhf frontier` end to end on tiny random byte-level checkpoints: a fn: proxy and the oracle proxy, the
 * oracle as gold, an RL run folder with two checkpoints and a policy point. Checks the files, frontier.json's
 * contract, the last stdout line, and the one-line errors that leave nothing written.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { saveCheckpoint } from '../../src/io/checkpoint';
import { LanguageModel } from '../../src/model/language-model';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { tinyConfig } from '../model/helpers';
import { rlhf } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-frontier-cli-'));
const tok = new ByteTokenizer();
const cfg = tinyConfig({ vocab_size: tok.vocabSize, max_position_embeddings: 64 });

function policy(dir: string, seed: number, step = 0): string {
  const m = LanguageModel.random(cfg, seed, { std: 0.2 });
  try {
    return saveCheckpoint(dir, { kind: 'policy', config: cfg, weights: m.weights, tokenizer: tok, step });
  } finally {
    m.dispose();
  }
}

const start = policy(path.join(tmp, 'sft'), 1);
const dpo = policy(path.join(tmp, 'dpo'), 2);
const rlRun = path.join(tmp, 'grpo');
policy(path.join(rlRun, 'checkpoint-10'), 1, 10);
policy(path.join(rlRun, 'checkpoint-20'), 3, 20);
const emptyRun = path.join(tmp, 'empty-run');
fs.mkdirSync(emptyRun);
const lengthFn = path.join(tmp, 'length.mjs');
fs.writeFileSync(lengthFn, 'export default (prompt, completion) => completion.length;\n');
const prompts = path.join(tmp, 'prompts.jsonl');
const rows = [
  { prompt: 'Compute 1 + 5.', chosen: 'The answer is 6.', rejected: 'The answer is 5.' },
  { prompt: "Where is Fay's ladder?", chosen: "Fay's ladder is in the office.", rejected: 'Ugh.' },
  { prompt: 'Compute 1 + 5.', chosen: '6', rejected: '7' }, // a repeated prompt is used once
];
fs.writeFileSync(prompts, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
const unknown = path.join(tmp, 'unknown.jsonl');
fs.writeFileSync(unknown, JSON.stringify({ prompt: 'Tell me a joke about cats.', chosen: 'a', rejected: 'b' }) + '\n');

const base = (out: string) => ['frontier', '--policy', start, '--proxy', `fn:${lengthFn}`, '--proxy', 'oracle', '--gold', 'oracle', '--prompts', prompts,
  '--max-new-tokens', '8', '--policy-samples', '2', '--out', out];

describe('rlhf frontier', () => {
  test('writes frontier.json/.md, samples.jsonl and report.html; the last stdout line is the summary', async () => {
    const out = path.join(tmp, 'out');
    const r = await rlhf(...base(out), '--n-max', '4', '--rl-run', rlRun, '--policy-point', dpo, '--seed', '3');
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['frontier.json', 'frontier.md', 'report.html', 'samples.jsonl']);
    const j = JSON.parse(fs.readFileSync(path.join(out, 'frontier.json'), 'utf8'));
    const proxies = [`fn:${lengthFn}`, 'oracle'];
    expect(j.proxies).toEqual(proxies);
    const summary = (p: { method: string; n?: number; step?: number }) => `${p.method}:${p.n ?? p.step ?? ''}`;
    expect(j.points.map(summary)).toEqual([
      ...['bon:1', 'bon:2', 'bon:4'], ...['bon:1', 'bon:2', 'bon:4'], 'policy:', 'policy:', 'rl:10', 'rl:10', 'rl:20', 'rl:20',
    ]);
    // The oracle as proxy and as gold: every point's proxy equals its gold.
    for (const p of j.points.filter((q: { proxy: string }) => q.proxy === 'oracle')) expect(p.proxy_reward).toBeCloseTo(p.gold_reward, 12);
    // checkpoint-10 is the start policy itself: KL 0 up to float noise
    expect(j.points.find((p: { step?: number }) => p.step === 10).kl).toBeCloseTo(0, 4);
    expect(j.points.find((p: { step?: number }) => p.step === 20).kl).toBeGreaterThan(0.1);
    expect(Object.keys(j.headline)).toEqual(proxies);
    expect(j.counts).toEqual({ prompts: 2, pool_samples: 8, policy_samples: 3 * 2 * 2 });
    expect(fs.readFileSync(path.join(out, 'samples.jsonl'), 'utf8').trim().split('\n')).toHaveLength(8);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('data-plot="gold-1"');
    const last = r.json();
    expect(last).toMatchObject({ frontier: path.join(out, 'frontier.json'), report: path.join(out, 'report.html'), prompts: 2, n_max: 4, points: 12 });
    expect(last.verdict).toBe(j.verdict);
  }, 240000);

  test.each([
    ['--n-max 0', ['--n-max', '0'], /^error: --n-max must be an integer >= 1; got 0$/],
    ['an RL run without checkpoints', ['--n-max', '2', '--rl-run', emptyRun], /^error: --rl-run .*empty-run holds no checkpoint-<N>\/ or final\/ folder; pass the output folder of an RL run/],
    ['a gold that cannot score a prompt', ['--n-max', '2', '--prompts', unknown], /^error: the gold reward "oracle" cannot score the prompts: .*Tell me a joke about cats/],
  ])('%s: one-line error, exit 1, nothing written', async (_name, extra, message) => {
    const out = path.join(tmp, `bad-${_name.replace(/\W+/g, '-')}`);
    const r = await rlhf(...base(out), ...extra);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(r.stderr.trim().split('\n').find((l) => l.startsWith('error:'))).toMatch(message);
    expect(fs.existsSync(out) ? fs.readdirSync(out).filter((f) => !f.startsWith('.')) : []).toEqual([]);
  }, 60000);

  test('rlhf run: the frontier stage writes <run>/frontier and reports its verdict', async () => {
    const recipe = path.join(tmp, 'frontier-only.json');
    fs.writeFileSync(recipe, JSON.stringify({
      name: 'frontier-only', model: start, seed: 5, out: path.join(tmp, 'run'), data: { train: prompts, eval: prompts },
      reward: { enabled: false }, dpo: { enabled: false }, compare: { enabled: false },
      frontier: { enabled: true, proxies: [`fn:${lengthFn}`], n_max: 2, max_new_tokens: 6, samples_per_policy: 2, policy_points: [dpo] },
    }));
    const r = await rlhf('run', recipe);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const j = JSON.parse(fs.readFileSync(path.join(tmp, 'run', 'frontier', 'frontier.json'), 'utf8'));
    expect(j.points.map((p: { method: string }) => p.method)).toEqual(['bon', 'bon', 'policy']);
    expect(j.settings).toMatchObject({ policy: start, n_max: 2, seed: 5, policy_points: [dpo] });
    expect(r.stderr).toContain(`frontier: ${j.verdict}`);
  }, 240000);
});
