/**
 * Encode time of a Hugging Face tokenizer.json on a preference JSONL's texts, with and without the word-by-word
 * BPE path (src/tokenizer/bpe-words.ts), and whether the ids are identical.
 *
 *   node bench/run-ts.js bench/tokenize-long.ts [--data .cache/bench/long-prefs/train.jsonl]
 *       [--tokenizer ../shared/models/stories260K/hf/tokenizer.json] [--repeats 3]
 *
 * Does: read every record's prompt, chosen and rejected (string fields only), build two fresh library
 * instances (plain, and with installBpeWordSplit), encode all texts with each `--repeats` times (fresh instances
 * each round, so caches start empty; order alternates) and print one JSON line per round and a summary:
 * texts, characters, median seconds per variant, speed-up, and `identical` (every text's ids equal).
 * Generate the long-prompt data with `node scripts/generate-long-prefs.js` (.cache/bench/long-prefs/).
 * Measured 2026-12-06 (2 shared cores, load average ~3 from other agents; --repeats 5): stories260K on the 7,200
 * texts of the default long-prefs train file (2.27 M characters): plain 3.11 s, word split 0.73 s (4.3x),
 * identical; GPT-2's tokenizer.json on the same texts: 1.21 s -> 1.13 s (its words hold no "▁": cache only).
 * Does NOT: assert anything, go through HfTokenizer (the wrapper adds nothing to encode), or time the CLI.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import { installBpeWordSplit } from '../src/tokenizer/bpe-words';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const root = path.resolve(__dirname, '..');
const dataFile = arg('data', path.join(root, '.cache/bench/long-prefs/train.jsonl'));
const tokFile = arg('tokenizer', path.resolve(root, '../shared/models/stories260K/hf/tokenizer.json'));
const repeats = Number(arg('repeats', '3'));

const texts: string[] = [];
for (const line of fs.readFileSync(dataFile, 'utf8').split('\n')) {
  if (line.trim() === '') continue;
  const rec = JSON.parse(line) as Record<string, unknown>;
  for (const k of ['prompt', 'chosen', 'rejected']) if (typeof rec[k] === 'string') texts.push(rec[k] as string);
}
const json = JSON.parse(fs.readFileSync(tokFile, 'utf8')) as Record<string, unknown>;
const configFile = path.join(path.dirname(tokFile), 'tokenizer_config.json');
const config = fs.existsSync(configFile) ? (JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>) : {};

/** Seconds to encode every text with a fresh instance (word split or not), and the ids. */
function run(split: boolean): { seconds: number; ids: number[][]; installed: boolean } {
  const lib = new HfLibTokenizer(json, config);
  const installed = split ? installBpeWordSplit(lib).installed : false;
  const t0 = process.hrtime.bigint();
  const ids = texts.map((t) => lib.encode(t, { add_special_tokens: false }).ids);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, ids, installed };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const times = { plain: [] as number[], split: [] as number[] };
let identical = true;
let installed = false;
for (let r = 0; r < repeats; r++) {
  const order = r % 2 === 0 ? [false, true] : [true, false];
  const out = order.map((split) => ({ split, ...run(split) }));
  const [plain, split] = order[0] ? [out[1], out[0]] : [out[0], out[1]];
  installed = split.installed;
  identical &&= plain.ids.length === split.ids.length && plain.ids.every((ids, i) => ids.join(',') === split.ids[i].join(','));
  times.plain.push(plain.seconds);
  times.split.push(split.seconds);
  console.log(JSON.stringify({ round: r, plain_s: +plain.seconds.toFixed(3), split_s: +split.seconds.toFixed(3) }));
}
const chars = texts.reduce((n, t) => n + t.length, 0);
console.log(
  JSON.stringify({
    data: dataFile,
    tokenizer: tokFile,
    texts: texts.length,
    chars,
    installed,
    identical,
    plain_median_s: +median(times.plain).toFixed(3),
    split_median_s: +median(times.split).toFixed(3),
    speedup: +(median(times.plain) / median(times.split)).toFixed(2),
  }),
);
