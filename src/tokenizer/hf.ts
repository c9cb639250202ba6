/**
 * Hugging Face `tokenizer.json` (+ optional `tokenizer_config.json`) through @huggingface/tokenizers,
 * the maintained pure-JS port of the tokenizers library (BPE incl. GPT-2 byte-level and Llama-style
 * byte fallback, WordPiece, Unigram).
 *
 * Special ids: bos/eos/pad come from tokenizer_config.json (`bos_token`, `eos_token`, `pad_token`,
 * each a string or an AddedToken object). Without them: bos = the special token the post-processor
 * puts first (Llama's `<s>`), eos = a well-known end token among the added special tokens, and
 * pad = the unk token, else eos, else 0. Pad positions are masked everywhere here, but a reward checkpoint's
 * config.json pad_token_id tells transformers' sequence classifier where a row ends: pad == eos would make it
 * read the score one token early (before the final EOS), so unk is preferred, and `hasOwnPad` says whether
 * the pad is a token of its own (a named pad_token or unk that is neither BOS nor EOS). `withAddedPad()`
 * gives one to a tokenizer without (GPT-2): a special token appended at id vocabSize, written into
 * tokenizer.json's added_tokens and tokenizer_config.json's pad_token, as one does in transformers with
 * `tokenizer.add_special_tokens({"pad_token": ...})`.
 * The chat template comes from tokenizer_config.json's `chat_template` or a `chat_template.jinja`
 * file beside it; rendering it is the data layer's job.
 *
 * Does NOT add special tokens in `encode` (callers add BOS/EOS), and ignores the `truncation` and
 * `padding` sections of tokenizer.json (collate truncates and pads). As in the Python library,
 * added tokens written literally in the text (e.g. "<|endoftext|>") encode to their ids.
 * Long texts: bpe-words.ts makes the library's BPE work word by word where that provably gives the same ids
 * (stories260K-style tokenizers without a pre-tokenizer, ~4x faster encode on 700-character prompts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from './types';
import { TokenizerError } from './errors';
import { FileReadError, readBoundedFile } from '../util/bounded';
import { MAX_TOKENIZER_FILE_BYTES } from './llama2c';
import { installBpeWordSplit, type BpeWordSplit } from './bpe-words';

export const HF_TOKENIZER_FILE = 'tokenizer.json';
export const HF_TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const HF_CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/** End-of-text tokens recognised when tokenizer_config.json does not name an eos_token. */
const KNOWN_EOS = ['</s>', '<|endoftext|>', '<|end_of_text|>', '<eos>'];

type Json = Record<string, unknown>;

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

/** The texts that define an HF tokenizer: what save() writes back and the fingerprint hashes. */
export interface HfTokenizerFiles {
  /** tokenizer.json text. */
  tokenizerJson: string;
  /** tokenizer_config.json text, if there was one. */
  tokenizerConfig?: string;
  /** chat_template.jinja text, if there was one. */
  chatTemplateJinja?: string;
}

function parseJson(text: string, where: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenizerError(`${where}: expected a JSON object, found ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value as Json;
}

/** A token name from tokenizer_config.json: "<s>" or {"content": "<s>", ...} -> "<s>". */
function tokenName(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content as string;
  return null;
}

/** chat_template is a string, or a list of {name, template}: take "default" (else the first). */
function pickChatTemplate(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as Array<{ name?: string; template?: string }>;
    const t = named.find((x) => x.name === 'default') ?? named[0];
    return typeof t?.template === 'string' ? t.template : undefined;
  }
  return undefined;
}

export class HfTokenizer implements Tokenizer {
  readonly kind = 'hf';
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number;
  readonly hasOwnPad: boolean;
  readonly chatTemplate?: string;
  readonly files: Readonly<HfTokenizerFiles>;
  private readonly lib: HfLibTokenizer;
  /** Whether encode goes word by word (bpe-words.ts), else why not: read by tests, changes no result. */
  readonly bpeWordSplit: BpeWordSplit;
  private readonly cleanUpSpaces: boolean;
  /** Whether tokenizer_config.json names the pad (pad_token), as transformers and TRL read it. */
  private readonly padNamed: boolean;

  /** `where` names the source (a folder or file) in error messages. */
  constructor(files: HfTokenizerFiles, where = HF_TOKENIZER_FILE) {
    this.files = { ...files };
    const json = parseJson(files.tokenizerJson, where);
    const config = files.tokenizerConfig === undefined ? {} : parseJson(files.tokenizerConfig, `${where} (${HF_TOKENIZER_CONFIG_FILE})`);
    if (!json.model || typeof json.model !== 'object') {
      throw new TokenizerError(`${where}: has no "model" section; expected a Hugging Face tokenizer.json (saved by tokenizers or transformers)`);
    }
    if (!Array.isArray(json.added_tokens)) json.added_tokens = [];
    try {
      this.lib = new HfLibTokenizer(json, config);
    } catch (e) {
      throw new TokenizerError(`${where}: @huggingface/tokenizers cannot load it (${(e as Error).message})`);
    }
    this.bpeWordSplit = installBpeWordSplit(this.lib);
    const vocab = this.lib.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    if (maxId < 0) throw new TokenizerError(`${where}: the vocabulary is empty`);
    this.vocabSize = maxId + 1;

    const idOf = (name: string | null, field: string): number | null => {
      if (name === null) return null;
      const id = this.lib.token_to_id(name);
      if (id === undefined) {
        throw new TokenizerError(`${where}: ${HF_TOKENIZER_CONFIG_FILE} ${field} is ${JSON.stringify(name)}, which is not in tokenizer.json's vocabulary`);
      }
      return id;
    };
    const added = (json.added_tokens as AddedTokenJson[]).filter((t) => t.special);
    this.bosId = idOf(tokenName(config.bos_token), 'bos_token') ?? this.templateBos(json);
    this.eosId = idOf(tokenName(config.eos_token), 'eos_token') ?? added.find((t) => KNOWN_EOS.includes(t.content))?.id ?? null;
    const unk = (json.model as Json).unk_token;
    const namedPad = idOf(tokenName(config.pad_token), 'pad_token');
    this.padNamed = namedPad !== null;
    const ownPad = namedPad ?? (typeof unk === 'string' ? this.lib.token_to_id(unk) : undefined);
    this.padId = ownPad ?? this.eosId ?? 0;
    this.hasOwnPad = ownPad !== undefined && ownPad !== this.eosId && ownPad !== this.bosId;
    this.chatTemplate = pickChatTemplate(config.chat_template) ?? files.chatTemplateJinja;
    // Decoding should invert encoding: only clean up spaces (" ." -> ".") when the config asks for it.
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;
  }

  /** Reads `tokenizer.json` (a file path, or a folder holding it) and, beside it, tokenizer_config.json and chat_template.jinja. */
  static fromPath(spec: string): HfTokenizer {
    const isDir = fs.existsSync(spec) && fs.statSync(spec).isDirectory();
    const file = isDir ? path.join(spec, HF_TOKENIZER_FILE) : spec;
    const dir = path.dirname(file);
    // Bounded reads: a symlink to /dev/zero or a 10 GB tokenizer.json is refused, not read.
    const read = (f: string): string | undefined => {
      if (!fs.existsSync(f)) return undefined;
      try {
        return readBoundedFile(f, MAX_TOKENIZER_FILE_BYTES, 'Hugging Face tokenizer file').toString('utf8');
      } catch (e) {
        throw new TokenizerError(e instanceof FileReadError ? e.message : `${f}: cannot read (${(e as Error).message})`);
      }
    };
    const tokenizerJson = read(file);
    if (tokenizerJson === undefined) {
      throw new TokenizerError(`${file}: not found; expected a Hugging Face tokenizer.json`);
    }
    return new HfTokenizer(
      {
        tokenizerJson,
        tokenizerConfig: read(path.join(dir, HF_TOKENIZER_CONFIG_FILE)),
        chatTemplateJinja: read(path.join(dir, HF_CHAT_TEMPLATE_FILE)),
      },
      file,
    );
  }

  /**
   * This tokenizer plus a pad token of its own, appended at id vocabSize as a special added token (so
   * encode never produces it from ordinary text and decode skips it), named in tokenizer_config.json's
   * pad_token. BOS, EOS and every other id are unchanged. A model that uses it needs vocab_size > vocabSize
   * (model/grow.ts). Example (GPT-2): vocabSize 50257, pad = EOS 50256 -> vocabSize 50258, pad 50257 "<|pad|>".
   */
  withAddedPad(): HfTokenizer {
    const json = parseJson(this.files.tokenizerJson, HF_TOKENIZER_FILE);
    const config = this.files.tokenizerConfig === undefined ? this.minimalConfigObject() : parseJson(this.files.tokenizerConfig, HF_TOKENIZER_CONFIG_FILE);
    const id = this.vocabSize;
    const content = ['<|pad|>', '<pad>', '[PAD]', `<|pad_${id}|>`].find((c) => this.lib.token_to_id(c) === undefined)!;
    const token = { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
    json.added_tokens = [...((json.added_tokens as unknown[] | undefined) ?? []), token];
    config.pad_token = content;
    // transformers keeps its own copy of the added tokens in tokenizer_config.json when it saved the file.
    const decoder = config.added_tokens_decoder;
    if (decoder && typeof decoder === 'object' && !Array.isArray(decoder)) {
      const { id: _id, ...fields } = token;
      (decoder as Json)[String(id)] = fields;
    }
    return new HfTokenizer(
      {
        tokenizerJson: JSON.stringify(json, null, 2) + '\n',
        tokenizerConfig: JSON.stringify(config, null, 2) + '\n',
        chatTemplateJinja: this.files.chatTemplateJinja,
      },
      HF_TOKENIZER_FILE,
    );
  }

  /**
   * This tokenizer with its pad written into tokenizer_config.json's pad_token (itself when already there).
   * Without it AutoTokenizer has no pad, and TRL then pads with EOS and tells the model pad = EOS: a reward
   * checkpoint is saved this way (io/checkpoint.ts). Example (stories260K): pad = unk "<unk>" -> pad_token "<unk>".
   */
  withNamedPad(): HfTokenizer {
    if (this.padNamed) return this;
    const config = this.files.tokenizerConfig === undefined ? this.minimalConfigObject() : parseJson(this.files.tokenizerConfig, HF_TOKENIZER_CONFIG_FILE);
    config.pad_token = this.lib.id_to_token(this.padId);
    return new HfTokenizer({ ...this.files, tokenizerConfig: JSON.stringify(config, null, 2) + '\n' }, HF_TOKENIZER_FILE);
  }

  /** The first special token of the post-processor's single-sequence template (Llama's "<s>"), if any. */
  private templateBos(json: Json): number | null {
    const pp = json.post_processor as Json | null | undefined;
    const single = pp && pp.type === 'TemplateProcessing' ? (pp.single as Array<Json> | undefined) : undefined;
    const first = single?.[0]?.SpecialToken as { id?: string } | undefined;
    if (!first?.id) return null;
    return this.lib.token_to_id(first.id) ?? null;
  }

  /** Token ids of `text` without special tokens. Example (GPT-2): "Hello world" -> [15496, 995]. */
  encode(text: string): number[] {
    return this.lib.encode(text, { add_special_tokens: false }).ids;
  }

  /** Text of `ids`; special tokens (bos/eos/pad/unk, chat markers) are skipped. */
  decode(ids: number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(`token id ${id} is outside the tokenizer's vocabulary 0..${this.vocabSize - 1}`);
      }
    }
    if (ids.length === 0) return '';
    return this.lib.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: this.cleanUpSpaces });
  }

  /** Piece string of one id (e.g. "Ġworld" in GPT-2), or undefined. */
  idToToken(id: number): string | undefined {
    return this.lib.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.lib.token_to_id(token);
  }

  /**
   * Writes tokenizer.json verbatim, tokenizer_config.json (verbatim, or a minimal one naming the
   * special tokens and chat template when there was none), and chat_template.jinja if there was one.
   */
  save(dir: string): string[] {
    const written = [HF_TOKENIZER_FILE, HF_TOKENIZER_CONFIG_FILE];
    fs.writeFileSync(path.join(dir, HF_TOKENIZER_FILE), this.files.tokenizerJson);
    fs.writeFileSync(path.join(dir, HF_TOKENIZER_CONFIG_FILE), this.files.tokenizerConfig ?? this.minimalConfig());
    if (this.files.chatTemplateJinja !== undefined) {
      fs.writeFileSync(path.join(dir, HF_CHAT_TEMPLATE_FILE), this.files.chatTemplateJinja);
      written.push(HF_CHAT_TEMPLATE_FILE);
    }
    return written;
  }

  private minimalConfig(): string {
    return JSON.stringify(this.minimalConfigObject(), null, 2) + '\n';
  }

  private minimalConfigObject(): Json {
    const name = (id: number | null) => (id === null ? undefined : this.lib.id_to_token(id));
    return {
      bos_token: name(this.bosId),
      eos_token: name(this.eosId),
      pad_token: name(this.padId),
      chat_template: this.files.chatTemplateJinja === undefined ? this.chatTemplate : undefined,
    };
  }
}
