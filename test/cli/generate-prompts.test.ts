/**
 * `rlhf generate --prompts FILE --n N --out samples.jsonl`: one JSON line per sample with its prompt and sample
 * index; greedy samples equal `rlhf generate --prompt` one prompt at a time (stories260K); prompts from a
 * prompt column (strings and chat messages, rendered as the data layer renders prompts) and from a preference
 * file; the output does not depend on --batch-size; bad input is one line naming the file and line.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promptText, readPrompts, renderPair, type PromptRecord } from '../../src/data';
import type { SampleLine } from '../../src/model/sample-prompts';
import { describeIf } from '../helpers/gates';
import { REPO } from '../helpers/shared';
import { STORIES as SHARED, stories260K } from '../model/helpers';
import { rlhf } from './helpers';

const EVAL = path.join(REPO, 'data/prefs-eval.jsonl');
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-gen-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: unknown[]): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return p;
}
const read = (p: string) => fs.readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SampleLine);

describeIf(stories260K('tok512.bin'), 'on stories260K', () => {
  const model = ['--model', path.join(SHARED, 'stories260K.bin'), '--tokenizer', path.join(SHARED, 'tok512.bin'), '--quiet'];
  const texts = ['Once upon a time', 'Lily saw a big', 'The dog'];

  test('greedy samples equal --prompt one at a time; n samples per prompt, indexed', async () => {
    const out = path.join(dir, 'greedy.jsonl');
    const r = await rlhf('generate', ...model, '--prompts', file('p.jsonl', texts.map((prompt) => ({ prompt }))), '--n', '2', '--temperature', '0', '--max-new-tokens', '40', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const lines = read(out);
    expect(lines.map((l) => [l.prompt_index, l.sample_index])).toEqual([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]]);
    for (const [i, text] of texts.entries()) {
      const one = await rlhf('generate', ...model, '--prompt', text, '--temperature', '0', '--max-new-tokens', '40');
      for (const l of lines.filter((x) => x.prompt_index === i)) {
        expect({ i, completion: l.completion }).toEqual({ i, completion: one.stdout });
        expect(l).toMatchObject({ prompt: text, source: expect.stringMatching(new RegExp(`p\\.jsonl:${i + 1}$`)), num_tokens: l.completion_ids.length });
        expect(['stop', 'max_new_tokens']).toContain(l.finish_reason);
        expect(l.sum_logprob).toBeLessThan(0);
      }
    }
  });

  test('sampled: the same lines whatever --batch-size; the samples of a prompt differ', async () => {
    const p = file('q.jsonl', texts.map((prompt) => ({ prompt })));
    const run = async (batch: string) => {
      const out = path.join(dir, `b${batch}.jsonl`);
      expect((await rlhf('generate', ...model, '--prompts', p, '--n', '3', '--top-p', '0.9', '--seed', '5', '--max-new-tokens', '24', '--batch-size', batch, '--out', out)).code).toBe(0);
      return read(out);
    };
    const [one, all] = [await run('1'), await run('16')];
    expect(one).toEqual(all);
    expect(new Set(all.filter((l) => l.prompt_index === 0).map((l) => l.completion)).size).toBeGreaterThan(1);
  });
});

describe('prompt sources', () => {
  test('a preference file: its prompts, as training renders them; JSONL on stdout without --out', async () => {
    const r = await rlhf('generate', '--model', 'config:tiny', '--prompts', EVAL, '--max-new-tokens', '3', '--seed', '1', '--quiet');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SampleLine);
    const records: PromptRecord[] = [];
    for await (const p of readPrompts(EVAL)) records.push(p);
    expect(lines).toHaveLength(records.length);
    expect(lines[0]).toMatchObject({ prompt_index: 0, sample_index: 0, prompt: records[0].prompt, source: `${EVAL}:1` });
    expect(promptText(records[0])).toBe(renderPair(records[0].record!).prompt);
  });

  test('a prompt column with strings and chat messages; messages get the generation prompt', async () => {
    const p = file('chat.jsonl', [{ prompt: 'Hello' }, { prompt: [{ role: 'user', content: 'Hi' }], id: 'x1' }]);
    const records: PromptRecord[] = [];
    for await (const rec of readPrompts(p)) records.push(rec);
    expect(records.map((x) => [promptText(x), x.id])).toEqual([['Hello', `${p}:1`], ['<|user|>\nHi\n<|assistant|>\n', 'x1']]);
    const r = await rlhf('generate', '--model', 'config:tiny', '--prompts', p, '--n', '2', '--max-new-tokens', '2', '--quiet');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).prompt)).toEqual(['Hello', 'Hello', [{ role: 'user', content: 'Hi' }], [{ role: 'user', content: 'Hi' }]]);
  });

  test('a GPT-2 model samples too (on the TF.js decoder, the family the native one does not implement)', async () => {
    const p = file('gpt2.jsonl', [{ prompt: 'Hello' }, { prompt: 'Two plus two is' }]);
    const r = await rlhf('generate', '--model', 'config:gpt2-tiny', '--prompts', p, '--n', '2', '--max-new-tokens', '4', '--temperature', '0');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SampleLine);
    expect(lines.map((l) => [l.prompt_index, l.sample_index])).toEqual([[0, 0], [0, 1], [1, 0], [1, 1]]);
    expect(lines[0].completion_ids).toEqual(lines[1].completion_ids); // greedy: both samples alike
    expect(r.stderr).toMatch(/tfjs decoder/);
  });
});

describe('bad input is one line naming the cause', () => {
  const gen = (...args: string[]) => rlhf('generate', '--model', 'config:tiny', '--quiet', ...args);
  const oneLine = (r: { code: number; stderr: string }, re: RegExp) => {
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  };

  test('n < 1, an empty prompts file, a prompt longer than the model takes, a bad row, --out that exists', async () => {
    const ok = file('ok.jsonl', [{ prompt: 'a' }]);
    oneLine(await gen('--prompts', ok, '--n', '0'), /--n must be an integer >= 1 \(samples per prompt\); got 0/);
    const empty = file('empty.jsonl', []);
    fs.writeFileSync(empty, '');
    oneLine(await gen('--prompts', empty), /empty\.jsonl: no prompts in it; expected rows with a "prompt" field/);
    const long = file('long.jsonl', [{ prompt: 'ok' }, { prompt: 'x'.repeat(600) }]);
    oneLine(await gen('--prompts', long), /long\.jsonl:2: the prompt has 601 tokens; the model takes at most max_position_embeddings = 512/);
    const bad = file('bad.jsonl', [{ prompt: 'ok' }, { prompt: 7 }]);
    oneLine(await gen('--prompts', bad), /bad\.jsonl:2: field "prompt" is a number; expected a string or a list of \{role, content\} messages/);
    const mixed = file('mixed.jsonl', [{ prompt: 'ok' }, { prompt: 'a', chosen: 'b', rejected: 'c' }]);
    oneLine(await gen('--prompts', mixed), /mixed\.jsonl:2: this row has completions or no prompt/);
    oneLine(await gen('--prompts', ok, '--out', ok), /--out .*ok\.jsonl exists; pass --overwrite to replace it/);
    oneLine(await gen('--prompt', 'x', '--n', '2'), /--n and --out go with --prompts FILE/);
  });
});
