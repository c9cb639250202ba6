import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HfTokenizer } from '../../src/tokenizer/hf';
import { Llama2cTokenizer } from '../../src/tokenizer/llama2c';
import { TokenizerError } from '../../src/tokenizer/errors';
import { describeIf, testIf } from '../helpers/gates';
import { readVectors, sharedFiles, sharedPath } from './shared';

const GPT2 = 'tokenizers/gpt2';
const STORIES_HF = 'models/stories260K/hf';

/** llama.cpp's vocab test files: strings separated by a "__ggml_vocab_test__" line; ids one line each. */
function readGgmlVectors(): Array<{ text: string; ids: number[] }> {
  const inp = fs.readFileSync(sharedPath(GPT2, 'ggml-vocab-gpt-2.gguf.inp'), 'utf8').split('\n__ggml_vocab_test__\n');
  // The file ends with the marker, leaving one empty element after the last string.
  expect(inp[inp.length - 1]).toBe('');
  const texts = inp.slice(0, -1);
  const out = fs.readFileSync(sharedPath(GPT2, 'ggml-vocab-gpt-2.gguf.out'), 'utf8').split('\n').slice(0, texts.length);
  return texts.map((text, i) => ({ text, ids: out[i].trim() === '' ? [] : out[i].trim().split(/\s+/).map(Number) }));
}

describeIf(sharedFiles(`${GPT2}/tokenizer.json`, `${GPT2}/ggml-vocab-gpt-2.gguf.inp`, `${GPT2}/ggml-vocab-gpt-2.gguf.out`), 'HfTokenizer on GPT-2 byte-level BPE', () => {
  let tok: HfTokenizer;
  beforeAll(() => {
    tok = HfTokenizer.fromPath(sharedPath(GPT2));
  });

  test('passes the 46 llama.cpp GPT-2 vectors', () => {
    const vectors = readGgmlVectors();
    expect(vectors.length).toBe(46);
    const bad = vectors.filter((v) => tok.encode(v.text).join(' ') !== v.ids.join(' '));
    expect(bad.map((v) => v.text)).toEqual([]);
  });

  test('round trips, specials without a config, hand-checked ids', () => {
    for (const v of readGgmlVectors()) expect(tok.decode(tok.encode(v.text))).toBe(v.text);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.vocabSize).toBe(50257);
    // No tokenizer_config.json: <|endoftext|> is recognised as eos, and pad falls back to it.
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([null, 50256, 50256]);
    expect(tok.chatTemplate).toBeUndefined();
    // tokenizer.json's truncation (max_length 50) is not applied: collate truncates.
    expect(tok.encode(' a'.repeat(80))).toEqual(new Array(80).fill(257));
  });
});

describeIf(sharedFiles(`${STORIES_HF}/tokenizer.json`, 'models/stories260K/tok512.bin', 'models/stories260K/tokenizer-vectors.jsonl'), 'HfTokenizer on the stories260K tokenizer.json', () => {
  let tok: HfTokenizer;
  let llama: Llama2cTokenizer;
  beforeAll(() => {
    tok = HfTokenizer.fromPath(sharedPath(STORIES_HF, 'tokenizer.json'));
    llama = Llama2cTokenizer.fromFile(sharedPath('models/stories260K/tok512.bin'));
  });

  test('same ids as run.c on the 110 vectors, and the same decode', () => {
    for (const v of readVectors()) {
      expect([v.text, tok.encode(v.text)]).toEqual([v.text, v.ids]);
      expect(tok.decode(v.ids)).toBe(v.text);
      expect(tok.decode([1, ...v.ids, 2])).toBe(llama.decode([1, ...v.ids, 2]));
    }
  });

  testIf(sharedFiles('data/politeness-dpo.json'), 'agrees with the llama2.c encoder on real preference data and a 10 KB text', () => {
    const file = sharedPath('data/politeness-dpo.json');
    const records = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<Record<string, string>>;
    const texts = records.slice(0, 150).flatMap((r) => [`${r.instruction}\n\n${r.input}`, r.chosen, r.rejected]);
    texts.push(texts.join('\n').slice(0, 10000));
    const bad = texts.filter((t) => tok.encode(t).join(',') !== llama.encode(t).join(','));
    expect(bad).toEqual([]);
  });

  test('specials from tokenizer_config.json; encode adds none', () => {
    expect([tok.bosId, tok.eosId, tok.padId, tok.vocabSize]).toEqual([1, 2, 0, 512]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([])).toBe('');
    expect(() => tok.decode([512])).toThrow(TokenizerError);
  });

  test('save writes the files back and reloads identically', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hftok-'));
    expect(tok.save(dir)).toEqual(['tokenizer.json', 'tokenizer_config.json']);
    expect(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')).toBe(fs.readFileSync(sharedPath(STORIES_HF, 'tokenizer.json'), 'utf8'));
    const again = HfTokenizer.fromPath(dir);
    expect([again.bosId, again.eosId, again.padId]).toEqual([1, 2, 0]);
    expect(again.encode('Once upon a time')).toEqual(tok.encode('Once upon a time'));
    fs.rmSync(dir, { recursive: true });
  });

  test('chat template from tokenizer_config.json or chat_template.jinja; minimal config on save', () => {
    const tokenizerJson = fs.readFileSync(sharedPath(STORIES_HF, 'tokenizer.json'), 'utf8');
    const template = '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}';
    const a = new HfTokenizer({ tokenizerJson, tokenizerConfig: JSON.stringify({ chat_template: template, pad_token: '<unk>' }) });
    expect(a.chatTemplate).toBe(template);
    expect(a.padId).toBe(0);
    const b = new HfTokenizer({ tokenizerJson, tokenizerConfig: JSON.stringify({ chat_template: [{ name: 'default', template }] }) });
    expect(b.chatTemplate).toBe(template);
    // No config at all: bos from the post-processor template, eos "</s>" by name.
    const c = new HfTokenizer({ tokenizerJson, chatTemplateJinja: template });
    expect([c.bosId, c.eosId, c.padId, c.chatTemplate]).toEqual([1, 2, 0, template]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hftok-'));
    expect(c.save(dir)).toEqual(['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'))).toEqual({ bos_token: '<s>', eos_token: '</s>', pad_token: '<unk>' });
    expect(HfTokenizer.fromPath(dir).chatTemplate).toBe(template);
    fs.rmSync(dir, { recursive: true });
  });

  test('bad files give clear errors', () => {
    expect(() => new HfTokenizer({ tokenizerJson: '{"model": ' }, 'x/tokenizer.json')).toThrow(/x\/tokenizer.json: not valid JSON/);
    expect(() => new HfTokenizer({ tokenizerJson: '[]' }, 'x/tokenizer.json')).toThrow(/expected a JSON object, found an array/);
    expect(() => new HfTokenizer({ tokenizerJson: '{}' }, 'x/tokenizer.json')).toThrow(/has no "model" section/);
    const tokenizerJson = fs.readFileSync(sharedPath(STORIES_HF, 'tokenizer.json'), 'utf8');
    expect(() => new HfTokenizer({ tokenizerJson, tokenizerConfig: '{"eos_token": "<|nope|>"}' }, 'x')).toThrow(
      /x: tokenizer_config.json eos_token is "<\|nope\|>", which is not in tokenizer.json's vocabulary/,
    );
    expect(() => HfTokenizer.fromPath('/nonexistent/dir')).toThrow(/not found/);
  });
});
