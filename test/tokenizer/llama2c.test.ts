import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c';
import { TokenizerError } from '../../src/tokenizer/errors';
import { describeIf } from '../helpers/gates';
import { readVectors, sharedFiles, sharedPath, type Vector } from './shared';

const TOK = 'models/stories260K/tok512.bin';

/**
 * An independent, literal port of run.c's encode merge loop (O(n^2) scan per merge), used to check
 * the heap-based encoder on texts the vectors do not cover.
 */
function runcEncodeReference(tok: Llama2cTokenizer, text: string): number[] {
  if (text.length === 0) return [];
  const vocab = new Map<string, number>();
  for (let id = tok.vocabSize - 1; id >= 0; id--) vocab.set(tok.piece(id), id);
  const ids = [vocab.get(' ')!];
  // run.c groups a lead byte with its continuation bytes; for valid UTF-8 that is one code point.
  for (const ch of Array.from(text)) {
    const id = vocab.get(ch);
    if (id !== undefined) ids.push(id);
    else for (const b of Buffer.from(ch, 'utf8')) ids.push(b + 3);
  }
  for (;;) {
    let best = Math.fround(-1e10);
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < ids.length - 1; i++) {
      const id = vocab.get(tok.piece(ids[i]) + tok.piece(ids[i + 1]));
      if (id !== undefined && tok.score(id) > best) {
        best = tok.score(id);
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    ids.splice(bestIdx, 2, bestId);
  }
  return ids;
}

describeIf(sharedFiles(TOK, 'models/stories260K/tokenizer-vectors.jsonl', 'models/stories260K/golden-logits.json'), 'Llama2cTokenizer on stories260K tok512.bin', () => {
  let tok: Llama2cTokenizer;
  let vectors: Vector[];
  beforeAll(() => {
    tok = Llama2cTokenizer.fromFile(sharedPath(TOK));
    vectors = readVectors();
  });

  test('file header and specials', () => {
    expect(tok.vocabSize).toBe(512);
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([1, 2, 0]);
    expect(tok.piece(1)).toBe('\n<s>\n');
    expect(tok.piece(3 + 0x41)).toBe('<0x41>');
  });

  test('reproduces run.c encode on the 110 vectors', () => {
    expect(vectors.length).toBe(110);
    const mismatches = vectors.filter((v) => tok.encode(v.text).join(',') !== v.ids.join(','));
    expect(mismatches.map((v) => v.text)).toEqual([]);
  });

  test('decode(encode(x)) === x on the vectors', () => {
    for (const v of vectors) expect(tok.decode(v.ids)).toBe(v.text);
    // After an explicit BOS the leading space is stripped the same way.
    for (const v of vectors) expect(tok.decode([1, ...v.ids])).toBe(v.text);
  });

  test('golden-logits token ids: BOS then encode(prompt)', () => {
    const golden = JSON.parse(fs.readFileSync(sharedPath('models/stories260K/golden-logits.json'), 'utf8')) as {
      cases: Array<{ prompt: string; tokens: number[] }>;
    };
    expect(golden.cases.length).toBeGreaterThan(0);
    for (const c of golden.cases) expect([tok.bosId, ...tok.encode(c.prompt)]).toEqual(c.tokens);
  });

  test('heap encoder equals the literal run.c loop on long and unusual texts', () => {
    const all = vectors.map((v) => v.text).join('\n');
    const texts = [all.slice(0, 1500), 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '   \t\t  x  ', 'é👍中文\u0000z', '<0x41><s>'];
    // Deterministic pseudo-random texts over a small alphabet (repeats stress tie-breaking).
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const alphabet = ['a', 'e', 't', 'h', ' ', 'the', 'an', '.', '\n', 'é', 'ö', '😀'];
    for (let k = 0; k < 40; k++) {
      const n = 1 + Math.floor(rand() * 60);
      texts.push(Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''));
    }
    for (const t of texts) expect([t, tok.encode(t)]).toEqual([t, runcEncodeReference(tok, t)]);
  });

  test('empty text encodes to nothing; byte fallbacks decode across pieces', () => {
    expect(tok.encode('')).toEqual([]);
    const ids = tok.encode('😀');
    expect(ids.slice(1)).toEqual([...Buffer.from('😀', 'utf8')].map((b) => b + 3));
    expect(tok.decode(ids)).toBe('😀');
  });

  test('runcOutput mirrors safe_printf: strips after BOS, drops lone non-printable bytes', () => {
    const ids = [1, ...tok.encode('Hi 😀\tyo'), 2];
    const printed = tok.runcOutput(ids).toString('latin1');
    expect(printed).toBe('Hi \tyo\n</s>\n');
    // A later BOS ends run.c's loop.
    expect(tok.runcOutput([1, ...tok.encode('a'), 1, ...tok.encode('b')]).toString()).toBe('a');
  });

  test('save writes the file verbatim', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-'));
    expect(tok.save(dir)).toEqual(['tokenizer.bin']);
    expect(fs.readFileSync(path.join(dir, 'tokenizer.bin')).equals(fs.readFileSync(sharedPath(TOK)))).toBe(true);
    const again = Llama2cTokenizer.fromFile(path.join(dir, 'tokenizer.bin'));
    expect(again.encode('Once upon a time')).toEqual(tok.encode('Once upon a time'));
    fs.rmSync(dir, { recursive: true });
  });

  test('vocabSize option: reads exactly that many pieces, errors when the file has fewer', () => {
    expect(() => new Llama2cTokenizer(fs.readFileSync(sharedPath(TOK)), 'tok512.bin', { vocabSize: 600 })).toThrow(
      /has 512 pieces but the model's vocab_size is 600/,
    );
  });
});

describe('Llama2cTokenizer file validation', () => {
  /** A minimal valid file: 3 specials, 256 byte pieces, plus extra pieces. */
  function build(extra: Array<[string, number]> = [[' ', -1]]): Buffer {
    const pieces: Array<[string, number]> = [
      ['<unk>', 0],
      ['\n<s>\n', 0],
      ['\n</s>\n', 0],
      ...Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0] as [string, number]),
      ...extra,
    ];
    const parts = [Buffer.alloc(4)];
    parts[0].writeInt32LE(16);
    for (const [p, s] of pieces) {
      const head = Buffer.alloc(8);
      head.writeFloatLE(s, 0);
      const bytes = Buffer.from(p, 'utf8');
      head.writeInt32LE(bytes.length, 4);
      parts.push(head, bytes);
    }
    return Buffer.concat(parts);
  }

  test('a hand-built tokenizer merges by score, leftmost first on ties', () => {
    const tok = new Llama2cTokenizer(build([[' ', -1], ['a', -2], ['b', -3], ['ab', -4], [' a', -4], ['aa', -5]]), 'mem');
    const id = (p: string) => [...Array(tok.vocabSize).keys()].find((i) => tok.piece(i) === p)!;
    // " ab": pairs " a"(-4) and "ab"(-4) tie -> the leftmost (" a") wins, then " a"+"b" is no piece.
    expect(tok.encode('ab')).toEqual([id(' a'), id('b')]);
    // "aab": " a"(-4), "aa"(-5), "ab"(-4): " a" wins (leftmost of the best), then "a"+"b" -> "ab".
    expect(tok.encode('aab')).toEqual([id(' a'), id('ab')]);
    // "c" has no piece -> byte fallback 0x63 + 3.
    expect(tok.encode('c')).toEqual([id(' '), 0x63 + 3]);
    expect(tok.decode(tok.encode('aabc'))).toBe('aabc');
  });

  test('truncated and nonsense files give clear errors', () => {
    const good = build();
    expect(() => new Llama2cTokenizer(good.subarray(0, 2), 'x.bin')).toThrow(/x.bin: file is 2 bytes/);
    expect(() => new Llama2cTokenizer(good.subarray(0, good.length - 1), 'x.bin')).toThrow(/x.bin: piece 259 .* has length 1; expected 0..0/);
    expect(() => new Llama2cTokenizer(good.subarray(0, 20), 'x.bin')).toThrow(/x.bin: truncated at piece 1 \(offset 17\): need 8 bytes/);
    const hugeLen = Buffer.from(good);
    hugeLen.writeInt32LE(0x7fffffff, 8);
    expect(() => new Llama2cTokenizer(hugeLen, 'x.bin')).toThrow(/piece 0 \(offset 8\) has length 2147483647/);
    const badMax = Buffer.from(good);
    badMax.writeInt32LE(-5, 0);
    expect(() => new Llama2cTokenizer(badMax, 'x.bin')).toThrow(/max_token_length is -5/);
    expect(() => new Llama2cTokenizer(good.subarray(0, 200), 'x.bin')).toThrow(TokenizerError);
    const json = Buffer.from('{"model": {"type": "BPE"}}');
    expect(() => new Llama2cTokenizer(json, 'tokenizer.json')).toThrow(/tokenizer.json: /);
  });

  test('too few pieces / wrong byte pieces', () => {
    const b = build([]);
    expect(() => new Llama2cTokenizer(b.subarray(0, 4 + 3 * 20), 'x.bin')).toThrow(TokenizerError);
    const noSpace = new Llama2cTokenizer(build([]), 'x.bin');
    expect(() => noSpace.encode('a')).toThrow(/no " " piece/);
    expect(() => noSpace.decode([999])).toThrow(/outside the llama2.c vocabulary/);
  });
});
