import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadTokenizer, tokenizerFingerprint } from '../../src/tokenizer/load';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c';
import { HfTokenizer } from '../../src/tokenizer/hf';
import { writeHfTokenizerFiles } from '../../src/tokenizer/hf-export';
import { describeIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from './shared';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tokload-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('loadTokenizer without shared files', () => {
  test('"byte" and byte_tokenizer.json; checkpoint folder by rlhf.json', () => {
    expect(loadTokenizer('byte')).toBeInstanceOf(ByteTokenizer);
    new ByteTokenizer().save(tmp);
    expect(loadTokenizer(path.join(tmp, 'byte_tokenizer.json'))).toBeInstanceOf(ByteTokenizer);
    expect(loadTokenizer(tmp)).toBeInstanceOf(ByteTokenizer);
    fs.writeFileSync(path.join(tmp, 'rlhf.json'), JSON.stringify({ tokenizer: { kind: 'byte' } }));
    expect(loadTokenizer(tmp).kind).toBe('byte');
  });

  test('our own file wins over the transformers copy beside it, with or without rlhf.json', () => {
    const tok = new ByteTokenizer();
    tok.save(tmp);
    expect(writeHfTokenizerFiles(tok, tmp)).toEqual(['tokenizer.json', 'tokenizer_config.json']);
    expect(loadTokenizer(tmp)).toBeInstanceOf(ByteTokenizer);
    fs.writeFileSync(path.join(tmp, 'rlhf.json'), JSON.stringify({ tokenizer: { kind: 'byte' } }));
    expect(loadTokenizer(tmp)).toBeInstanceOf(ByteTokenizer);
    // The copy alone is an ordinary Hugging Face tokenizer with the same ids.
    fs.rmSync(path.join(tmp, 'rlhf.json'));
    fs.rmSync(path.join(tmp, 'byte_tokenizer.json'));
    const hf = loadTokenizer(tmp);
    expect(hf).toBeInstanceOf(HfTokenizer);
    expect(hf.encode('héllo 😀')).toEqual(tok.encode('héllo 😀'));
  });

  test('clear errors naming the path and what was looked for', () => {
    expect(() => loadTokenizer(path.join(tmp, 'missing.bin'))).toThrow(/missing.bin: not found; expected "byte", a tokenizer.json/);
    expect(() => loadTokenizer(tmp)).toThrow(new RegExp(`${tmp}: no tokenizer found; looked for rlhf.json .*tokenizer.bin, byte_tokenizer.json and tokenizer.json`));
    fs.writeFileSync(path.join(tmp, 'vocab.txt'), 'a\n');
    expect(() => loadTokenizer(path.join(tmp, 'vocab.txt'))).toThrow(/vocab.txt: unknown file type/);
    fs.writeFileSync(path.join(tmp, 'rlhf.json'), JSON.stringify({ tokenizer: { kind: 'llama2c' } }));
    expect(() => loadTokenizer(tmp)).toThrow(/tokenizer.kind "llama2c" but tokenizer.bin is missing/);
    fs.writeFileSync(path.join(tmp, 'rlhf.json'), JSON.stringify({ tokenizer: { kind: 'sentencepiece' } }));
    expect(() => loadTokenizer(tmp)).toThrow(/tokenizer.kind is "sentencepiece"; expected one of hf, llama2c, byte/);
    fs.writeFileSync(path.join(tmp, 'byte_tokenizer.json'), JSON.stringify({ format: 'rlhf-byte-tokenizer/v1', pad_id: 5 }));
    expect(() => loadTokenizer(path.join(tmp, 'byte_tokenizer.json'))).toThrow(/field "pad_id" is 5; expected 0/);
  });

  test('fingerprint of the byte tokenizer is stable', () => {
    expect(tokenizerFingerprint(new ByteTokenizer())).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenizerFingerprint(new ByteTokenizer())).toBe(tokenizerFingerprint(loadTokenizer('byte')));
  });
});

describeIf(sharedFiles('models/stories260K/tok512.bin', 'models/stories260K/hf/tokenizer.json', 'tokenizers/gpt2/tokenizer.json', 'models/stories260K/stories260K.bin'), 'loadTokenizer on shared tokenizers', () => {
  test('dispatches by file and folder', () => {
    expect(loadTokenizer(sharedPath('models/stories260K/tok512.bin'))).toBeInstanceOf(Llama2cTokenizer);
    expect(loadTokenizer(sharedPath('models/stories260K/hf'))).toBeInstanceOf(HfTokenizer);
    expect(loadTokenizer(sharedPath('models/stories260K/hf/tokenizer.json'))).toBeInstanceOf(HfTokenizer);
    expect(loadTokenizer(sharedPath('tokenizers/gpt2')).vocabSize).toBe(50257);
    // A model .bin passed as the tokenizer is refused with the file named.
    expect(() => loadTokenizer(sharedPath('models/stories260K/stories260K.bin'))).toThrow(/stories260K.bin: /);
  });

  test('a checkpoint folder: save, write rlhf.json, reload; fingerprints survive the trip and differ by tokenizer', () => {
    const llama = loadTokenizer(sharedPath('models/stories260K/tok512.bin'));
    const hf = loadTokenizer(sharedPath('tokenizers/gpt2'));
    const fps = new Set<string>();
    for (const tok of [llama, hf, new ByteTokenizer()]) {
      const dir = fs.mkdtempSync(path.join(tmp, tok.kind));
      tok.save(dir);
      fs.writeFileSync(path.join(dir, 'rlhf.json'), JSON.stringify({ format: 'rlhf/v1', tokenizer: { kind: tok.kind } }));
      const back = loadTokenizer(dir);
      expect(back.kind).toBe(tok.kind);
      expect(back.encode('Once upon a time, 😀')).toEqual(tok.encode('Once upon a time, 😀'));
      expect(tokenizerFingerprint(back)).toBe(tokenizerFingerprint(tok));
      fps.add(tokenizerFingerprint(tok));
    }
    expect(fps.size).toBe(3);
    // The HF and llama2.c versions of the same tokenizer are different files, so different keys.
    expect(tokenizerFingerprint(loadTokenizer(sharedPath('models/stories260K/hf')))).not.toBe(tokenizerFingerprint(llama));
  });
});
