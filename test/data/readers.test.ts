/** Every reader and format, read from the small fixtures written by test/fixtures/data/make_fixtures.py. */
import { FORMAT_ALIASES, FORMAT_CHOICES, FORMAT_NAMES, forcedFormat } from '../../src/data/formats';
import { loadPreferences } from '../../src/data/read';
import { resolveSource } from '../../src/data/sources';
import { fix } from './helpers';

const EXPLICIT_PROMPTS = ['What is 2+2?', 'Name a colour.', 'Say hi in French.'];

async function load(name: string, opts = {}) {
  return loadPreferences(fix(name), opts);
}

describe('explicit-prompt files in every container', () => {
  const files: [string, string, (i: number) => string][] = [
    ['explicit.jsonl', 'jsonl', (i) => `${fix('explicit.jsonl')}:${i + 1}`],
    ['explicit.json', 'json', (i) => `${fix('explicit.json')}:${i + 1}`],
    ['explicit.jsonl.gz', 'jsonl', (i) => `${fix('explicit.jsonl.gz')}:${i + 1}`],
    ['explicit.json.gz', 'json', (i) => `${fix('explicit.json.gz')}:${i + 1}`],
    ['explicit.arrow', 'arrow', (i) => `${fix('explicit.arrow')}:${i + 1}`],
    ['explicit-stream.arrow', 'arrow', (i) => `${fix('explicit-stream.arrow')}:${i + 1}`],
    ['explicit.parquet', 'parquet', (i) => `${fix('explicit.parquet')}:${i + 1}`],
    ['hf_to_json.json', 'json', (i) => `${fix('hf_to_json.json')}:${i + 1}`],
    ['hf_dict', 'arrow', (i) => `${fix('hf_dict/train/data-00000-of-00001.arrow')}:${i + 1}`],
  ];
  test.each(files)('%s (%s)', async (name, _kind, where) => {
    const { records, stats } = await load(name);
    expect(records.map((r) => r.prompt)).toEqual(EXPLICIT_PROMPTS);
    expect(records.map((r) => r.chosen)).toEqual([' 4', ' Blue.', ' Bonjour — ça va?']);
    expect(records.map((r) => r.rejected)).toEqual([' 5', ' Seven.', ' Hello.']);
    expect(records.map((r) => r.margin)).toEqual([1.5, undefined, 0.5]);
    expect(records.map((r) => r.subset)).toEqual(['math', 'trivia', 'trivia']);
    // The record's own id wins; otherwise the id is its file:line.
    expect(records[0].id).toBe('m1');
    expect(records[1].id).toBe(where(1));
    expect(records.map((r) => r.source)).toEqual([0, 1, 2].map(where));
    expect(stats.files.map((f) => f.format)).toEqual(['explicit']);
    expect(stats.subsets).toEqual({ math: 1, trivia: 2 });
    expect(stats.withMargin).toBe(2);
  });
});

test('conversational message lists (JSONL and Parquet written by datasets)', async () => {
  for (const name of ['conversational.jsonl', 'conversational.parquet']) {
    const { records, stats } = await load(name);
    expect(records).toHaveLength(2);
    expect(records[1].prompt).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: '2+2?' }]);
    expect(records[1].chosen).toEqual([{ role: 'assistant', content: '4' }]);
    expect(records[0].subset).toBe('chat'); // from `category`
    expect(stats.conversational).toBe(2);
  }
});

test('implicit prompt (HH-RLHF transcripts): prompt runs through the last common "\\n\\nAssistant:"', async () => {
  for (const name of ['implicit_hh.jsonl', 'hf_dataset']) {
    const { records, stats } = await load(name);
    expect(stats.files[0].format).toBe('implicit');
    expect(records[0]).toMatchObject({ prompt: '\n\nHuman: What is the capital of France?\n\nAssistant:', chosen: ' Paris.', rejected: ' London.' });
    expect(records[1].prompt).toBe('\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant:');
    expect(records[1].rejected).toBe(' No.');
  }
});

test('implicit conversational: prompt = the common leading messages', async () => {
  const { records } = await load('implicit_conv.jsonl');
  expect(records[0].prompt).toEqual([{ role: 'user', content: 'Hi' }]);
  expect(records[0].chosen).toEqual([{ role: 'assistant', content: 'Hello!' }]);
  expect(records[0].rejected).toEqual([{ role: 'assistant', content: 'Go away.' }]);
});

test('string prompt beside whole conversations (UltraFeedback-binarized, Parquet by datasets)', async () => {
  const { records } = await load('ultrafeedback.parquet');
  expect(records[0].prompt).toEqual([{ role: 'user', content: 'Name a prime.' }]);
  expect(records[0].chosen).toEqual([{ role: 'assistant', content: '7' }]);
  expect(records[0].rejected).toEqual([{ role: 'assistant', content: '9' }]);
});

test('instruction style: documented template, Input block only when input is non-empty', async () => {
  const { records, stats } = await load('instruction.json');
  expect(stats.files[0].format).toBe('instruction');
  expect(records[0].prompt).toBe('### Instruction:\nCorrect the spelling.\n\n### Input:\nfreind\n\n### Response:\n');
  expect(records[1].prompt).toBe('### Instruction:\nConvert 3 km to metres.\n\n### Response:\n');
  expect(records[1].chosen).toBe('3 km is 3000 metres.');
});

test('sharegpt style: from/value mapped to role/content', async () => {
  const { records } = await load('sharegpt.json');
  expect(records[0].prompt).toEqual([{ role: 'system', content: 'You are kind.' }, { role: 'user', content: 'Are you there?' }]);
  expect(records[0].chosen).toEqual([{ role: 'assistant', content: 'Yes, I am here.' }]);
  expect(records[0].rejected).toEqual([{ role: 'assistant', content: 'No.' }]);
});

test('pre-tokenised ids (JSONL and Parquet int64 lists)', async () => {
  for (const name of ['pretokenized.jsonl', 'pretokenized.parquet']) {
    const { records, stats } = await load(name);
    expect(records[0]).toMatchObject({ promptIds: [1, 10, 11], chosenIds: [12, 13, 2], rejectedIds: [14, 2] });
    expect(records[1].margin).toBe(2);
    expect(stats.pretokenized).toBe(2);
  }
});

test('DatasetDict folder: split by option or folder:split, default train, clear error for an unknown split', async () => {
  const t = await load('hf_dict:test');
  expect(t.records).toHaveLength(2);
  expect(Array.isArray(t.records[0].prompt)).toBe(true);
  const t2 = await load('hf_dict', { split: 'test' });
  expect(t2.records.map((r) => r.source)).toEqual(t.records.map((r) => r.source));
  expect(() => resolveSource(fix('hf_dict:validation'))).toThrow(/has no split "validation"; expected one of "train", "test"/);
});

test('format override: explicit data read as implicit ignores the prompt field', async () => {
  const { records, stats } = await load('explicit.jsonl', { format: 'implicit' });
  expect(stats.files[0].formatFrom).toBe('forced');
  expect(records[0].prompt).toBe('');
  expect(stats.problems.noPromptFound).toBe(3);
});

test('one format vocabulary: aliases force their format, auto recognises, an unknown word names every choice', async () => {
  const tok = await load('pretokenized.jsonl', { format: 'tokenized' });
  expect([tok.stats.files[0].format, tok.stats.files[0].formatFrom]).toEqual(['pretokenized', 'forced']);
  const conv = await load('conversational.jsonl', { format: 'conversational' });
  expect(conv.stats.files[0].format).toBe('explicit');
  const auto = await load('pretokenized.jsonl', { format: 'auto' });
  expect(auto.stats.files[0].formatFrom).not.toBe('forced');
  expect(auto.records.map((r) => r.chosenIds)).toEqual(tok.records.map((r) => r.chosenIds));
  await expect(load('explicit.jsonl', { format: 'tokenised' })).rejects.toThrow(
    `--format: unknown record format "tokenised"; expected one of ${FORMAT_CHOICES.join(', ')}`,
  );
  for (const [alias, name] of Object.entries(FORMAT_ALIASES)) expect(forcedFormat(alias)).toBe(name);
  for (const name of FORMAT_NAMES) expect(forcedFormat(name)).toBe(name);
});

test('limit stops early', async () => {
  const { records } = await load('explicit.jsonl', { limit: 2 });
  expect(records).toHaveLength(2);
});
