/**
 * Reward specs: each kind parses to its source, options are checked per kind, and every bad spec (unknown
 * kind, missing folder or file, bad option, wrong arity) is one line that quotes the spec and says what is
 * accepted, with the near miss when there is one. combineRewards: weights, their errors, and per-source scores.
 * The model-backed kinds' numbers are tested on stories260K in sources.test.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { acceptedSpecs, combineRewards, meanStd, oracleReward, parseWeights, parseRewardSpec, parseRewardSpecs, registerRewardKind, rewardStats, RewardError, type RewardSource } from '../../src/rewards';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-spec-'));
const fnFile = path.join(dir, 'len.mjs');
fs.writeFileSync(fnFile, 'export default (p, c) => c.length;');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const fixed = (name: string, f: (p: string, c: string) => number): RewardSource => ({
  name,
  score: async (ps, cs) => ps.map((p, i) => f(p, cs[i])),
});

describe('parseRewardSpec', () => {
  test('oracle and fn: parse to working sources; fn takes ?timeout= in seconds', async () => {
    expect(parseRewardSpec('oracle')).toBe(oracleReward);
    const r = parseRewardSpec(` fn:${fnFile}?timeout=2.5 `);
    try {
      expect(r.name).toBe(`fn:${fnFile}?timeout=2.5`);
      expect(r.describe!()).toEqual({ kind: 'fn', file: fnFile, timeout_ms: 2500 });
      expect(await r.score(['p', 'q'], ['abc', ''])).toEqual([3, 0]);
    } finally {
      r.dispose!();
    }
    const ctx = parseRewardSpec(`fn:${fnFile}`, { fnTimeoutMs: 1234 });
    expect(ctx.describe!()).toMatchObject({ timeout_ms: 1234 });
  });

  const errors: Array<[string, RegExp]> = [
    ['', /reward spec is empty; accepted: PATH/],
    ['implict:runs/dpo', /reward spec "implict:runs\/dpo": unknown kind "implict:" \(did you mean implicit:\?\); accepted: PATH .*implicit:POLICY\[,REFERENCE\].*fn:FILE\.mjs.*oracle/],
    ['rm:runs/sft', /unknown kind "rm:"; accepted:/],
    ['orcale', /no such reward-model folder orcale \(did you mean oracle\?\); accepted:/],
    ['runs/nope-rm', /reward spec "runs\/nope-rm": no such reward-model folder runs\/nope-rm; accepted:/],
    ['implicit:', /no policy path given/],
    ['implicit:/no/such/policy', /policy \/no\/such\/policy does not exist/],
    ['implicit-sum:a,b', /one policy and no reference \(reference-free\); expected implicit-sum:POLICY/],
    ['implicit:a,b,c', /at most a policy and a reference; expected implicit:POLICY\[,REFERENCE\]/],
    ['fn:', /no file given; expected fn:FILE\.mjs/],
    ['fn:/no/such/file.mjs', /no such file \/no\/such\/file\.mjs; expected a JavaScript module/],
    ['oracle?beta=1', /unknown option beta; it takes no options/],
    [`fn:${fnFile}?timeuot=3`, /unknown option timeuot \(did you mean timeout\?\); it takes timeout/],
    [`fn:${fnFile}?timeout=0`, /timeout=0 is not a positive number of seconds/],
    [`fn:${fnFile}?timeout`, /option "timeout" is not key=value/],
    [`fn:${fnFile}?timeout=1&timeout=2`, /option timeout given twice/],
    ['implicit:config:tiny?beta=-1', /beta=-1 is not a positive number/],
    ['implicit:config:tiny?max_length=1.5', /max_length=1.5 is not a positive integer/],
    ['implicit:config:tiny?truncation_mode=middle', /truncation_mode=middle; expected one of keep_end, keep_start, drop/],
    ['implicit:config:tiny?bta=0.2', /unknown option bta \(did you mean beta\?\); it takes beta, max_length, max_prompt_length, truncation_mode/],
  ];
  test.each(errors)('%j -> one line', (spec, expected) => {
    let err: unknown = null;
    try {
      parseRewardSpec(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RewardError);
    expect((err as Error).message).toMatch(expected);
    expect((err as Error).message).not.toContain('\n');
  });

  test('a reference-free kind on config:NAME loads (no rlhf.json: defaults); ratio without a reference is refused', async () => {
    const r = parseRewardSpec('implicit-mean:config:tiny');
    try {
      expect(r.describe!()).toMatchObject({ variant: 'mean', reference: null, settings: { sources: { beta: 'default' } } });
      const v = await r.score(['Hi'], [' there']);
      expect(v).toHaveLength(1);
      expect(Number.isFinite(v[0]) && v[0] < 0).toBe(true);
    } finally {
      r.dispose!();
    }
    expect(() => parseRewardSpec('implicit:config:tiny')).toThrow(/no reference given and none recorded/);
  });

  test('registerRewardKind: a new prefix in one call (the judge hook); duplicates and bad prefixes refused', async () => {
    registerRewardKind('const', { usage: 'const:VALUE', options: [], build: (arg, _o, _c, spec) => fixed(spec, () => Number(arg)) });
    expect(await parseRewardSpec('const:7').score(['a'], ['b'])).toEqual([7]);
    expect(acceptedSpecs()).toContain('const:VALUE');
    expect(() => registerRewardKind('fn', { usage: 'x', options: [], build: () => oracleReward })).toThrow('already registered');
    expect(() => registerRewardKind('Bad_Prefix', { usage: 'x', options: [], build: () => oracleReward })).toThrow('lowercase');
  });

  test('parseRewardSpecs disposes what it built when a later spec fails', () => {
    let disposed = 0;
    registerRewardKind('counted', { usage: 'counted:X', options: [], build: (_a, _o, _c, spec) => ({ ...fixed(spec, () => 0), dispose: () => { disposed++; } }) });
    expect(() => parseRewardSpecs(['counted:a', 'counted:b', 'nope:x'])).toThrow('unknown kind "nope:"');
    expect(disposed).toBe(2);
  });
});

describe('combineRewards', () => {
  const len = fixed('len', (_p, c) => c.length);
  const starts = fixed('starts', (p, c) => (c.startsWith(p) ? 1 : 0));

  test('the weighted sum, with each source\'s own scores; one source at weight 1 is that source', async () => {
    const both = combineRewards([len, starts], [0.5, -2]);
    expect(both.name).toBe('0.5*len + -2*starts');
    const d = await both.scoreDetailed(['a', 'b', 'c'], ['abc', 'xy', ''], undefined);
    expect(d).toEqual({ total: [1.5 - 2, 1, 0], perSource: { len: [3, 2, 0], starts: [1, 0, 0] } });
    expect(await combineRewards([len]).score(['a'], ['abcd'])).toEqual([4]);
    expect(combineRewards([len]).name).toBe('len');
  });

  test('rewardStats: TRL\'s rewards/<name>/mean and std (n − 1)', async () => {
    const d = await combineRewards([len, starts]).scoreDetailed(['a', 'b', 'c', 'd'], ['a', 'bb', 'x', 'dddd']);
    const s = rewardStats(d);
    expect(s['rewards/len/mean']).toBe(2);
    expect(s['rewards/len/std']).toBeCloseTo(Math.sqrt((1 + 0 + 1 + 4) / 3), 12);
    expect(s['rewards/starts/mean']).toBe(0.75);
    expect(meanStd([5])).toEqual({ mean: 5, std: NaN });
    expect(meanStd([])).toEqual({ mean: NaN, std: NaN });
  });

  test('errors: weights that do not match, non-finite weights, the same reward twice, none at all, a short answer', async () => {
    expect(() => combineRewards([len, starts], [1])).toThrow('1 reward weight for 2 rewards (len, starts); give one weight per --reward, in the same order');
    expect(() => combineRewards([len], [NaN])).toThrow('reward weight 1 (NaN, for len) is not a finite number');
    expect(() => combineRewards([len, len])).toThrow('reward len is given twice');
    expect(() => combineRewards([])).toThrow('no reward given');
    const short: RewardSource = { name: 'short', score: async () => [1] };
    await expect(combineRewards([short]).score(['a', 'b'], ['c', 'd'])).rejects.toThrow('reward short returned 1 scores for 2 pairs');
    await expect(combineRewards([len]).score(['a', 'b'], ['c'])).rejects.toThrow('2 prompts but 1 completions');
  });

  test('dispose disposes every source', () => {
    const seen: string[] = [];
    combineRewards([{ ...len, dispose: () => seen.push('len') }, starts, { ...fixed('x', () => 0), dispose: () => seen.push('x') }]).dispose!();
    expect(seen).toEqual(['len', 'x']);
  });
});

test('parseWeights: "1,0.5" and repeated flags to numbers; a non-number is one line', () => {
  expect(parseWeights('1, 0.5,-2')).toEqual([1, 0.5, -2]);
  expect(parseWeights(['1', 2, '3,4'])).toEqual([1, 2, 3, 4]);
  expect(() => parseWeights('1,x')).toThrow('--reward-weights 1,x: "x" is not a number; write one weight per --reward, e.g. --reward-weights 1,0.5');
  expect(() => parseWeights('1,,2')).toThrow('"" is not a number');
});
