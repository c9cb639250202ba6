/**
 * Pad tokens of their own (tokenizer/pad.ts, HfTokenizer.withAddedPad / withNamedPad): which tokenizers have
 * one, what adding one changes (only the new id) and that it survives a save -> load round trip.
 * transformers' reading of the result is checked in test/parity/hf-pad.test.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { HfTokenizer } from '../../src/tokenizer/hf';
import { loadTokenizer } from '../../src/tokenizer/load';
import { withOwnPad } from '../../src/tokenizer/pad';
import { describeIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from './shared';

const TEXTS = ['Hello world', ' leading space', 'a\n\nb  c', 'héllo wörld 😀', 'x<|endoftext|>y'];

test('the byte tokenizer has a pad of its own: withOwnPad returns it unchanged', () => {
  const byte = new ByteTokenizer();
  expect(byte.hasOwnPad).toBe(true);
  expect(withOwnPad(byte)).toEqual({ tokenizer: byte, added: false });
});

describeIf(sharedFiles('tokenizers/gpt2/tokenizer.json'), 'GPT-2 (no pad, no unk): a pad token is added at id 50257', () => {
  let gpt2: HfTokenizer;
  beforeAll(() => {
    gpt2 = HfTokenizer.fromPath(sharedPath('tokenizers/gpt2/tokenizer.json'));
  });

  test('without one, padding borrows EOS and hasOwnPad says so', () => {
    expect([gpt2.padId, gpt2.eosId, gpt2.bosId, gpt2.hasOwnPad, gpt2.vocabSize]).toEqual([50256, 50256, null, false, 50257]);
  });

  test('withOwnPad adds "<|pad|>" 50257 (special, named in tokenizer_config.json); every other id is unchanged', () => {
    const { tokenizer, added } = withOwnPad(gpt2);
    const padded = tokenizer as HfTokenizer;
    expect(added).toBe(true);
    expect([padded.padId, padded.hasOwnPad, padded.eosId, padded.bosId, padded.vocabSize]).toEqual([50257, true, 50256, null, 50258]);
    expect(padded.idToToken(50257)).toBe('<|pad|>');
    for (const t of TEXTS) expect(padded.encode(t)).toEqual(gpt2.encode(t));
    expect(padded.decode([...padded.encode('Hello'), 50257, 50257])).toBe('Hello');
    const json = JSON.parse(padded.files.tokenizerJson);
    expect(json.added_tokens.at(-1)).toEqual({ id: 50257, content: '<|pad|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    expect(JSON.parse(padded.files.tokenizerConfig!)).toMatchObject({ pad_token: '<|pad|>', eos_token: '<|endoftext|>' });
    // The source tokenizer is untouched.
    expect([gpt2.padId, gpt2.vocabSize]).toEqual([50256, 50257]);
  });

  test('save -> load keeps the added pad', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-pad-'));
    try {
      withOwnPad(gpt2).tokenizer.save(dir);
      const back = loadTokenizer(dir);
      expect([back.padId, back.hasOwnPad, back.vocabSize, back.eosId]).toEqual([50257, true, 50258, 50256]);
      expect(withOwnPad(back).added).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a pad_token that names EOS is still a borrowed pad', () => {
    const named = new HfTokenizer({ tokenizerJson: gpt2.files.tokenizerJson, tokenizerConfig: JSON.stringify({ eos_token: '<|endoftext|>', pad_token: '<|endoftext|>' }) });
    expect([named.padId, named.hasOwnPad]).toEqual([50256, false]);
  });
});

describeIf(sharedFiles('models/stories260K/hf/tokenizer.json'), 'stories260K (pad = <unk>, never produced): its own pad, named on request', () => {
  test('hasOwnPad, nothing added; withNamedPad writes pad_token "<unk>" into tokenizer_config.json and keeps the rest', () => {
    const tok = HfTokenizer.fromPath(sharedPath('models/stories260K/hf'));
    expect([tok.padId, tok.hasOwnPad]).toEqual([0, true]);
    expect(withOwnPad(tok)).toEqual({ tokenizer: tok, added: false });
    const named = tok.withNamedPad();
    const before = JSON.parse(tok.files.tokenizerConfig!);
    expect(before.pad_token).toBeUndefined();
    expect(JSON.parse(named.files.tokenizerConfig!)).toEqual({ ...before, pad_token: '<unk>' });
    expect(named.files.tokenizerJson).toBe(tok.files.tokenizerJson);
    expect(named.withNamedPad()).toBe(named);
  });
});
