/**
 * Writes the byte-level and llama2.c tokenizers ALSO as a Hugging Face `tokenizer.json` +
 * `tokenizer_config.json`, so `AutoTokenizer.from_pretrained(checkpoint)` (transformers'
 * PreTrainedTokenizerFast, backed by the Rust `tokenizers` library) reads a checkpoint folder and
 * encodes exactly as we do.
 *
 * Both become a BPE model with byte fallback (the model Llama's tokenizer.json uses):
 *   byte     vocab = the specials + "<0x00>".."<0xFF>" at byte + 3, no merges, no normaliser. No
 *            character is in the vocabulary, so every UTF-8 byte falls back to its "<0xXX>" piece:
 *            "hi" -> [<0x68>, <0x69>] = [107, 108], our ids.
 *   llama2c  vocab = run.c's pieces as run.c stores them (a real space, not sentencepiece's "▁"); ids 0..2
 *            are "<unk>", "<s>", "</s>"; one merge (a, b) for every way a piece p splits into two pieces,
 *            ranked by p's score, best first. That is run.c's merge loop (highest-scoring adjacent pair,
 *            leftmost on ties) as long as no two mergeable pieces share a score (checked; the export is
 *            refused otherwise). The normaliser prepends a space to non-empty text (run.c's dummy prefix).
 *            Keeping real spaces (no " " -> "▁" step) means a literal "▁" in the text stays three UTF-8
 *            bytes, as in run.c, instead of turning into a space as in sentencepiece-style tokenizer.json files.
 *
 * Special tokens, matching data/collate.ts (prompt = BOS + encode(prompt); completion = encode(completion) + EOS):
 *   tokenizer(text)                         -> [BOS] + encode(text)       (the prompt side)
 *   tokenizer(text, add_special_tokens=False) -> encode(text)             (what our encode returns)
 *   tokenizer(prompt, completion)           -> [BOS] + encode(prompt) + encode(completion) + [EOS]
 *                                              (one collated training sequence, before truncation)
 * `split_special_tokens: true` makes text that spells a special token ("<s>", "<bos>") encode as ordinary
 * characters, as our encode does, instead of turning into the special id.
 *
 * Known difference: decoding ids that spell invalid UTF-8 may place U+FFFD differently (transformers'
 * ByteFallback decoder replaces each byte of a bad run; Node replaces maximal invalid subsequences).
 *
 * Does NOT: export Hugging Face tokenizers (their own save() writes tokenizer.json), change our own files
 * (loaders keep reading byte_tokenizer.json / tokenizer.bin first), or add a chat template.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Tokenizer } from './types';
import { ByteTokenizer } from './byte';
import { Llama2cTokenizer } from './llama2c';
import { HF_TOKENIZER_CONFIG_FILE, HF_TOKENIZER_FILE } from './hf';

/** The files written for transformers, by name -> text; or why this tokenizer gets none. */
export type HfExport = { files: Record<string, string> } | { unsupported: string };

export interface HfExportOptions {
  /** Pad id to name in tokenizer_config.json (a reward checkpoint's config.pad_token_id). @default tok.padId */
  padId?: number;
  /** model_max_length in tokenizer_config.json (the model's max_position_embeddings), if known. */
  modelMaxLength?: number;
}

/** run.c's `best_score = -1e10`: a piece with a score at or below it is never merged. */
const MIN_SCORE = Math.fround(-1e10);

interface AddedToken {
  id: number;
  content: string;
  single_word: false;
  lstrip: false;
  rstrip: false;
  normalized: false;
  special: true;
}

interface Specials {
  bos: string | null;
  eos: string | null;
  pad: string | null;
  unk: string | null;
}

/** What `tok` looks like to transformers, or why it cannot be exported (a reason, never a throw). */
export function hfTokenizerExport(tok: Tokenizer, o: HfExportOptions = {}): HfExport {
  try {
    if (tok instanceof ByteTokenizer) return byteExport(tok, o);
    if (tok instanceof Llama2cTokenizer) return llama2cExport(tok, o);
  } catch (e) {
    if (e instanceof ExportError) return { unsupported: e.message };
    throw e;
  }
  return { unsupported: `a "${tok.kind}" tokenizer has no transformers export here (an "hf" tokenizer's own files are already tokenizer.json)` };
}

/**
 * Writes the export's files into `dir` and returns their names; [] when the tokenizer's own save()
 * already wrote tokenizer.json (kind "hf") or it cannot be exported (see hfTokenizerExport's reason).
 */
export function writeHfTokenizerFiles(tok: Tokenizer, dir: string, o: HfExportOptions = {}): string[] {
  const ex = hfTokenizerExport(tok, o);
  if ('unsupported' in ex) return [];
  for (const [name, text] of Object.entries(ex.files)) fs.writeFileSync(path.join(dir, name), text);
  return Object.keys(ex.files);
}

class ExportError extends Error {}

/** ByteTokenizer: ids below the byte range are specials, byte b is encode(char b)[0]. */
function byteExport(tok: ByteTokenizer, o: HfExportOptions): HfExport {
  const offset = tok.encode('\u0000')[0];
  const names = new Map<number, string>();
  const role = (id: number | null, name: string) => {
    if (id !== null && !names.has(id)) names.set(id, name);
  };
  role(tok.bosId, '<bos>');
  role(tok.eosId, '<eos>');
  role(tok.padId, '<pad>');
  for (let b = 0; b < 256; b++) names.set(offset + b, byteName(b));
  // Any other id outside the byte range (none today) still needs a name to keep ids and vocab_size.
  for (let id = 0; id < tok.vocabSize; id++) role(id, `<extra_${id}>`);
  const specials: Specials = { bos: nameOf(names, tok.bosId), eos: nameOf(names, tok.eosId), pad: nameOf(names, o.padId ?? tok.padId), unk: null };
  const vocab = fullVocab(names, tok.vocabSize, 'byte');
  const model = { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: true, ignore_merges: false, vocab, merges: [] as string[][] };
  const decoder = { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] };
  const specialIds = [...names.keys()].filter((id) => id < offset || id >= offset + 256);
  return { files: filesFor(model, null, decoder, names, specialIds, specials, o) };
}

/** Llama2cTokenizer: run.c's pieces as a byte-fallback BPE (see the header). */
function llama2cExport(tok: Llama2cTokenizer, o: HfExportOptions): HfExport {
  const FIRST_PIECE = 259; // 3 specials + 256 byte fallbacks, checked by the tokenizer's loader
  const names = new Map<number, string>([[0, '<unk>'], [tok.bosId, '<s>'], [tok.eosId, '</s>']]);
  for (let b = 0; b < 256; b++) names.set(3 + b, byteName(b));
  const raw = new Map<number, Buffer>(); // piece bytes as run.c concatenates them
  for (let id = FIRST_PIECE; id < tok.vocabSize; id++) {
    const bytes = tok.pieceBytes(0, id);
    const text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) {
      throw new ExportError(`llama2.c piece ${id} (${JSON.stringify(text)}) is not valid UTF-8; a tokenizer.json vocabulary holds only whole characters`);
    }
    names.set(id, text);
    raw.set(id, bytes);
  }
  const vocab = fullVocab(names, tok.vocabSize, 'llama2.c');
  const merges = llama2cMerges(tok, raw, names);
  const specials: Specials = { bos: '<s>', eos: '</s>', pad: nameOf(names, o.padId ?? tok.padId), unk: '<unk>' };
  const model = { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges };
  // run.c's dummy prefix: a space before non-empty text (Prepend skips empty text).
  const normalizer = { type: 'Prepend', prepend: ' ' };
  // Inverse: bytes -> text, then drop the dummy prefix (run.c's decode strips a space after BOS).
  const decoder = { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] };
  return { files: filesFor(model, normalizer, decoder, names, [0, tok.bosId, tok.eosId], specials, o) };
}

/**
 * Every (left, right) whose concatenation is a mergeable piece, best score first (ties: lower piece id,
 * then shorter left part). Example: pieces "a", "b", "c", "ab" (score -1), "abc" (score -2) ->
 * [["a","b"], ["ab","c"]] (and ["a","bc"] if "bc" were a piece).
 */
function llama2cMerges(tok: Llama2cTokenizer, raw: Map<number, Buffer>, names: Map<number, string>): string[][] {
  const idOf = new Map<string, number>();
  for (const [id, bytes] of raw) idOf.set(bytes.toString('latin1'), id);
  const found: Array<{ score: number; id: number; split: number; pair: string[] }> = [];
  const scoresSeen = new Map<number, number>();
  for (const [id, bytes] of raw) {
    const score = tok.score(id);
    if (!(score > MIN_SCORE)) continue;
    const s = bytes.toString('latin1');
    let any = false;
    for (let k = 1; k < s.length; k++) {
      const l = idOf.get(s.slice(0, k));
      const r = idOf.get(s.slice(k));
      if (l === undefined || r === undefined) continue;
      found.push({ score, id, split: k, pair: [names.get(l)!, names.get(r)!] });
      any = true;
    }
    if (!any) continue;
    const other = scoresSeen.get(score);
    if (other !== undefined) {
      throw new ExportError(`llama2.c pieces ${other} and ${id} share the score ${score}; run.c breaks that tie by position, which a BPE merge list cannot express`);
    }
    scoresSeen.set(score, id);
  }
  found.sort((a, b) => b.score - a.score || a.id - b.id || a.split - b.split);
  return found.map((m) => m.pair);
}

/** "<0x0A>" for 10: the spelling transformers' ByteFallback decoder reads. */
function byteName(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

function nameOf(names: Map<number, string>, id: number | null): string | null {
  return id === null ? null : names.get(id) ?? null;
}

/** name -> id for every id below vocabSize; refuses gaps and two ids with one name (neither would load back). */
function fullVocab(names: Map<number, string>, vocabSize: number, what: string): Record<string, number> {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < vocabSize; id++) {
    const name = names.get(id);
    if (name === undefined) throw new ExportError(`${what} tokenizer id ${id} has no piece to export`);
    if (Object.prototype.hasOwnProperty.call(vocab, name)) {
      throw new ExportError(`${what} tokenizer ids ${vocab[name]} and ${id} are both ${JSON.stringify(name)}; a tokenizer.json vocabulary needs distinct pieces`);
    }
    vocab[name] = id;
  }
  return vocab;
}

/** tokenizer.json + tokenizer_config.json around a model section; `specialIds` become added special tokens. */
function filesFor(model: object, normalizer: object | null, decoder: object, names: Map<number, string>, specialIds: number[], sp: Specials, o: HfExportOptions): Record<string, string> {
  const added: AddedToken[] = [...specialIds]
    .sort((a, b) => a - b)
    .map((id) => ({ id, content: names.get(id)!, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer,
    pre_tokenizer: null,
    post_processor: postProcessor(sp, names),
    decoder,
    model,
  };
  const config: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: sp.bos,
    eos_token: sp.eos,
    ...(sp.unk !== null ? { unk_token: sp.unk } : {}),
    pad_token: sp.pad,
    clean_up_tokenization_spaces: false,
    split_special_tokens: true,
    // Llama takes no token_type_ids: without this, model(**tokenizer(text)) would pass them and fail.
    model_input_names: ['input_ids', 'attention_mask'],
    ...(o.modelMaxLength !== undefined ? { model_max_length: o.modelMaxLength } : {}),
  };
  return {
    [HF_TOKENIZER_FILE]: JSON.stringify(tokenizerJson, null, 2) + '\n',
    [HF_TOKENIZER_CONFIG_FILE]: JSON.stringify(config, null, 2) + '\n',
  };
}

/** BOS before a single text; BOS + A + B + EOS for a (prompt, completion) pair, as collate builds it. */
function postProcessor(sp: Specials, names: Map<number, string>): object | null {
  const idOf = (name: string) => [...names].find(([, n]) => n === name)![0];
  const special = (name: string | null) => (name === null ? [] : [{ SpecialToken: { id: name, type_id: 0 } }]);
  const seq = (id: 'A' | 'B') => ({ Sequence: { id, type_id: 0 } });
  const specialTokens: Record<string, { id: string; ids: number[]; tokens: string[] }> = {};
  for (const name of [sp.bos, sp.eos]) if (name !== null) specialTokens[name] = { id: name, ids: [idOf(name)], tokens: [name] };
  return {
    type: 'TemplateProcessing',
    single: [...special(sp.bos), seq('A')],
    pair: [...special(sp.bos), seq('A'), seq('B'), ...special(sp.eos)],
    special_tokens: specialTokens,
  };
}
