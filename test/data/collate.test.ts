/**
 * Collation, hand-worked with the byte tokenizer (byte b -> id b+3; <pad>=0, <bos>=1, <eos>=2):
 * prompt "ab" -> [1, 100, 101], chosen "c" -> [102, 2], rejected "de" -> [103, 104, 2].
 */
import { ByteTokenizer } from '../../src/tokenizer/byte';
import type { Tokenizer } from '../../src/tokenizer/types';
import { collatePairs, collateSequences, newCollateStats, preparePair, preparePairs, prepareSequence } from '../../src/data/collate';
import { renderPair } from '../../src/data/render';
import type { PreferenceRecord } from '../../src/data/types';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';

const tok = new ByteTokenizer();
const rec = (o: Partial<PreferenceRecord>): PreferenceRecord => ({ prompt: 'ab', chosen: 'c', rejected: 'de', id: 'x', source: 'f:1', ...o });

test('a pair batch: [chosen; rejected] rows, right padding, masks', () => {
  const ex = preparePair(rec({}), tok)!;
  expect(ex.chosen).toEqual({ ids: [1, 100, 101, 102, 2], completionStart: 3 });
  expect(ex.rejected).toEqual({ ids: [1, 100, 101, 103, 104, 2], completionStart: 3 });
  const b = collatePairs([ex], tok.padId);
  expect(b.size).toBe(1);
  expect(b.seqLen).toBe(6);
  expect(Array.from(b.inputIds)).toEqual([1, 100, 101, 102, 2, 0, 1, 100, 101, 103, 104, 2]);
  expect(Array.from(b.attentionMask)).toEqual([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]);
  expect(Array.from(b.completionMask)).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1]);
  expect(b.margins).toBeUndefined();
});

test('two pairs: rows 0..B-1 chosen, B..2B-1 rejected; margins when any record has one', () => {
  const exs = [rec({ margin: 0.5 }), rec({ prompt: 'a', chosen: 'xyz', rejected: '' })].map((r) => preparePair(r, tok)!);
  const b = collatePairs(exs, tok.padId, { padToMultipleOf: 8 });
  expect(b.seqLen).toBe(8);
  const row = (i: number) => Array.from(b.inputIds.slice(i * 8, i * 8 + 8));
  expect(row(0)).toEqual([1, 100, 101, 102, 2, 0, 0, 0]); // chosen of pair 0
  expect(row(1)).toEqual([1, 100, 123, 124, 125, 2, 0, 0]); // chosen of pair 1
  expect(row(2)).toEqual([1, 100, 101, 103, 104, 2, 0, 0]); // rejected of pair 0
  expect(row(3)).toEqual([1, 100, 2, 0, 0, 0, 0, 0]); // rejected of pair 1: empty text, EOS only
  expect(Array.from(b.completionMask.slice(24, 32))).toEqual([0, 0, 1, 0, 0, 0, 0, 0]);
  expect(Array.from(b.margins!)).toEqual([0.5, 0]);
  expect(b.records.map((r) => r.margin)).toEqual([0.5, undefined]);
});

describe('truncation', () => {
  test('max_prompt_length: keep_end keeps BOS and the last tokens, keep_start the first', () => {
    const s1 = newCollateStats();
    expect(preparePair(rec({}), tok, { maxPromptLength: 2, truncation: 'keep_end' }, s1)!.chosen.ids).toEqual([1, 101, 102, 2]);
    expect(s1.truncatedPrompt).toBe(1);
    expect(preparePair(rec({}), tok, { maxPromptLength: 2, truncation: 'keep_start' })!.chosen.ids).toEqual([1, 100, 102, 2]);
  });

  test('max_length keep_end: the prompt start goes (BOS stays), completions stay whole', () => {
    const s = newCollateStats();
    const ex = preparePair(rec({}), tok, { maxLength: 4, truncation: 'keep_end' }, s)!;
    expect(ex.chosen).toEqual({ ids: [1, 101, 102, 2], completionStart: 2 });
    expect(ex.rejected).toEqual({ ids: [1, 103, 104, 2], completionStart: 1 });
    expect(s).toMatchObject({ kept: 1, truncatedTotal: 1, dropped: 0 });
  });

  test('max_length keep_start: the completion end goes; a side with no completion left is counted', () => {
    const s = newCollateStats();
    const ex = preparePair(rec({}), tok, { maxLength: 4, truncation: 'keep_start' }, s)!;
    expect(ex.chosen).toEqual({ ids: [1, 100, 101, 102], completionStart: 3 });
    expect(ex.rejected).toEqual({ ids: [1, 100, 101, 103], completionStart: 3 });
    preparePair(rec({}), tok, { maxLength: 3, truncation: 'keep_start' }, s);
    expect(s.noCompletionTokens).toBe(1);
    const b = collatePairs([ex], 0);
    expect(Array.from(b.completionMask)).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
  });

  test('drop: pairs over either limit are dropped and counted', () => {
    const { examples, stats } = preparePairs([rec({}), rec({ rejected: 'd' }), rec({ prompt: 'abcdef' })], tok, { maxLength: 5, truncation: 'drop' });
    expect(examples.map((e) => e.record.rejected)).toEqual(['d']);
    expect(stats).toMatchObject({ kept: 1, dropped: 2 });
    const p = preparePairs([rec({ prompt: 'abc' }), rec({})], tok, { maxPromptLength: 3, truncation: 'drop' });
    expect(p.stats).toMatchObject({ kept: 1, dropped: 1 });
  });
});

test('a tokenizer without BOS: nothing prepended; position 0 never counts as completion', () => {
  const noBos: Tokenizer = { kind: 'test', vocabSize: 259, bosId: null, eosId: 2, padId: 0, hasOwnPad: true, encode: (t) => tok.encode(t), decode: (i) => tok.decode(i), save: () => [] };
  const ex = preparePair(rec({ prompt: '' }), noBos)!;
  expect(ex.chosen).toEqual({ ids: [102, 2], completionStart: 0 });
  const b = collatePairs([ex], 0);
  expect(Array.from(b.completionMask)).toEqual([0, 1, 0, 0, 1, 1]);
});

test('pre-tokenised records are used exactly as given', () => {
  const ex = preparePair(rec({ prompt: '', chosen: '', rejected: '', promptIds: [1, 9], chosenIds: [7, 2], rejectedIds: [8, 8, 2] }), tok)!;
  expect(ex.chosen).toEqual({ ids: [1, 9, 7, 2], completionStart: 2 });
  expect(ex.rejected).toEqual({ ids: [1, 9, 8, 8, 2], completionStart: 2 });
});

test('SFT sequences: completion-only loss, or every token', () => {
  const a = prepareSequence(rec({}), tok)!;
  const all = prepareSequence(rec({}), tok, { loss: 'all' })!;
  const b = collateSequences([a, all], tok.padId);
  expect(b.seqLen).toBe(5);
  expect(Array.from(b.inputIds)).toEqual([1, 100, 101, 102, 2, 1, 100, 101, 102, 2]);
  expect(Array.from(b.completionMask)).toEqual([0, 0, 0, 1, 1, 0, 1, 1, 1, 1]);
  expect(Array.from(b.attentionMask)).toEqual(new Array(10).fill(1));
});

describe('conversations', () => {
  const conv = rec({
    prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
    chosen: [{ role: 'assistant', content: 'Yo' }],
    rejected: [{ role: 'assistant', content: 'What?' }],
  });
  const CHATML =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

  test('default layout when the tokenizer has no chat template', () => {
    expect(renderPair(conv)).toEqual({ prompt: '<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n', chosen: 'Yo\n', rejected: 'What?\n' });
  });

  test("the tokenizer's Jinja chat template, BOS/EOS added as ids not text", () => {
    class Chat extends ByteTokenizer {
      readonly chatTemplate = '{{ bos_token }}' + CHATML.replace('<|im_end|>', '<|im_end|>{{ eos_token }}');
    }
    const t = new Chat();
    expect(renderPair(conv, t.chatTemplate)).toEqual({
      prompt: '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
      chosen: 'Yo<|im_end|>\n',
      rejected: 'What?<|im_end|>\n',
    });
    const ex = preparePair(conv, t)!;
    expect(ex.chosen.ids[0]).toBe(1);
    expect(ex.chosen.ids.filter((i) => i === 1)).toHaveLength(1);
    expect(tok.decode(ex.chosen.ids.slice(ex.chosen.completionStart))).toBe('Yo<|im_end|>\n');
    expect(ex.chosen.ids[ex.chosen.ids.length - 1]).toBe(2);
  });

  test('a template whose prompt is not a prefix of the conversation gives a DataError naming the record', () => {
    const weird = '{% for m in messages %}{{ m.content }}|{% endfor %}{% if add_generation_prompt %}GEN{% endif %}';
    expect(() => renderPair(conv, weird)).toThrow(/^f:1: the chat template renders prompt \+ chosen so that it does not start with the rendered prompt/);
  });

  describeIf(pythonWith(['jinja2']), 'our Jinja rendering matches Python jinja2 (the engine transformers uses)', () => {
    test('same text for prompt and full conversation', () => {
      const convs = [conv, rec({ prompt: [{ role: 'user', content: 'a "quoted"\nline' }], chosen: [{ role: 'assistant', content: 'ü ✓' }], rejected: [{ role: 'assistant', content: '' }] })];
      const py = runPython<string[][]>(
        `import sys, json, jinja2
d = json.load(sys.stdin)
t = jinja2.Environment().from_string(d["template"])
out = []
for c in d["convs"]:
    p = t.render(messages=c["prompt"], add_generation_prompt=True, bos_token="", eos_token="")
    f = t.render(messages=c["prompt"] + c["chosen"], add_generation_prompt=False, bos_token="", eos_token="")
    out.append([p, f[len(p):]])
print(json.dumps(out))`,
        { template: CHATML, convs },
      );
      expect(convs.map((c) => { const r = renderPair(c, CHATML); return [r.prompt, r.chosen]; })).toEqual(py);
    });
  });
});
