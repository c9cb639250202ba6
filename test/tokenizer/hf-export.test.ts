/**
 * The transformers export of our byte-level and llama2.c tokenizers (src/tokenizer/hf-export.ts):
 * transformers' AutoTokenizer on the exported tokenizer.json must give our ids for the same text (the shipped
 * preference data, run.c's own vectors, unicode/whitespace edge cases and seeded random strings), add BOS/EOS
 * where data/collate.ts does, and decode back to the text. Without Python, the same files are read by
 * @huggingface/tokenizers (the JS port) as a second, weaker check; the Python suites skip with a printed reason.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c';
import { HfTokenizer } from '../../src/tokenizer/hf';
import { hfTokenizerExport, writeHfTokenizerFiles } from '../../src/tokenizer/hf-export';
import type { Tokenizer } from '../../src/tokenizer/types';
import { tokenizeRecord } from '../../src/data/collate';
import type { PreferenceRecord } from '../../src/data/types';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { readVectors, sharedFiles, sharedPath } from './shared';

const REPO = path.resolve(__dirname, '../..');
const TOK512 = 'models/stories260K/tok512.bin';
const haveTok512 = fs.existsSync(sharedPath(TOK512));

/** A llama2.c tokenizer file: 3 specials, 256 byte pieces, then `extra` (text or raw bytes, score). */
function buildLlama2c(extra: Array<[string | Buffer, number]>): Buffer {
  const pieces: Array<[string | Buffer, number]> = [
    ['<unk>', 0], ['\n<s>\n', 0], ['\n</s>\n', 0],
    ...Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0] as [string, number]),
    ...extra,
  ];
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeInt32LE(16);
  for (const [p, s] of pieces) {
    const head = Buffer.alloc(8);
    const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    head.writeFloatLE(s, 0);
    head.writeInt32LE(bytes.length, 4);
    parts.push(head, bytes);
  }
  return Buffer.concat(parts);
}

/** Hand-built: several pieces have two splits ("abc" = "ab"+"c" = "a"+"bc"), a multi-byte piece, unique scores. */
const SMALL_PIECES: Array<[string, number]> = [
  [' ', -1], ['a', -2], ['b', -3], ['c', -4], ['é', -5], ['ab', -6], ['bc', -7], [' a', -8], ['abc', -9], [' ab', -10],
  ['ca', -11], ['aé', -12], [' abc', -13], ['cab', -14], ['  ', -15],
];

/** prompt/chosen/rejected of the shipped data's first `n` records. */
function shippedRecords(n: number): PreferenceRecord[] {
  const lines = fs.readFileSync(path.join(REPO, 'data/prefs.jsonl'), 'utf8').trim().split('\n').slice(0, n);
  return lines.map((l, i) => ({ ...(JSON.parse(l) as PreferenceRecord), source: `data/prefs.jsonl:${i + 1}` }));
}

const EDGE_CASES = [
  '', ' ', '  ', 'a', ' leading space', 'trailing space ', 'two  spaces', '\n', 'a\nb', '\t\r\n x ', '\n\n\nthree newlines',
  'héllo wörld', 'Ça va? Æsir, Øre, ß', '中文 日本語 한국어', '😀👍🏽 👨‍👩‍👧 🇩🇪', 'e\u0301 combining accent', '\u00a0no-break space',
  '\u2581 sentencepiece space ▁under', '<s>hi</s>', '<bos><pad><eos>', '<unk>', '<0x41> is not A', 'nul \u0000 inside', 'ﬁ ligature',
  '\uFEFFbyte order mark', 'zero\u200bwidth', 'Once upon a time, there was a little girl named Lily.',
  'a'.repeat(3000), 'Once upon a time '.repeat(200),
];

/** Seeded random strings over characters that stress merges, spaces and byte fallback (mulberry32). */
function fuzzTexts(n: number, seed: number, alphabet: string[]): string[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(rand() * 40) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''));
}

const FUZZ_ALPHABET = ['a', 'b', 'c', 'e', 't', 'h', 'the', ' ', '  ', '\n', '\t', 'é', 'ö', '中', '😀', '👍🏽', '\u200d', '▁', '<', '>', 's', '/', '0x', '.', ',', '!', "'", 'Once', ' upon', ' a', 'abc'];

describe('transformers export: structure (no Python)', () => {
  test('byte tokenizer: 259 ids, byte b at b + 3 spelled <0xXX>, specials, BOS-prepending template', () => {
    const ex = hfTokenizerExport(new ByteTokenizer());
    if ('unsupported' in ex) throw new Error(ex.unsupported);
    const json = JSON.parse(ex.files['tokenizer.json']);
    const config = JSON.parse(ex.files['tokenizer_config.json']);
    expect(Object.keys(json.model.vocab)).toHaveLength(259);
    expect(json.model.vocab['<0x00>']).toBe(3);
    expect(json.model.vocab['<0x68>']).toBe(0x68 + 3);
    expect(json.model.vocab['<0xFF>']).toBe(258);
    expect(json.model).toMatchObject({ type: 'BPE', byte_fallback: true, merges: [] });
    expect(json.added_tokens.map((t: { id: number; content: string }) => [t.id, t.content])).toEqual([[0, '<pad>'], [1, '<bos>'], [2, '<eos>']]);
    expect(json.post_processor.single.map((x: object) => Object.keys(x)[0])).toEqual(['SpecialToken', 'Sequence']);
    expect(config).toMatchObject({ bos_token: '<bos>', eos_token: '<eos>', pad_token: '<pad>', split_special_tokens: true, tokenizer_class: 'PreTrainedTokenizerFast' });
  });

  test('the pad id config.json names is the pad token tokenizer_config.json names', () => {
    const ex = hfTokenizerExport(new ByteTokenizer(), { padId: 2, modelMaxLength: 512 });
    if ('unsupported' in ex) throw new Error(ex.unsupported);
    expect(JSON.parse(ex.files['tokenizer_config.json'])).toMatchObject({ pad_token: '<eos>', model_max_length: 512 });
  });

  test('llama2.c: one merge per split of a piece, best score first; real spaces, no "▁"', () => {
    const tok = new Llama2cTokenizer(buildLlama2c(SMALL_PIECES), 'mem');
    const ex = hfTokenizerExport(tok);
    if ('unsupported' in ex) throw new Error(ex.unsupported);
    const json = JSON.parse(ex.files['tokenizer.json']);
    expect(json.model.vocab[' ab']).toBe(259 + 9);
    expect(json.model.merges.slice(0, 6)).toEqual([['a', 'b'], ['b', 'c'], [' ', 'a'], ['a', 'bc'], ['ab', 'c'], [' ', 'ab']]);
    expect(json.normalizer).toEqual({ type: 'Prepend', prepend: ' ' });
  });

  test('refused with a reason, not thrown, when a BPE merge list cannot express the tokenizer', () => {
    const tied = hfTokenizerExport(new Llama2cTokenizer(buildLlama2c([[' ', -1], ['a', -2], ['b', -3], ['ab', -4], ['ba', -4]]), 'mem'));
    expect(tied).toEqual({ unsupported: expect.stringMatching(/pieces 262 and 263 share the score -4; run.c breaks that tie by position/) });
    const partial = hfTokenizerExport(new Llama2cTokenizer(buildLlama2c([[' ', -1], [Buffer.from([0xe2, 0x96]), -2]]), 'mem'));
    expect(partial).toEqual({ unsupported: expect.stringMatching(/piece 260 .* is not valid UTF-8/) });
    const dup = hfTokenizerExport(new Llama2cTokenizer(buildLlama2c([[' ', -1], ['<s>', -2]]), 'mem'));
    expect(dup).toEqual({ unsupported: expect.stringMatching(/ids 1 and 260 are both "<s>"/) });
    const other: Tokenizer = { kind: 'custom', vocabSize: 3, bosId: null, eosId: null, padId: 0, hasOwnPad: true, encode: () => [], decode: () => '', save: () => [] };
    expect(hfTokenizerExport(other)).toEqual({ unsupported: expect.stringMatching(/"custom" tokenizer has no transformers export/) });
    expect(writeHfTokenizerFiles(other, os.tmpdir())).toEqual([]);
  });

  test('@huggingface/tokenizers (JS) reads the exports and gives our ids, except for text spelling a special token', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hfexport-js-'));
    const records = shippedRecords(60);
    const texts = [...records.flatMap((r) => [r.prompt as string, r.chosen as string, r.rejected as string]), ...EDGE_CASES, ...fuzzTexts(150, 7, FUZZ_ALPHABET)]
      // The JS library ignores split_special_tokens (transformers honours it; checked below with Python).
      .filter((t) => !/<(s|\/s|unk|bos|eos|pad)>/.test(t));
    const ours: Array<[string, Tokenizer]> = [['byte', new ByteTokenizer()], ['small', new Llama2cTokenizer(buildLlama2c(SMALL_PIECES), 'mem')]];
    if (haveTok512) ours.push(['stories', Llama2cTokenizer.fromFile(sharedPath(TOK512))]);
    for (const [name, tok] of ours) {
      const dir = fs.mkdtempSync(path.join(tmp, name));
      expect(writeHfTokenizerFiles(tok, dir)).toEqual(['tokenizer.json', 'tokenizer_config.json']);
      const js = HfTokenizer.fromPath(dir);
      expect([js.bosId, js.eosId, js.padId, js.vocabSize]).toEqual([tok.bosId, tok.eosId, tok.padId, tok.vocabSize]);
      const mismatches = texts.filter((t) => JSON.stringify(js.encode(t)) !== JSON.stringify(tok.encode(t)));
      expect({ name, mismatches }).toEqual({ name, mismatches: [] });
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});

/** Runs AutoTokenizer on each export folder; returns ids with and without special tokens, pairs, decodes. */
const ORACLE = `
import json, sys
from transformers import AutoTokenizer
req = json.load(sys.stdin)
out = {}
for name, spec in req.items():
    t = AutoTokenizer.from_pretrained(spec["dir"])
    out[name] = {
        "cls": type(t).__name__,
        "specials": [t.bos_token_id, t.eos_token_id, t.pad_token_id, len(t)],
        "plain": [t(x, add_special_tokens=False)["input_ids"] for x in spec["texts"]],
        "default": [t(x)["input_ids"] for x in spec["texts"]],
        "keys": sorted(t("x").keys()),
        "pairs": [t(p, c)["input_ids"] for p, c in spec["pairs"]],
        "decoded": [t.decode(ids, skip_special_tokens=True) for ids in spec["ours"]],
    }
print(json.dumps(out))
`;

interface OracleOut { cls: string; specials: number[]; plain: number[][]; default: number[][]; keys: string[]; pairs: number[][]; decoded: string[] }

describeIf(pythonWith(['transformers', 'tokenizers']), 'transformers AutoTokenizer on the exports encodes exactly as we do', () => {
  test('byte, a hand-built llama2.c and stories260K tok512: same ids, BOS/EOS as collate, decode round trip', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hfexport-py-'));
    const records = shippedRecords(150);
    const texts = [...records.flatMap((r) => [r.prompt as string, r.chosen as string, r.rejected as string]), ...EDGE_CASES, ...fuzzTexts(300, 42, FUZZ_ALPHABET)];
    const smallTexts = fuzzTexts(400, 3, ['a', 'b', 'c', 'é', ' ', '  ', 'ab', 'bc', 'abc', 'x']);
    const cases: Array<{ name: string; tok: Tokenizer; texts: string[] }> = [
      { name: 'byte', tok: new ByteTokenizer(), texts },
      { name: 'small', tok: new Llama2cTokenizer(buildLlama2c(SMALL_PIECES), 'mem'), texts: [...smallTexts, ...EDGE_CASES] },
    ];
    if (haveTok512) cases.push({ name: 'stories', tok: Llama2cTokenizer.fromFile(sharedPath(TOK512)), texts });
    else console.warn(`stories260K case skipped: ${sharedPath(TOK512)} not found (reference files live in ../shared)`);
    const request: Record<string, unknown> = {};
    for (const c of cases) {
      const dir = fs.mkdtempSync(path.join(tmp, c.name));
      writeHfTokenizerFiles(c.tok, dir);
      request[c.name] = {
        dir,
        texts: c.texts,
        pairs: records.map((r) => [r.prompt, r.chosen]),
        ours: c.texts.map((t) => c.tok.encode(t)),
      };
    }
    const py = runPython<Record<string, OracleOut>>(ORACLE, request);
    for (const c of cases) {
      const r = py[c.name];
      const ours = c.texts.map((t) => c.tok.encode(t));
      expect(r.cls).toBe('TokenizersBackend'); // transformers 5's PreTrainedTokenizerFast
      expect(r.specials).toEqual([c.tok.bosId, c.tok.eosId, c.tok.padId, c.tok.vocabSize]);
      expect(r.keys).toEqual(['attention_mask', 'input_ids']);
      const bad = c.texts.map((t, i) => ({ t, ours: ours[i], theirs: r.plain[i] })).filter((x) => JSON.stringify(x.ours) !== JSON.stringify(x.theirs));
      expect({ name: c.name, bad: bad.slice(0, 3) }).toEqual({ name: c.name, bad: [] });
      // tokenizer(text) = [BOS] + encode(text): the prompt side of a training sequence.
      c.texts.forEach((_, i) => expect(r.default[i]).toEqual([c.tok.bosId, ...ours[i]]));
      // tokenizer(prompt, completion) = the collated sequence [BOS] prompt completion [EOS].
      records.forEach((rec, i) => {
        const t = tokenizeRecord(rec, c.tok);
        expect(r.pairs[i]).toEqual([...t.prompt, ...t.chosen]);
      });
      c.texts.forEach((t, i) => expect({ t, d: r.decoded[i] }).toEqual({ t, d: t }));
      console.log(`transformers export ${c.name}: ${c.texts.length} texts, ${records.length} pairs identical`);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});

describeIf(sharedFiles(TOK512, 'models/stories260K/tokenizer-vectors.jsonl'), 'the llama2.c export against run.c itself', () => {
  describeIf(pythonWith(['transformers']), 'transformers on tok512 gives run.c\'s ids', () => {
    test('every vector of tokenizer-vectors.jsonl', () => {
      const vectors = readVectors();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hfexport-vec-'));
      writeHfTokenizerFiles(Llama2cTokenizer.fromFile(sharedPath(TOK512)), dir);
      const script = `
import json, sys
from transformers import AutoTokenizer
req = json.load(sys.stdin)
t = AutoTokenizer.from_pretrained(req["dir"])
print(json.dumps([t(x, add_special_tokens=False)["input_ids"] for x in req["texts"]]))
`;
      const ids = runPython<number[][]>(script, { dir, texts: vectors.map((v) => v.text) });
      const bad = vectors.filter((v, i) => JSON.stringify(v.ids) !== JSON.stringify(ids[i]));
      expect(bad).toEqual([]);
      expect(vectors.length).toBeGreaterThan(100);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
});
