/**
 * Cross-checks against Python: the Rust `tokenizers` library on preference data (GPT-2 byte-level and
 * the stories260K Llama-style tokenizer.json), and transformers' AutoTokenizer on folders our save() wrote.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HfTokenizer } from '../../src/tokenizer/hf';
import { allOf, describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { sharedFiles, sharedPath } from './shared';

const NEEDS = allOf(
  sharedFiles('tokenizers/gpt2/tokenizer.json', 'models/stories260K/hf/tokenizer.json', 'data/politeness-dpo.json'),
  pythonWith(['tokenizers', 'transformers']),
);

const SCRIPT = `
import json, sys
from tokenizers import Tokenizer
from transformers import AutoTokenizer
req = json.load(sys.stdin)
out = {}
for name, spec in req['tokenizers'].items():
    t = Tokenizer.from_file(spec['file'])
    t.no_truncation()
    auto = AutoTokenizer.from_pretrained(spec['saved'])
    out[name] = {
        'ids': [t.encode(x, add_special_tokens=False).ids for x in req['texts']],
        'auto_ids': [auto(x, add_special_tokens=False)['input_ids'] for x in req['texts'][:20]],
        'auto_specials': [auto.bos_token_id, auto.eos_token_id, auto.pad_token_id],
    }
json.dump(out, sys.stdout)
`;

describeIf(
  NEEDS,
  'HF tokenizers vs Python tokenizers / transformers',
  () => {
    test('same ids on preference data; AutoTokenizer loads what save() wrote', () => {
      const records = JSON.parse(fs.readFileSync(sharedPath('data/politeness-dpo.json'), 'utf8')) as Array<Record<string, string>>;
      const texts = records.slice(0, 100).flatMap((r) => [`${r.instruction}\n\n${r.input}`, r.chosen, r.rejected]);
      texts.push('  multiple   spaces\t\ttabs\n\n\nnewlines ', "I've 'll 're don't", '中文 日本語 한국어 😀👍🏽', '1234567890 3.14159', '');
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tokoracle-'));
      const ours: Record<string, HfTokenizer> = {
        gpt2: HfTokenizer.fromPath(sharedPath('tokenizers/gpt2')),
        stories: HfTokenizer.fromPath(sharedPath('models/stories260K/hf')),
      };
      const specs: Record<string, { file: string; saved: string }> = {};
      for (const [name, tok] of Object.entries(ours)) {
        const saved = fs.mkdtempSync(path.join(tmp, name));
        tok.save(saved);
        specs[name] = { file: path.join(saved, 'tokenizer.json'), saved };
      }
      const py = runPython<Record<string, { ids: number[][]; auto_ids: number[][]; auto_specials: Array<number | null> }>>(SCRIPT, {
        tokenizers: specs,
        texts,
      });
      for (const [name, tok] of Object.entries(ours)) {
        const mine = texts.map((t) => tok.encode(t));
        expect(mine).toEqual(py[name].ids);
        expect(mine.slice(0, 20)).toEqual(py[name].auto_ids);
        texts.forEach((t, i) => expect(tok.decode(py[name].ids[i])).toBe(t));
      }
      // transformers reads the same special tokens we use.
      expect(py.gpt2.auto_specials).toEqual([null, ours.gpt2.eosId, ours.gpt2.padId]);
      expect(py.stories.auto_specials.slice(0, 2)).toEqual([ours.stories.bosId, ours.stories.eosId]);
      fs.rmSync(tmp, { recursive: true, force: true });
    });
  },
);
