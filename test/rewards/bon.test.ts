/**
 * `rlhf bon` end to end on a tiny model (config:tiny, byte tokenizer): max(n) samples per prompt drawn once,
 * every sample scored by fn: rewards (weighted) and a gold fn:, and bon.json's numbers equal a brute-force
 * recomputation from samples.jsonl; chosen.jsonl holds the picks. Bad input (n < 1, an empty prompts file, an
 * unknown spec, an existing bon.json) is one line with exit 1 and leaves no file behind.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { rlhf } from '../cli/helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-bon-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
const prompts = file('prompts.jsonl', ['Hello', 'The sky is', 'One two', 'Q:'].map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
const vowels = file('vowels.mjs', 'export default (p, c) => (c.match(/[aeiou]/g) ?? []).length;');
const length = file('length.mjs', 'export default async (p, c, row) => c.length + (row.sample_index === undefined ? 1000 : 0);');
const gold = file('gold.mjs', 'export default (p, c) => -Math.abs(c.length - 5);');
const readJsonl = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('bon.json per n equals brute force over samples.jsonl; chosen.jsonl holds the picks; the summary is the last stdout line', async () => {
  const out = path.join(dir, 'run');
  const res = await rlhf('bon', '--policy', 'config:tiny', '--reward', `fn:${vowels}`, '--reward', `fn:${length}`, '--reward-weights', '1,-0.25',
    '--gold', `fn:${gold}`, '--prompts', prompts, '--n', '4,1,2', '--max-new-tokens', '8', '--seed', '3', '--out', out, '--quiet');
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  const summary = res.json();
  const bon = JSON.parse(fs.readFileSync(path.join(out, 'bon.json'), 'utf8'));
  expect(summary).toMatchObject({ prompt_count: 4, samples_per_prompt: 4, gold: `fn:${gold}`, sampling: { seed: 3, max_new_tokens: 8 } });
  expect(bon.results).toEqual(summary.results);
  expect(bon.reward_sources.weights).toEqual([1, -0.25]);

  const samples = readJsonl(path.join(out, 'samples.jsonl'));
  expect(samples).toHaveLength(16);
  // Each sample's scores are the functions' values on its completion (row.sample_index reached the function).
  for (const s of samples) {
    const v = (s.completion.match(/[aeiou]/g) ?? []).length;
    expect(s.rewards).toEqual({ [`fn:${vowels}`]: v, [`fn:${length}`]: s.completion.length });
    expect(s.reward).toBeCloseTo(v - 0.25 * s.completion.length, 12);
    expect(s.gold_reward).toBeCloseTo(-Math.abs(s.completion.length - 5), 12); // JSON writes -0 as 0
  }
  const chosen = readJsonl(path.join(out, 'chosen.jsonl'));
  expect(chosen).toHaveLength(3 * 4);
  for (const [k, n] of [1, 2, 4].entries()) {
    const picks = [0, 1, 2, 3].map((i) => {
      const mine = samples.filter((s) => s.prompt_index === i && s.sample_index < n);
      return mine.reduce((best, s) => (s.reward > best.reward ? s : best));
    });
    const r = bon.results[k];
    expect(r).toMatchObject({ n, count: 4, gold_count: 4 });
    expect(r.reward_mean).toBeCloseTo(picks.reduce((a, s) => a + s.reward, 0) / 4, 10);
    expect(r.gold_mean).toBeCloseTo(picks.reduce((a, s) => a + s.gold_reward, 0) / 4, 10);
    expect(r.reward_means[`fn:${vowels}`]).toBeCloseTo(picks.reduce((a, s) => a + s.rewards[`fn:${vowels}`], 0) / 4, 10);
    expect(chosen.filter((c) => c.n === n).map((c) => [c.prompt_index, c.sample_index, c.completion])).toEqual(picks.map((s) => [s.prompt_index, s.sample_index, s.completion]));
  }
  // The samples are drawn once: n = 1 picks sample 0 of each prompt.
  expect(chosen.filter((c) => c.n === 1).every((c) => c.sample_index === 0)).toBe(true);
  // Seeded: the same command gives the same samples.
  const again = await rlhf('bon', '--policy', 'config:tiny', '--reward', `fn:${vowels}`, '--prompts', prompts, '--n', '4', '--max-new-tokens', '8', '--seed', '3', '--out', path.join(dir, 'again'), '--quiet');
  expect(again.code).toBe(0);
  expect(readJsonl(path.join(dir, 'again', 'samples.jsonl')).map((s) => s.completion)).toEqual(samples.map((s) => s.completion));
}, 120_000);

describe('bad input: one line, exit 1, nothing written', () => {
  const empty = file('empty.jsonl', '');
  const cases: Array<[string, string[], RegExp]> = [
    ['n < 1', ['--n', '0,4'], /--n 0,4: "0" is not an integer >= 1/],
    ['empty prompts file', ['--prompts', empty], /no prompts in it/],
    ['unknown spec', ['--reward', 'implict:x'], /unknown kind "implict:" \(did you mean implicit:\?\)/],
    ['missing reward folder', ['--reward', path.join(dir, 'no-rm')], /no such reward-model folder/],
    ['bad gold', ['--gold', 'orcale'], /did you mean oracle\?/],
    ['weights mismatch', ['--reward-weights', '1,2'], /2 reward weights for 1 reward/],
  ];
  test.each(cases)('%s', async (_name, args, expected) => {
    const out = path.join(dir, `bad-${_name.replace(/\W+/g, '-')}`);
    const base: Record<string, string> = { '--policy': 'config:tiny', '--reward': `fn:${vowels}`, '--prompts': prompts, '--n': '2', '--out': out };
    for (let i = 0; i < args.length; i += 2) base[args[i]] = args[i + 1];
    const res = await rlhf('bon', ...Object.entries(base).flat(), '--max-new-tokens', '4', '--quiet');
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(expected);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('an existing bon.json is kept unless --overwrite', async () => {
    const out = path.join(dir, 'twice');
    const args = ['bon', '--policy', 'config:tiny', '--reward', `fn:${vowels}`, '--prompts', prompts, '--n', '2', '--max-new-tokens', '4', '--out', out, '--quiet'];
    expect((await rlhf(...args)).code).toBe(0);
    const before = fs.readFileSync(path.join(out, 'bon.json'), 'utf8');
    const second = await rlhf(...args);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('already holds bon.json; pass --overwrite');
    expect(fs.readFileSync(path.join(out, 'bon.json'), 'utf8')).toBe(before);
    expect((await rlhf(...args, '--overwrite')).code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['bon.json', 'chosen.jsonl', 'samples.jsonl']);
  });
});
