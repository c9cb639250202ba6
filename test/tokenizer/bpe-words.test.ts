/**
 * src/tokenizer/bpe-words.ts: the word-by-word BPE path gives the same ids as the plain library (a second,
 * unpatched @huggingface/tokenizers instance) and as Python's `tokenizers`, is installed where exact
 * (stories260K; GPT-2, where it splits nothing) and refused where a merge crosses a cut or the model has a
 * feature the exactness argument does not cover. A silently disabled path fails the "installed" tests.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { HfTokenizer } from '../../src/tokenizer/hf';
import { installBpeWordSplit, wordSplitRefusal, PIECE_CACHE_ENTRIES, PIECE_CACHE_MAX_CHARS, type BpeWordSplit } from '../../src/tokenizer/bpe-words';
import { mulberry32 } from '../../src/data/rng';
import { allOf, describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { readVectors, sharedFiles, sharedPath } from './shared';

const STORIES = 'models/stories260K/hf/tokenizer.json';
const GPT2 = 'tokenizers/gpt2/tokenizer.json';
const M = '\u2581';

const gen = require('../../scripts/generate-long-prefs.js') as {
  generate(o: { train: number; eval: number; seed: number }): { train: Array<{ prompt: string; chosen: string; rejected: string }> };
};

/** Strings that stress the cut rule: spaces at both ends and in runs, a literal "▁", byte fallback, special tokens. */
const ADVERSARIAL = [
  '',
  ' ',
  '   ',
  ' Happy to help.',
  '   leading spaces',
  'trailing spaces   ',
  'runs  of   spaces    between     words',
  ' '.repeat(300) + 'x',
  '\t\ttabs\tand\t',
  'new\nlines\n\n\nand\r\nreturns ',
  `a literal ${M} in the text`,
  `${M}${M}${M}`,
  `x${M}y${M}${M}z ${M} `,
  `${M} ${M}  ${M}`,
  'emoji 😀👍🏽 and CJK 中文 日本語 한국어',
  `😀${M}x 😀 x😀 😀`,
  '<s> special </s> tokens <unk> written in the text',
  'a<s>b</s>c',
  '<s>',
  "I've 'll 're don't",
  '1234567890 3.14159',
  'word'.repeat(100),
  'a '.repeat(400),
  'aaa aaaa aaaaa b a b ab ba',
];

/** Seeded random strings over an alphabet of spaces, "▁", newlines, specials and multi-byte characters. */
function fuzzTexts(n: number, seed: number): string[] {
  const rng = mulberry32(seed);
  const alphabet = [' ', ' ', ' ', M, 'a', 'b', 'c', 'a', 'b', 'the', 'he', 'z', '\n', '\t', 'é', '😀', '中', '<s>', '.', "'"];
  return Array.from({ length: n }, (_, i) => {
    const len = i % 25 === 0 ? 600 : Math.floor(rng() * 40);
    let s = '';
    for (let k = 0; k < len; k++) s += alphabet[Math.floor(rng() * alphabet.length)];
    return s;
  });
}

/** Every text of the repository's short preference data and of a generated long-prompt sample. */
function dataTexts(): string[] {
  const prefs = fs
    .readFileSync(path.resolve(__dirname, '../../data/prefs.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      return ['prompt', 'chosen', 'rejected'].filter((k) => typeof r[k] === 'string').map((k) => r[k] as string);
    });
  const long = gen.generate({ train: 150, eval: 0, seed: 7 }).train.flatMap((r) => [r.prompt, r.chosen, r.rejected]);
  return [...prefs, ...long];
}

/** A second, unpatched library instance: the reference the fast path must equal. */
function plainLib(tokenizerJson: string): HfLibTokenizer {
  return new HfLibTokenizer(JSON.parse(tokenizerJson), {});
}

const plainIds = (lib: HfLibTokenizer, texts: string[]) => texts.map((t) => lib.encode(t, { add_special_tokens: false }).ids);

/** Texts whose ids differ (with both id lists), so a failure shows the text rather than 7,000 arrays. */
function mismatches(texts: string[], a: number[][], b: number[][]): Array<[string, number[], number[]]> {
  return texts.flatMap((t, i) => (a[i].join(',') === b[i].join(',') ? [] : [[t, a[i], b[i]] as [string, number[], number[]]]));
}

function statsOf(split: BpeWordSplit): { hits: number; misses: number; entries: number } {
  if (!split.installed) throw new Error(`the word split is not installed: ${split.reason}`);
  return split.stats();
}

/**
 * A tiny Llama-style tokenizer.json (the stories260K normalizer, no pre-tokenizer, no byte fallback: unknown
 * characters are <unk>) over the characters ▁ a b c and the results of `merges`. `model` overrides fields.
 */
function synthetic(merges: Array<[string, string]>, model: Record<string, unknown> = {}): string {
  const vocab: Record<string, number> = { '<unk>': 0 };
  for (const t of [M, 'a', 'b', 'c', ...merges.map(([x, y]) => x + y)]) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: M }, { type: 'Replace', pattern: { String: ' ' }, content: M }] },
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
      ...model,
    },
  });
}

/** "a b" -> "▁a▁b": (▁,b) first, then (a,▁b) joins across the cut before the second "▁": [▁, a▁b]. Split: [▁a][▁b]. */
const CROSSING: Array<[string, string]> = [
  [M, 'b'],
  ['a', `${M}b`],
  [M, 'a'],
];
/** No (x, ▁y) with x ending in a non-"▁": exact. Equal ranks at several positions test the leftmost-first tie-break. */
const EXACT: Array<[string, string]> = [
  ['a', 'a'],
  [M, 'b'],
  [M, M],
  [`${M}${M}`, 'a'],
  ['aa', 'a'],
  [M, 'a'],
  ['b', 'c'],
  [`${M}a`, 'aa'],
  [`${M}${M}`, `${M}b`],
  ['c', 'a'],
];
const SYN_TEXTS = ['a b', 'ab a b', 'aaa aaaa aaaaa', '  a  b  ', `a${M}b ${M}${M}a`, 'bca cab abc z a', 'aaaaaaa', ...ADVERSARIAL];

describe('word-split exactness check on synthetic tokenizers', () => {
  test('a merge that joins across a cut is refused, and splitting would indeed change the ids', () => {
    const json = synthetic(CROSSING);
    const plain = plainLib(json);
    // The point of the refusal: pieces encoded on their own give other ids than the whole word.
    const whole = plain.encode('a b', { add_special_tokens: false }).ids;
    const pieces = [...plain.encode('a', { add_special_tokens: false }).ids, ...plain.encode('b', { add_special_tokens: false }).ids];
    expect(whole).toEqual([plain.token_to_id(M), plain.token_to_id(`a${M}b`)]);
    expect(pieces).not.toEqual(whole);

    const tok = new HfTokenizer({ tokenizerJson: json });
    expect(tok.bpeWordSplit).toEqual({ installed: false, reason: `merge 1 ${JSON.stringify(['a', `${M}b`])} joins across a cut before "${M}"` });
    expect(mismatches(SYN_TEXTS, SYN_TEXTS.map((t) => tok.encode(t)), plainIds(plain, SYN_TEXTS))).toEqual([]);
  });

  test('a tokenizer without such a merge gets the path, with the same ids (ties broken leftmost first)', () => {
    const json = synthetic(EXACT);
    const tok = new HfTokenizer({ tokenizerJson: json });
    expect(tok.bpeWordSplit.installed).toBe(true);
    const plain = plainLib(json);
    // "▁aaa": (a,a) applies at two places; leftmost first gives ▁ aa a -> (aa,a) -> [▁, aaa]. Rightmost first
    // would give ▁ a aa -> (▁,a) -> (▁a,aa) -> [▁aaa]. Inside a piece the library keeps leftmost first.
    expect(tok.encode('aaa aaa').map((id) => tok.idToToken(id))).toEqual([M, 'aaa', M, 'aaa']);
    const texts = [...SYN_TEXTS, ...fuzzTexts(400, 11)];
    expect(mismatches(texts, texts.map((t) => tok.encode(t)), plainIds(plain, texts))).toEqual([]);
  });

  test.each([
    ['ignore_merges', { ignore_merges: true }, 'ignore_merges is true, not false'],
    ['end_of_word_suffix', { end_of_word_suffix: '</w>' }, 'the model has an end_of_word_suffix'],
    ['continuing_subword_suffix', { continuing_subword_suffix: '##' }, 'the model has a continuing_subword_suffix'],
    ['continuing_subword_prefix', { continuing_subword_prefix: '##' }, 'the model has a continuing_subword_prefix'],
    ['dropout', { dropout: 0.1 }, 'the model has dropout 0.1'],
    ['a malformed merge', { merges: [[M, 'b'], ['a']] }, 'merge 1 is ["a"], not a pair of non-empty strings'],
  ])('refused with %s; ids stay the library\'s', (_name, model, reason) => {
    const json = synthetic(EXACT, model);
    const tok = new HfTokenizer({ tokenizerJson: json });
    expect(tok.bpeWordSplit).toEqual({ installed: false, reason });
    expect(mismatches(SYN_TEXTS, SYN_TEXTS.map((t) => tok.encode(t)), plainIds(plainLib(json), SYN_TEXTS))).toEqual([]);
  });

  test('an unexpected library shape is refused, never thrown', () => {
    expect(installBpeWordSplit(null)).toEqual({ installed: false, reason: 'the tokenizer has no model' });
    expect(installBpeWordSplit({ model: { config: { type: 'WordPiece' } } })).toEqual({ installed: false, reason: 'the model type is "WordPiece", not "BPE"' });
    expect(wordSplitRefusal({ config: { type: 'BPE' }, merges: [] })).toMatch(/no bpe\(\) method/);
    expect(wordSplitRefusal({ config: { type: 'BPE' }, bpe: () => [] })).toMatch(/no merges array/);
    const throwing = {
      get model(): unknown {
        throw new Error('boom');
      },
    };
    expect(installBpeWordSplit(throwing)).toEqual({ installed: false, reason: 'unexpected library shape (boom)' });
  });

  test('the piece cache stays bounded and skips long pieces; ids unchanged', () => {
    const json = synthetic(EXACT);
    const tok = new HfTokenizer({ tokenizerJson: json });
    const plain = plainLib(json);
    // 40,000 distinct words (base-3 numerals spelled in a, b, c), 1,000 per text.
    const words = Array.from({ length: 40_000 }, (_, i) => i.toString(3).replace(/[012]/g, (d) => 'abc'[Number(d)]));
    const texts = Array.from({ length: 40 }, (_, k) => words.slice(k * 1000, (k + 1) * 1000).join(' '));
    expect(mismatches(texts, texts.map((t) => tok.encode(t)), plainIds(plain, texts))).toEqual([]);
    expect(statsOf(tok.bpeWordSplit).entries).toBe(PIECE_CACHE_ENTRIES);
    const before = statsOf(tok.bpeWordSplit);
    const long = 'a'.repeat(PIECE_CACHE_MAX_CHARS + 10);
    expect(tok.encode(long)).toEqual(plainIds(plain, [long])[0]);
    expect(tok.encode(long)).toEqual(plainIds(plain, [long])[0]);
    expect(statsOf(tok.bpeWordSplit)).toEqual({ ...before, misses: before.misses + 2 });
  });
});

describeIf(sharedFiles(STORIES, GPT2, 'models/stories260K/tokenizer-vectors.jsonl'), 'word-split BPE on stories260K and GPT-2', () => {
  const read = (f: string) => fs.readFileSync(sharedPath(f), 'utf8');

  test('stories260K: installed, and the piece cache is what encode goes through', () => {
    const tok = HfTokenizer.fromPath(sharedPath(STORIES));
    expect(tok.bpeWordSplit.installed).toBe(true);
    // One word "▁hello▁hello▁hello" (no pre-tokenizer) -> three pieces "▁hello": one miss, two hits.
    expect(statsOf(tok.bpeWordSplit)).toEqual({ hits: 0, misses: 0, entries: 0 });
    const ids = tok.encode('hello hello hello');
    expect(statsOf(tok.bpeWordSplit)).toEqual({ hits: 2, misses: 1, entries: 1 });
    expect(ids).toEqual(plainIds(plainLib(read(STORIES)), ['hello hello hello'])[0]);
    // A long prompt a second time: every piece is a hit.
    const prompt = gen.generate({ train: 1, eval: 0, seed: 7 }).train[0].prompt;
    expect(prompt.length).toBeGreaterThan(PIECE_CACHE_MAX_CHARS);
    tok.encode(prompt);
    const once = statsOf(tok.bpeWordSplit);
    tok.encode(prompt);
    const twice = statsOf(tok.bpeWordSplit);
    expect(twice.misses).toBe(once.misses);
    expect(twice.hits - once.hits).toBeGreaterThan(50);
  });

  test('stories260K: the 110 run.c vectors, the data, adversarial and random strings equal the plain library', () => {
    const tok = HfTokenizer.fromPath(sharedPath(STORIES));
    const plain = plainLib(read(STORIES));
    const vectors = readVectors();
    expect(vectors.length).toBe(110);
    expect(vectors.filter((v) => tok.encode(v.text).join(',') !== v.ids.join(',')).map((v) => v.text)).toEqual([]);
    const texts = [...vectors.map((v) => v.text), ...dataTexts(), ...ADVERSARIAL, ...fuzzTexts(500, 7)];
    expect(mismatches(texts, texts.map((t) => tok.encode(t)), plainIds(plain, texts))).toEqual([]);
    // Kept as it is (the reference is the tokenizers library and run.c): a leading space is its own "▁".
    expect(tok.encode(' Happy').map((id) => tok.idToToken(id))[0]).toBe(M);
  });

  test('GPT-2: installed but splitting nothing (byte-level words hold no "▁"); same ids as the plain library', () => {
    const tok = HfTokenizer.fromPath(sharedPath('tokenizers/gpt2'));
    expect(tok.bpeWordSplit.installed).toBe(true);
    const plain = plainLib(read(GPT2));
    const texts = [...dataTexts(), ...ADVERSARIAL, ...fuzzTexts(500, 9)];
    expect(mismatches(texts, texts.map((t) => tok.encode(t)), plainIds(plain, texts))).toEqual([]);
  });
});

const ORACLE = `
import json, sys
from tokenizers import Tokenizer
req = json.load(sys.stdin)
out = {}
for name, f in req['files'].items():
    t = Tokenizer.from_file(f)
    t.no_truncation()
    out[name] = [t.encode(x, add_special_tokens=False).ids for x in req['texts']]
json.dump(out, sys.stdout)
`;

describeIf(allOf(sharedFiles(STORIES, GPT2), pythonWith(['tokenizers'])), 'word-split BPE vs Python tokenizers', () => {
  test('adversarial, random and long texts: ids equal Tokenizer.from_file(...).encode(text, add_special_tokens=False)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bpe-words-'));
    try {
      const files: Record<string, string> = { stories: sharedPath(STORIES), gpt2: sharedPath(GPT2) };
      for (const [name, merges] of [['crossing', CROSSING], ['exact', EXACT]] as const) {
        files[name] = path.join(tmp, `${name}.json`);
        fs.writeFileSync(files[name], synthetic([...merges]));
      }
      const long = gen.generate({ train: 40, eval: 0, seed: 3 }).train.flatMap((r) => [r.prompt, r.chosen, r.rejected]);
      const texts = [...ADVERSARIAL, ...SYN_TEXTS, ...fuzzTexts(300, 5), ...long];
      const py = runPython<Record<string, number[][]>>(ORACLE, { files, texts });
      for (const [name, file] of Object.entries(files)) {
        const tok = HfTokenizer.fromPath(file);
        expect([name, tok.bpeWordSplit.installed]).toEqual([name, name !== 'crossing']);
        expect([name, mismatches(texts, texts.map((t) => tok.encode(t)), py[name])]).toEqual([name, []]);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
