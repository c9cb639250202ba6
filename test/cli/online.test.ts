/**
 * The online commands' contract: `rlhf grpo | rloo | online-dpo` with the issue's flags print a summary whose last
 * stdout line (and summary.json) has eval.eval_reward, eval.eval_kl and eval_initial.eval_reward; a user reward
 * module (fn:FILE.mjs) as the reward; bad input exits 1 with one line on stderr and writes no output folder.
 * A tiny random Llama with the byte tokenizer keeps each run to seconds.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { rlhf } from './helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-cli-online-'));
const prompts = path.join(dir, 'prompts.jsonl');
const reward = path.join(dir, 'count-e.mjs');
fs.writeFileSync(prompts, ['The cat', 'Once', 'A red', 'We went', 'She said', 'Here is'].map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
fs.writeFileSync(reward, 'export default (prompt, completion) => (completion.match(/e/g) ?? []).length;\n');

const common = (out: string) => [
  '--model', 'config:tiny', '--tokenizer', 'byte', '--reward', `fn:${reward}`, '--prompts', prompts, '--eval-count', '2',
  '--max-new-tokens', '6', '--max-steps', '2', '--lr', '1e-3', '--temperature', '1', '--seed', '3', '--out', out, '--quiet',
];

describe('rlhf grpo | rloo | online-dpo', () => {
  test('grpo: the contract flags, summary on the last stdout line and in summary.json', async () => {
    const out = path.join(dir, 'grpo');
    const r = await rlhf('grpo', ...common(out), '--num-generations', '4', '--batch-size', '8', '--beta', '0.04', '--reward-weights', '2');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const s = r.json() as { eval: Record<string, number>; eval_initial: Record<string, number>; stage: string; rewards: unknown[] };
    expect(s.stage).toBe('grpo');
    expect(typeof s.eval.eval_reward).toBe('number');
    expect(typeof s.eval.eval_kl).toBe('number');
    expect(typeof s.eval_initial.eval_reward).toBe('number');
    expect(s.rewards).toEqual([{ name: `fn:${reward}`, weight: 2 }]);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'))).toEqual(s);
    expect(fs.existsSync(path.join(out, 'final', 'model.safetensors'))).toBe(true);
  }, 300000);

  test('rloo and online-dpo (--loss-type) run with the same flags', async () => {
    const a = await rlhf('rloo', ...common(path.join(dir, 'rloo')), '--num-generations', '4', '--batch-size', '8');
    expect([a.code, a.stderr]).toEqual([0, '']);
    expect(a.json().stage).toBe('rloo');
    const b = await rlhf('online-dpo', ...common(path.join(dir, 'odpo')), '--batch-size', '4', '--loss-type', 'ipo', '--beta', '0.2');
    expect([b.code, b.stderr]).toEqual([0, '']);
    expect((b.json().eval as Record<string, number>).eval_reward).toEqual(expect.any(Number));
  }, 300000);

  test.each([
    ['--num-generations 1', ['--num-generations', '1', '--batch-size', '8'], /num_generations is 1; GRPO compares samples of a prompt/],
    ['a batch that is not whole groups', ['--num-generations', '4', '--batch-size', '6'], /batch_size|multiple of num_generations/],
    ['a bad reward spec', ['--num-generations', '4', '--batch-size', '8', '--reward', 'fn:/no/such/file.mjs'], /fn:\/no\/such\/file\.mjs/],
  ])('%s: exit 1, one line, no output folder', async (_name, extra, message) => {
    const out = path.join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const r = await rlhf('grpo', ...common(out), ...extra);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(out)).toBe(false);
  }, 120000);

  test('a prompts file with no prompts: exit 1, one line naming the file', async () => {
    const empty = path.join(dir, 'empty.jsonl');
    fs.writeFileSync(empty, '');
    const out = path.join(dir, 'bad-empty');
    const args = common(out);
    args[args.indexOf(prompts)] = empty;
    const r = await rlhf('grpo', ...args, '--num-generations', '4', '--batch-size', '8');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/empty\.jsonl/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(out)).toBe(false);
  }, 120000);
});
