/**
 * scripts/generate-long-prefs.js, the end-to-end benchmark's long-prompt data: deterministic, HH-RLHF-like
 * multi-turn prompts of the documented lengths, short completions whose length says nothing about the preference,
 * read by this toolkit as explicit-prompt pairs; files cached by their settings and the generator's source.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadPreferences, preparePairs } from '../../src/data';
import { loadTokenizer } from '../../src/tokenizer/load';
import { describeIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from '../helpers/shared';

interface LongRecord { id: string; prompt: string; chosen: string; rejected: string; kind: 'tone' | 'topic'; topic: string; turns: number }
const gen = require('../../scripts/generate-long-prefs.js') as {
  generate(o: { train: number; eval: number; seed: number }): { train: LongRecord[]; eval: LongRecord[] };
  writeLongPrefs(dir: string, o?: { train?: number; eval?: number; seed?: number; force?: boolean }): { reused: boolean; settings: Record<string, unknown>; sha256: { train: string }; train: { records: number } };
  percentiles(xs: number[]): Record<string, number>;
  SHORT: [number, number];
  LONG: [number, number];
  TOPICS: { name: string; questions: string[]; answers: string[] }[];
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'long-prefs-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('long-prompt preference data', () => {
  const { train, eval: ev } = gen.generate({ train: 400, eval: 50, seed: 7 });

  test('deterministic: the same settings give the same records; another seed others', () => {
    expect(gen.generate({ train: 400, eval: 50, seed: 7 })).toEqual({ train, eval: ev });
    expect(gen.generate({ train: 20, eval: 1, seed: 8 }).train[0]).not.toEqual(train[0]);
    expect(new Set([...train, ...ev].map((r) => r.id)).size).toBe(450);
    // train and eval come from different seeds: no prompt is repeated between them
    const prompts = new Set(train.map((r) => r.prompt));
    expect(ev.filter((r) => prompts.has(r.prompt))).toEqual([]);
  });

  test('HH-RLHF-like transcripts: Human/Assistant turns ending in "\\n\\nAssistant:", answers after a space', () => {
    for (const r of train) {
      expect(r.prompt.startsWith('\n\nHuman: ')).toBe(true);
      expect(r.prompt.endsWith('\n\nAssistant:')).toBe(true);
      // `turns` counts the Human turns, the last question included; every earlier one has its answer
      expect(r.prompt.split('\n\nHuman: ').length - 1).toBe(r.turns);
      expect(r.prompt.split('\n\nAssistant:').length - 1).toBe(r.turns);
      expect(r.turns).toBeGreaterThanOrEqual(2);
      expect([r.chosen[0], r.rejected[0]]).toEqual([' ', ' ']);
      expect(r.chosen).not.toBe(r.rejected);
      expect(/^[\x20-\x7e\n]*$/.test(r.prompt + r.chosen + r.rejected)).toBe(true); // ASCII: characters = bytes
    }
    expect(gen.TOPICS.map((t) => t.name)).toContain(train[0].topic);
  });

  test('the documented length distribution holds', () => {
    const longestQuestion = Math.max(...gen.TOPICS.flatMap((t) => t.questions.map((q) => `\n\nHuman: ${q}\n\nAssistant:`.length)));
    const p = train.map((r) => r.prompt.length);
    // earlier turns never pass the target (at most LONG[1]) unless the first turn alone does; then the last question
    expect(Math.max(...p)).toBeLessThanOrEqual(gen.LONG[1] + longestQuestion);
    const q = gen.percentiles(p);
    expect(q.p10).toBeLessThan(gen.SHORT[1]);
    expect(q.p90).toBeGreaterThan(gen.LONG[0]);
    const c = train.flatMap((r) => [r.chosen.length, r.rejected.length]);
    expect(Math.min(...c)).toBeGreaterThanOrEqual(40);
    expect(Math.max(...c)).toBeLessThanOrEqual(240);
    // length carries no signal: chosen is the longer one about half the time, in both kinds
    for (const kind of ['tone', 'topic']) {
      const k = train.filter((r) => r.kind === kind);
      expect(k.length).toBeGreaterThan(150);
      const longer = k.filter((r) => r.chosen.length > r.rejected.length).length / k.length;
      expect(longer).toBeGreaterThan(0.35);
      expect(longer).toBeLessThan(0.65);
    }
  });

  test('what decides the preference: tone pairs differ in politeness, topic pairs in what they answer', () => {
    const t = train.find((r) => r.kind === 'topic')!;
    const topic = gen.TOPICS.find((x) => x.name === t.topic)!;
    const lastQuestion = t.prompt.slice(t.prompt.lastIndexOf('\n\nHuman: ') + 9, -'\n\nAssistant:'.length);
    expect(topic.questions).toContain(lastQuestion);
    expect(topic.answers.some((a) => t.chosen.includes(a))).toBe(true);
    expect(topic.answers.some((a) => t.rejected.includes(a))).toBe(false);
  });

  test('written as JSONL that this toolkit reads as explicit-prompt pairs; reused while settings and generator match', async () => {
    const d = path.join(dir, 'lp');
    const first = gen.writeLongPrefs(d, { train: 30, eval: 10, seed: 3 });
    expect(first.reused).toBe(false);
    expect(first.settings).toMatchObject({ train: 30, eval: 10, seed: 3, generator: expect.stringMatching(/^[0-9a-f]{16}$/) });
    const { records, stats } = await loadPreferences(path.join(d, 'train.jsonl'));
    expect(records).toHaveLength(30);
    expect(stats.invalid).toBe(0);
    const want = gen.generate({ train: 30, eval: 10, seed: 3 }).train[0];
    expect(records[0]).toMatchObject({ prompt: want.prompt, chosen: want.chosen, rejected: want.rejected });
    expect(gen.writeLongPrefs(d, { train: 30, eval: 10, seed: 3 }).reused).toBe(true);
    // a damaged file is written again, and so are files of other settings
    fs.appendFileSync(path.join(d, 'train.jsonl'), '\n');
    expect(gen.writeLongPrefs(d, { train: 30, eval: 10, seed: 3 }).reused).toBe(false);
    expect(gen.writeLongPrefs(d, { train: 31, eval: 10, seed: 3 }).reused).toBe(false);
    expect(fs.readFileSync(path.join(d, 'train.jsonl'), 'utf8').trim().split('\n')).toHaveLength(31);
  });
});

describe('the default files, as their documentation gives them', () => {
  const d = gen.generate({ train: 2400, eval: 400, seed: 7 });

  test("the header's and bench/README.md's character figures", () => {
    expect(gen.percentiles(d.train.map((r) => r.prompt.length))).toMatchObject({ min: 225, p10: 320, p50: 617, p90: 1350, max: 1719 });
    expect(gen.percentiles(d.train.flatMap((r) => [r.chosen.length, r.rejected.length]))).toMatchObject({ min: 59, p50: 122, max: 200 });
    expect(gen.percentiles(d.train.map((r) => r.turns))).toMatchObject({ min: 2, max: 8 });
  });

  describeIf(sharedFiles('models/stories260K/hf/tokenizer.json'), "in stories260K's tokenizer", () => {
    // The 400 eval pairs (the 2,400 train pairs take a minute to tokenise here; the header gives both).
    test('eval prompts of 145 to 1,042 tokens (median 361), 64% of pairs within 512', () => {
      const tok = loadTokenizer(sharedPath('models', 'stories260K', 'hf'));
      const records = d.eval.map((r) => ({ ...r, source: 'long' }));
      const prompts = records.map((r) => 1 + tok.encode(r.prompt).length); // with BOS, as the tokenizer.json's post-processor adds it
      expect(gen.percentiles(prompts)).toMatchObject({ min: 145, p50: 361, max: 1042 });
      // as the benchmark's filter counts: BOS + prompt + completion + EOS per side, both sides within 512
      const { examples } = preparePairs(records as never, tok, { maxLength: 512, truncation: 'drop' });
      expect(examples.length / records.length).toBeCloseTo(0.64, 2);
    });
  });
});
