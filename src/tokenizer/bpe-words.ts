/**
 * Word-by-word BPE for @huggingface/tokenizers (pinned 0.2.0): the same ids, much faster on long texts whose
 * tokenizer has no pre-tokenizer.
 *
 * Why: a Llama/SentencePiece-style tokenizer.json such as stories260K's has no pre-tokenizer (its normalizer
 * prepends "▁" and turns " " into "▁"), so the library's BPE model receives a whole 700-character prompt as ONE
 * word. Its per-word cache skips words of 256+ characters and every merge lookup builds a JSON.stringify key, so
 * each long text is merged from single characters: ~5 s of the 6 s `rlhf dpo` load phase on the long-prompt
 * benchmark data. `installBpeWordSplit` replaces the model instance's `bpe(word)` by one that cuts the word
 * before every "▁" that follows a non-"▁" character ("▁Hello▁▁world" -> "▁Hello" + "▁▁world"), runs the
 * library's own `bpe` on each piece (short, repeated: cached here) and concatenates the results.
 *
 * Why that is exact (checked per tokenizer by `wordSplitRefusal` before anything is installed):
 *  1) BPE only ever joins two ADJACENT symbols, and a symbol is a run of consecutive characters. Take one cut
 *     between characters L (not "▁") and R ("▁"). As long as no merge has joined across the cut, the symbol
 *     left of it ends with L and the one right of it starts with R. So a merge across the cut needs a merge
 *     rule (a, b) with a ending in a non-"▁" character and b starting with "▁". If the tokenizer has no such
 *     rule, by induction over the merge steps no merge ever crosses a cut, and each piece evolves on its own.
 *  2) The order of merges inside a piece is unchanged: the library pops the live pair with the smallest
 *     `rank + i / word.length` (i = the pair's first character), i.e. lowest rank first and, among equal
 *     ranks, leftmost first (i / length < 1 never reaches the next rank). Cutting the word keeps both the ranks
 *     and the left-to-right order of positions inside a piece; pairs of other pieces never touch its symbols.
 *     So each piece ends as the same symbols as in the whole word, and the concatenation is the same list.
 *  3) What the library does with the symbols afterwards (vocabulary lookup, byte fallback, unk) is per symbol,
 *     so it sees the same list either way.
 * The install also requires what the argument assumes: a BPE model with `ignore_merges` false (with it, the
 * library looks whole words up before `bpe`; kept out so the argument stays about `bpe` alone), no end_of_word_suffix,
 * continuing_subword_suffix or continuing_subword_prefix (they mark the word's last or inner symbols, which
 * pieces would move), and no dropout (random merges; the library ignores it, Python applies it).
 * A tokenizer with a pre-tokenizer (GPT-2's byte level) passes the check too; its words contain no "▁", so
 * only the cache below is added there.
 *
 * Relies on internals of the pinned @huggingface/tokenizers (`tokenizer.model.bpe`, `.merges`, `.config`,
 * `.ignore_merges`, `.end_of_word_suffix`, `.continuing_subword_suffix`). Their shape is checked first: anything
 * unexpected (another version, another model type) leaves the library untouched and says why; this never
 * throws. test/tokenizer/bpe-words.test.ts compares against an unpatched instance and Python's `tokenizers`, so
 * an upgrade that changes the internals fails there.
 *
 * Does NOT: change any id (tokenizers where it could are refused), touch normalisation, added/special tokens or
 * pre-tokenisation (they run before `bpe`), implement BPE itself, or split anywhere but before a "▁".
 */

/** The word-boundary character of SentencePiece-style vocabularies (U+2581 LOWER ONE EIGHTH BLOCK). */
export const METASPACE = '\u2581';
const METASPACE_CODE = 0x2581;

/** Pieces cached at most (first in, first out). The long-prefs benchmark's 8,400 texts hold 769 distinct pieces. */
export const PIECE_CACHE_ENTRIES = 32_768;
/** Longer pieces are not cached (as the library's own limit): they are rare and would pin memory. */
export const PIECE_CACHE_MAX_CHARS = 256;

/** The fields of the library's BPE model instance that this module reads or replaces. */
interface LibBpeModel {
  bpe: (token: string) => string[];
  merges: unknown;
  config?: Record<string, unknown>;
  ignore_merges?: unknown;
  end_of_word_suffix?: unknown;
  continuing_subword_suffix?: unknown;
}

/** What installBpeWordSplit did: installed (with its cache counters) or refused (and why). */
export type BpeWordSplit =
  | { installed: true; stats: () => { hits: number; misses: number; entries: number } }
  | { installed: false; reason: string };

const INSTALLED = Symbol('rlhf.bpeWordSplit');

/** A set value: not null/undefined and not the empty string (which the library and Python treat as unset). */
function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

/**
 * Why word splitting would not be exact for this library model (or why its shape is not the expected one);
 * null when it is exact. Example: merges [["a", "▁b"]] -> 'merge 0 ["a","▁b"] joins across a cut before "▁"'.
 */
export function wordSplitRefusal(model: unknown): string | null {
  // The library's models are callable objects (functions with a prototype), so both typeofs are accepted.
  if (!model || (typeof model !== 'object' && typeof model !== 'function')) return 'the tokenizer has no model';
  const m = model as Partial<LibBpeModel>;
  const config = m.config ?? {};
  if (config.type !== 'BPE') return `the model type is ${JSON.stringify(config.type)}, not "BPE"`;
  if (typeof m.bpe !== 'function') return 'the BPE model has no bpe() method (not @huggingface/tokenizers 0.2.0?)';
  if (!Array.isArray(m.merges)) return 'the BPE model has no merges array (not @huggingface/tokenizers 0.2.0?)';
  if (m.ignore_merges !== false) return `ignore_merges is ${JSON.stringify(m.ignore_merges)}, not false`;
  if (isSet(m.end_of_word_suffix) || isSet(config.end_of_word_suffix)) return 'the model has an end_of_word_suffix';
  if (isSet(m.continuing_subword_suffix) || isSet(config.continuing_subword_suffix)) return 'the model has a continuing_subword_suffix';
  if (isSet(config.continuing_subword_prefix)) return 'the model has a continuing_subword_prefix';
  if (config.dropout !== undefined && config.dropout !== null) return `the model has dropout ${JSON.stringify(config.dropout)}`;
  return crossingMerge(m.merges);
}

/** The first merge (a, b) that could join across a cut (a ends in a non-"▁" character, b starts with "▁"), or a malformed one. */
function crossingMerge(merges: unknown[]): string | null {
  for (let i = 0; i < merges.length; i++) {
    const pair = merges[i];
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string' || pair[0] === '' || pair[1] === '') {
      return `merge ${i} is ${JSON.stringify(pair)}, not a pair of non-empty strings`;
    }
    const [a, b] = pair as [string, string];
    if (b.charCodeAt(0) === METASPACE_CODE && a.charCodeAt(a.length - 1) !== METASPACE_CODE) {
      return `merge ${i} ${JSON.stringify([a, b])} joins across a cut before "${METASPACE}"`;
    }
  }
  return null;
}

/**
 * Installs the word-by-word path on `lib` (a Tokenizer of @huggingface/tokenizers) when exact; otherwise leaves
 * it untouched. Never throws. Example: stories260K's tokenizer.json -> {installed: true, ...}; a tokenizer.json
 * with the merge ("a", "▁b") first -> {installed: false, reason: 'merge 0 ["a","▁b"] joins across a cut before "▁"'}.
 */
export function installBpeWordSplit(lib: unknown): BpeWordSplit {
  try {
    const model = (lib as { model?: unknown } | null)?.model;
    const refusal = wordSplitRefusal(model);
    if (refusal !== null) return { installed: false, reason: refusal };
    const m = model as LibBpeModel & { [INSTALLED]?: BpeWordSplit };
    if (m[INSTALLED]) return m[INSTALLED];
    const done = wrapBpe(m);
    m[INSTALLED] = done;
    return done;
  } catch (e) {
    return { installed: false, reason: `unexpected library shape (${(e as Error).message})` };
  }
}

/** Replaces m.bpe by the split-and-cache version; the original stays the one that merges each piece. */
function wrapBpe(m: LibBpeModel): BpeWordSplit {
  const original = m.bpe.bind(m);
  const cache = new Map<string, string[]>();
  let hits = 0;
  let misses = 0;

  /** The library's symbols for one piece, through a bounded first-in-first-out cache (a plain Map get on a hit). */
  const piece = (text: string): string[] => {
    const cached = cache.get(text);
    if (cached !== undefined) {
      hits++;
      return cached;
    }
    misses++;
    const symbols = original(text);
    if (text.length < PIECE_CACHE_MAX_CHARS) {
      if (cache.size >= PIECE_CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
      cache.set(text, symbols);
    }
    return symbols;
  };

  // "▁The▁cat" -> piece("▁The") + piece("▁cat"). Returned arrays are read, never mutated, by the library's
  // encode (its own cache shares them the same way), so a one-piece word returns the cached array itself.
  m.bpe = (token: string): string[] => {
    let out: string[] | null = null;
    let start = 0;
    for (let i = 1; i < token.length; i++) {
      if (token.charCodeAt(i) !== METASPACE_CODE || token.charCodeAt(i - 1) === METASPACE_CODE) continue;
      if (out === null) out = [];
      for (const s of piece(token.slice(start, i))) out.push(s);
      start = i;
    }
    if (out === null) return token.length === 0 ? original(token) : piece(token);
    for (const s of piece(token.slice(start))) out.push(s);
    return out;
  };
  return { installed: true, stats: () => ({ hits, misses, entries: cache.size }) };
}
