/**
 * The generative judge (src/rewards/judge.ts):
 *   - templates: unknown placeholders and missing answers are one-line errors; filling is one pass;
 *   - order averaging and position bias, against numbers worked out by hand from a fake judge whose log-odds are
 *     quality(a) − quality(b) + a constant lean towards label A;
 *   - the labels' single-token check: the byte tokenizer passes (after a space), a tokenizer that spends two ids
 *     per character fails with a message naming it and what the labels encode to, and so does stories260K's
 *     tokenizer for "A" (it has no "▁A" piece);
 *   - the token reading: log P(label_a) − log P(label_b) at the position after the judge text, against
 *     transformers' LlamaForCausalLM on stories260K's HF folder (texts tokenised by transformers itself,
 *     right-padded batches of unequal length here).
 */
import { ByteTokenizer } from '../../src/tokenizer/byte';
import type { Tokenizer } from '../../src/tokenizer/types';
import {
  DEFAULT_JUDGE_TEMPLATE,
  Judge,
  JudgeError,
  judgeReward,
  judgeText,
  labelTokens,
  parseJudgeTemplate,
  fillJudgeTemplate,
  positionBias,
} from '../../src/rewards/judge';
import { parseRewardSpec } from '../../src/rewards/spec';
import { allOf, describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { sharedFiles, sharedPath } from '../helpers/shared';

describe('judge templates', () => {
  test('an unknown placeholder is a one-line error naming it and the allowed ones', () => {
    const run = () => parseJudgeTemplate('Q: {prompt}\nA: {a}\nB: {b}\nWinner ({labels}):', ['A', 'B'], 'template t.txt');
    expect(run).toThrow(JudgeError);
    expect(run).toThrow(/^template t\.txt: unknown placeholder \{labels\}; a judge template may use \{prompt\}, \{a\}, \{b\}, \{label_a\}, \{label_b\}$/);
  });

  test('a template without both answers, or with equal labels, is refused', () => {
    expect(() => parseJudgeTemplate('Q: {prompt} {a}')).toThrow(/no \{b\} placeholder/);
    expect(() => parseJudgeTemplate('{a} {b}', ['A', 'A'])).toThrow(/two different non-empty strings/);
  });

  test('filling is one pass: an answer that contains a placeholder stays as written', () => {
    const t = parseJudgeTemplate('{prompt}|{label_a}:{a}|{label_b}:{b}|', ['X', 'Y']);
    expect(fillJudgeTemplate(t, 'q', 'says {b}', 'b')).toBe('q|X:says {b}|Y:b|');
  });

  test('with a chat template, all lines but the last are the user message and the last line starts the reply', () => {
    const chat = '{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}';
    const t = parseJudgeTemplate('Q {prompt}\n{a} or {b}?\nBest:');
    expect(judgeText(t, 'q', 'x', 'y', chat)).toBe('<user>Q q\nx or y?</user><assistant>Best:');
    expect(judgeText(t, 'q', 'x', 'y')).toBe('Q q\nx or y?\nBest:');
  });
});

/** Fake log-odds: quality(answer a) − quality(answer b) + LEAN, read back from the filled template. */
const LEAN = 1.5;
const QUALITY: Record<string, number> = { good: 2, bad: 0, fine: 1 };
function fakeJudge(): { judge: Judge; calls: string[][] } {
  const t = parseJudgeTemplate('{prompt}|{a}|{b}|');
  const calls: string[][] = [];
  const judge = new Judge(t, async (texts) => {
    calls.push(texts);
    return texts.map((s) => {
      const [, a, b] = s.split('|');
      return QUALITY[a] - QUALITY[b] + LEAN;
    });
  });
  return { judge, calls };
}

describe('order averaging and position bias (worked by hand)', () => {
  test('score = ½ (ab − ba) cancels the lean; a tie of contents is a position-biased pair', async () => {
    const { judge, calls } = fakeJudge();
    const s = await judge.scorePairs(['q', 'q', 'q'], ['good', 'bad', 'fine'], ['bad', 'good', 'fine']);
    // (good, bad): ab = 2 + 1.5 = 3.5, ba = −2 + 1.5 = −0.5 -> 2. (bad, good): −0.5, 3.5 -> −2. (fine, fine): 1.5, 1.5 -> 0.
    expect(s.ab).toEqual([3.5, -0.5, 1.5]);
    expect(s.ba).toEqual([-0.5, 3.5, 1.5]);
    expect(s.score).toEqual([2, -2, 0]);
    // One call to the model with both orders of every pair, first order first.
    expect(calls).toEqual([['q|good|bad|', 'q|bad|good|', 'q|bad|good|', 'q|good|bad|', 'q|fine|fine|', 'q|fine|fine|']]);
    const pb = positionBias(s.ab, s.ba);
    // Only (fine, fine) picks label A in both orders: 1 of 3. The lean is ½(ab + ba) averaged: (1.5 + 1.5 + 1.5) / 3.
    expect(pb).toEqual({ n: 3, same_label: 1, rate: 1 / 3, label_a_logodds: 1.5 });
  });

  test('a lean stronger than the content makes every pair position-biased, yet the averaged score keeps the order', async () => {
    const t = parseJudgeTemplate('{prompt}|{a}|{b}|');
    const judge = new Judge(t, async (texts) => texts.map((s) => QUALITY[s.split('|')[1]] - QUALITY[s.split('|')[2]] + 5));
    const s = await judge.scorePairs(['q', 'q'], ['good', 'bad'], ['bad', 'fine']);
    expect(s.score).toEqual([2, -1]);
    expect(positionBias(s.ab, s.ba).rate).toBe(1);
  });

  test('mismatched inputs are an error', async () => {
    await expect(fakeJudge().judge.scorePairs(['q'], ['a', 'b'], ['c'])).rejects.toThrow(/1 prompts, 2 first and 1 second/);
  });
});

/** A tokenizer that spends two ids on every character: no label is ever one token. */
class TwoPerChar implements Tokenizer {
  readonly kind = 'two-per-char';
  readonly vocabSize = 600;
  readonly bosId = null;
  readonly eosId = null;
  readonly padId = 0;
  readonly hasOwnPad = true;
  encode(text: string): number[] {
    return [...text].flatMap((c) => [1, c.charCodeAt(0) % 500 + 3]);
  }
  decode(): string {
    return '';
  }
  save(): string[] {
    return [];
  }
}

describe('labels are single tokens where the judge reads them', () => {
  const t = parseJudgeTemplate(DEFAULT_JUDGE_TEMPLATE);

  test('byte tokenizer: " A" is two bytes, so the text gets a space and "A" is read', () => {
    const tok = new ByteTokenizer();
    expect(labelTokens(t, tok)).toEqual({ suffix: ' ', ids: [tok.encode('A')[0], tok.encode('B')[0]] });
  });

  test('a tokenizer that cannot: one line naming it and what each label encodes to', () => {
    const run = () => labelTokens(t, new TwoPerChar(), undefined, 'my-tok');
    expect(run).toThrow(JudgeError);
    let msg = '';
    try {
      run();
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).not.toContain('\n');
    expect(msg).toContain('two-per-char tokenizer (my-tok)');
    expect(msg).toContain('" A" -> [1,35,1,68]');
    expect(msg).toContain('"A" after a space -> [1,68]');
  });
});

const STORIES = sharedPath('models/stories260K');

describeIf(sharedFiles('models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'), 'stories260K llama2.c judge', () => {
  test('default labels: "A" is no single token for tok512 (no "▁A" piece), so judge:MODEL refuses it in one line', () => {
    const run = () => judgeReward(`${STORIES}/stories260K.bin`);
    expect(run).toThrow(JudgeError);
    expect(run).toThrow(/^the judge's llama2c tokenizer \(.*stories260K\.bin\) does not encode the labels \["A","B"\] as one token each .*" A" -> \[410,447\], " B" -> \[368\]; "A" after a space -> \[447\], "B" after a space -> tokens that change the text before it\)/);
  });
});

describeIf(sharedFiles('models/stories260K/hf/model.safetensors'), 'judge:MODEL through the reward spec parser', () => {
  test('judge:MODEL?labels=B,T scores each completion against the row\'s reference, else the empty answer', async () => {
    const src = parseRewardSpec(`judge:${STORIES}/hf?labels=B,T`);
    const direct = judgeReward(`${STORIES}/hf`, { labels: ['B', 'T'] });
    try {
      expect(src.name).toBe(`judge:${STORIES}/hf?labels=B,T`);
      expect(src.describe?.()).toMatchObject({ kind: 'judge', labels: ['B', 'T'], label_ids: [368, 274] });
      const prompts = ['Lily saw a cat.', 'Tom ran.'];
      const completions = ['The cat was happy.', 'He fell.'];
      const got = await src.score(prompts, completions, [{ reference: 'She ran home.' }, {}]);
      const vsRef = await direct.scorePairs(prompts.slice(0, 1), completions.slice(0, 1), ['She ran home.']);
      const vsEmpty = await direct.scorePairs(prompts.slice(1), completions.slice(1), ['']);
      expect(got[0]).toBeCloseTo(vsRef.score[0], 5);
      expect(got[1]).toBeCloseTo(vsEmpty.score[0], 5);
      expect(got[0]).not.toBeCloseTo(got[1], 3);
    } finally {
      src.dispose?.();
      direct.dispose();
    }
  }, 60000);

  test('bad judge options are one-line errors', () => {
    expect(() => parseRewardSpec(`judge:${STORIES}/hf?labels=B`)).toThrow(/labels=B; expected two different labels separated by a comma/);
    expect(() => parseRewardSpec(`judge:${STORIES}/hf?labelz=B,T`)).toThrow(/unknown option labelz \(did you mean labels\?\)/);
    expect(() => parseRewardSpec(`judge:${STORIES}/hf`)).toThrow(JudgeError); // no single-token "A" in this tokenizer
  });
});

describeIf(allOf(sharedFiles('models/stories260K/hf/model.safetensors'), pythonWith(['torch', 'transformers'])), 'judge token reading vs transformers', () => {
  const prompts = ['Lily saw a cat.', 'Tom had a red ball and a big, big dog who liked to run in the park every day.', 'Why?'];
  const first = ['The cat was happy.', 'He was sad.', 'Because the sun was warm and the birds sang in the tall green trees.'];
  const second = ['She ran home.', 'The dog ran to the park and played with the ball all day long.', 'No.'];

  test('ab and ba equal log P(label_a) − log P(label_b) from LlamaForCausalLM, texts tokenised by transformers', async () => {
    const judge = judgeReward(`${STORIES}/hf`, { labels: ['B', 'T'], batchSize: 4 });
    try {
      const ours = await judge.scorePairs(prompts, first, second);
      const texts = prompts.flatMap((p, k) => [judge.judge.text(p, first[k], second[k]), judge.judge.text(p, second[k], first[k])]);
      const ref = runPython<{ d: number[]; label_ids: number[] }>(
        `
import json, sys, torch
from transformers import AutoTokenizer, LlamaForCausalLM
req = json.load(sys.stdin)
tok = AutoTokenizer.from_pretrained(req["dir"])
model = LlamaForCausalLM.from_pretrained(req["dir"], torch_dtype=torch.float32).eval()
cue = tok(req["texts"][0])["input_ids"]
label_ids = [tok(req["texts"][0] + " " + l)["input_ids"][len(cue)] for l in req["labels"]]
out = []
with torch.no_grad():
    for t in req["texts"]:
        ids = torch.tensor([tok(t)["input_ids"]])
        lp = torch.log_softmax(model(ids).logits[0, -1].double(), -1)
        out.append(float(lp[label_ids[0]] - lp[label_ids[1]]))
print(json.dumps({"d": out, "label_ids": label_ids}))
`,
        { dir: `${STORIES}/hf`, texts, labels: ['B', 'T'] },
      );
      expect(judge.tokens).toEqual({ suffix: '', ids: ref.label_ids });
      const d = prompts.flatMap((_, k) => [ours.ab[k], ours.ba[k]]);
      d.forEach((v, k) => expect(Math.abs(v - ref.d[k])).toBeLessThan(2e-4));
      // The readings are not all alike (the check above could not pass with a constant).
      expect(Math.max(...ref.d) - Math.min(...ref.d)).toBeGreaterThan(1e-3);
      ours.score.forEach((s, k) => expect(s).toBeCloseTo((ref.d[2 * k] - ref.d[2 * k + 1]) / 2, 4));
      // Pointwise use: the completion against the empty baseline answer.
      const pw = await judge.score(prompts.slice(0, 1), first.slice(0, 1));
      const vsEmpty = await judge.scorePairs(prompts.slice(0, 1), first.slice(0, 1), ['']);
      expect(pw).toEqual(vsEmpty.score);
    } finally {
      judge.dispose();
    }
  }, 120000);
});
