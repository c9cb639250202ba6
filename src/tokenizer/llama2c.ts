/**
 * llama2.c's tokenizer (`tokenizer.bin`), with encode and decode that reproduce run.c exactly.
 *
 * File format (run.c's build_tokenizer): int32 max_token_length, then per piece: float32 score,
 * int32 byte length, the bytes. Pieces 0..2 are <unk>, "\n<s>\n", "\n</s>\n" (BOS=1, EOS=2);
 * pieces 3..258 are the byte fallbacks <0x00>..<0xFF>. A space in a piece stands for sentencepiece's '▁'.
 *
 * Ids: bosId 1, eosId 2, padId 0 (<unk>). Encode never emits 0 (every byte has a fallback piece), so
 * a pad can never be mistaken for text; pad positions are masked anyway.
 *
 * Does NOT add BOS/EOS in `encode` (callers add them), and does NOT apply sentencepiece's
 * normalisation beyond what run.c does (only the dummy-prefix space).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Tokenizer } from './types';
import { TokenizerError } from './errors';
import { FileReadError, readBoundedFile } from '../util/bounded';

/** Largest tokenizer file read (tokenizer.bin, tokenizer.json): real ones are at most tens of MB. */
export const MAX_TOKENIZER_FILE_BYTES = 512 * 1024 * 1024;

export const LLAMA2C_TOKENIZER_FILE = 'tokenizer.bin';

const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;
const BYTE_OFFSET = 3;
/** run.c starts its best score at `float best_score = -1e10`; pairs must beat it strictly. */
const MIN_SCORE = Math.fround(-1e10);

/**
 * Parses `<0xXX>` the way run.c's `sscanf(piece, "<0x%02hhX>", &b) == 1` does: the prefix `<0x`
 * followed by one or two hex digits (trailing characters are not checked).
 * Example: "<0x0A>" -> 10, "<0x4>" -> 4, "<s>" -> null.
 */
function parseBytePiece(piece: string): number | null {
  const m = /^<0x([0-9A-Fa-f]{1,2})/.exec(piece);
  return m ? parseInt(m[1], 16) : null;
}

/** Piece bytes as a latin1 string (one char per byte), cut at a NUL as C's string functions would. */
function cString(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return (nul < 0 ? bytes : bytes.subarray(0, nul)).toString('latin1');
}

interface ParsedFile {
  maxTokenLength: number;
  pieces: string[];
  scores: Float32Array;
}

/**
 * Reads the tokenizer file, validating every length against the bytes left before allocating.
 * `expectedVocab` (the model's vocab_size, as run.c passes it) reads exactly that many pieces;
 * without it, pieces are read to the end of the file.
 */
function parseTokenizerBin(buf: Buffer, where: string, expectedVocab?: number): ParsedFile {
  if (buf.length < 4) {
    throw new TokenizerError(`${where}: file is ${buf.length} bytes; a llama2.c tokenizer starts with a 4-byte max_token_length`);
  }
  const maxTokenLength = buf.readInt32LE(0);
  if (maxTokenLength <= 0 || maxTokenLength > buf.length) {
    throw new TokenizerError(
      `${where}: max_token_length is ${maxTokenLength}; expected 1..${buf.length} (file size). Is this a llama2.c tokenizer.bin?`,
    );
  }
  const pieces: string[] = [];
  const scores: number[] = [];
  let off = 4;
  while (off < buf.length && (expectedVocab === undefined || pieces.length < expectedVocab)) {
    const i = pieces.length;
    if (off + 8 > buf.length) {
      throw new TokenizerError(`${where}: truncated at piece ${i} (offset ${off}): need 8 bytes for score and length, ${buf.length - off} left`);
    }
    const score = buf.readFloatLE(off);
    const len = buf.readInt32LE(off + 4);
    off += 8;
    if (len < 0 || len > buf.length - off) {
      throw new TokenizerError(
        `${where}: piece ${i} (offset ${off - 4}) has length ${len}; expected 0..${buf.length - off} (bytes left). The file is truncated or not a llama2.c tokenizer`,
      );
    }
    pieces.push(cString(buf.subarray(off, off + len)));
    scores.push(score);
    off += len;
  }
  if (expectedVocab !== undefined && pieces.length < expectedVocab) {
    throw new TokenizerError(`${where}: has ${pieces.length} pieces but the model's vocab_size is ${expectedVocab}; use the tokenizer that belongs to this model`);
  }
  if (pieces.length < BYTE_OFFSET + 256) {
    throw new TokenizerError(`${where}: has ${pieces.length} pieces; expected at least 259 (3 specials + 256 byte fallbacks)`);
  }
  for (let b = 0; b < 256; b++) {
    const p = pieces[BYTE_OFFSET + b];
    if (parseBytePiece(p) !== b) {
      throw new TokenizerError(
        `${where}: piece ${BYTE_OFFSET + b} is ${JSON.stringify(p)}; expected the byte fallback "<0x${b.toString(16).toUpperCase().padStart(2, '0')}>" (llama2.c tokenizers export byte fallbacks at ids 3..258)`,
      );
    }
  }
  return { maxTokenLength, pieces, scores: Float32Array.from(scores) };
}

type Entry = [number, number, number, number, number, number];

/** Max-heap of candidate merges ordered by (score desc, left position asc), as run.c's scan picks. */
class MergeHeap {
  private data: Array<Entry> = [];

  get size(): number {
    return this.data.length;
  }

  private before(a: number, b: number): boolean {
    const x = this.data[a];
    const y = this.data[b];
    return x[0] > y[0] || (x[0] === y[0] && x[1] < y[1]);
  }

  private swap(a: number, b: number): void {
    const t = this.data[a];
    this.data[a] = this.data[b];
    this.data[b] = t;
  }

  /** Entry: [score, leftPos, rightPos, mergedId, leftToken, rightToken] (tokens as when pushed). */
  push(e: Entry): void {
    this.data.push(e);
    let i = this.data.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): Entry {
    const top = this.data[0];
    const last = this.data.pop()!;
    if (this.data.length > 0) {
      this.data[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.data.length && this.before(l, m)) m = l;
        if (r < this.data.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

export interface Llama2cLoadOptions {
  /** The model's vocab_size: run.c reads exactly this many pieces. Default: all pieces in the file. */
  vocabSize?: number;
}

export class Llama2cTokenizer implements Tokenizer {
  readonly kind = 'llama2c';
  readonly vocabSize: number;
  readonly bosId = BOS_ID;
  readonly eosId = EOS_ID;
  /** <unk>: encode never produces it, and pad positions are masked everywhere. */
  readonly padId = UNK_ID;
  readonly hasOwnPad = true;
  readonly maxTokenLength: number;
  /** Piece bytes as latin1 strings (index = id). */
  private readonly pieces: string[];
  private readonly scores: Float32Array;
  /** Piece bytes -> id. On duplicate pieces the lowest id wins (run.c's bsearch leaves it unspecified). */
  private readonly lookup = new Map<string, number>();
  private readonly longestPiece: number;
  /** The file's bytes, written back verbatim by save(). */
  private readonly raw: Buffer;

  constructor(raw: Buffer, where = 'tokenizer.bin', options: Llama2cLoadOptions = {}) {
    const parsed = parseTokenizerBin(raw, where, options.vocabSize);
    this.raw = raw;
    this.pieces = parsed.pieces;
    this.scores = parsed.scores;
    this.maxTokenLength = parsed.maxTokenLength;
    this.vocabSize = parsed.pieces.length;
    let longest = 0;
    parsed.pieces.forEach((p, id) => {
      if (!this.lookup.has(p)) this.lookup.set(p, id);
      longest = Math.max(longest, p.length);
    });
    this.longestPiece = longest;
  }

  static fromFile(file: string, options: Llama2cLoadOptions = {}): Llama2cTokenizer {
    let raw: Buffer;
    try {
      // Bounded: a symlink to /dev/zero or a 10 GB file is refused, not read (real ones are < 10 MB).
      raw = readBoundedFile(file, MAX_TOKENIZER_FILE_BYTES, 'llama2.c tokenizer .bin');
    } catch (e) {
      throw new TokenizerError(e instanceof FileReadError ? e.message : `${file}: cannot read llama2.c tokenizer (${(e as Error).message})`);
    }
    return new Llama2cTokenizer(raw, file, options);
  }

  /** The raw file bytes (what save() writes); used for fingerprints. */
  fileBytes(): Buffer {
    return this.raw;
  }

  /** Piece text of `id` as run.c stores it (a space stands for '▁'); e.g. piece(1) -> "\n<s>\n". */
  piece(id: number): string {
    this.checkId(id);
    return Buffer.from(this.pieces[id], 'latin1').toString('utf8');
  }

  score(id: number): number {
    this.checkId(id);
    return this.scores[id];
  }

  /**
   * run.c's encode(text, bos=0, eos=0): dummy-prefix space when the text is non-empty, one piece per
   * UTF-8 character (or its byte fallbacks, byte + 3), then repeatedly merge the adjacent pair whose
   * concatenation is a piece with the highest score, leftmost on ties. O(n log n) with a heap.
   * Example: "hi" -> [" ", "h", "i"] -> ... -> [" hi"] if those merges exist.
   */
  encode(text: string): number[] {
    return this.encodeBytes(Buffer.from(text, 'utf8'));
  }

  /** Same as encode, on raw bytes (run.c sees a C string: a NUL byte here becomes <0x00>). */
  encodeBytes(bytes: Uint8Array): number[] {
    if (bytes.length === 0) return [];
    const ids = this.initialIds(bytes);
    return this.mergeAll(ids);
  }

  /** Dummy prefix + per-character lookup, following run.c's byte loop (lead byte + up to 3 continuations). */
  private initialIds(bytes: Uint8Array): number[] {
    const space = this.lookup.get(' ');
    if (space === undefined) {
      throw new TokenizerError('llama2.c tokenizer has no " " piece, which run.c needs as the dummy prefix; this tokenizer cannot encode text');
    }
    const ids = [space];
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i] & 0xc0) !== 0x80) start = i;
      const len = i - start + 1;
      const next = i + 1 < bytes.length ? bytes[i + 1] : 0;
      if ((next & 0xc0) === 0x80 && len < 4) continue;
      const ch = Buffer.from(bytes.subarray(start, i + 1));
      const id = ch.includes(0) ? undefined : this.lookup.get(ch.toString('latin1'));
      if (id !== undefined) ids.push(id);
      else for (const b of ch) ids.push(b + BYTE_OFFSET);
      start = i + 1;
    }
    return ids;
  }

  /** The merge candidate for the pair (a, b), or null. */
  private pairMerge(a: number, b: number): { id: number; score: number } | null {
    const pa = this.pieces[a];
    const pb = this.pieces[b];
    if (pa.length + pb.length > this.longestPiece) return null;
    const id = this.lookup.get(pa + pb);
    if (id === undefined) return null;
    const score = this.scores[id];
    return score > MIN_SCORE ? { id, score } : null;
  }

  /**
   * Merges on a doubly linked list. An entry is stale (skipped) once its right node is gone, the two
   * nodes are no longer neighbours, or either node's token changed since it was pushed. Positions never reorder, so the smallest left
   * position among equal scores is the leftmost pair, as run.c's left-to-right scan with `>` picks.
   */
  private mergeAll(ids: number[]): number[] {
    const n = ids.length;
    const tok = ids.slice();
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const alive = new Uint8Array(n).fill(1);
    const heap = new MergeHeap();
    const consider = (l: number, r: number) => {
      if (l < 0 || r < 0) return;
      const m = this.pairMerge(tok[l], tok[r]);
      if (m) heap.push([m.score, l, r, m.id, tok[l], tok[r]]);
    };
    for (let i = 0; i + 1 < n; i++) consider(i, i + 1);
    while (heap.size > 0) {
      const [, l, r, id, leftTok, rightTok] = heap.pop();
      if (!alive[l] || !alive[r] || next[l] !== r || tok[l] !== leftTok || tok[r] !== rightTok) continue;
      tok[l] = id;
      alive[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      consider(prev[l], l);
      consider(l, next[l]);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(tok[i]);
    return out;
  }

  /**
   * run.c's decode(prev, id): after BOS a leading space is stripped; `<0xXX>` pieces are the raw byte.
   * Example: pieceBytes(1, id(" Once")) -> "Once"; pieceBytes(5, 13) -> [0x0A].
   */
  pieceBytes(prevId: number, id: number): Buffer {
    this.checkId(id);
    let p = this.pieces[id];
    if (prevId === BOS_ID && p.startsWith(' ')) p = p.slice(1);
    const b = parseBytePiece(p);
    return b === null ? Buffer.from(p, 'latin1') : Buffer.from([b]);
  }

  /**
   * Text of `ids`: each piece as run.c's decode() gives it (the sequence start counts as "after BOS",
   * so decode(encode(x)) === x), bytes joined across pieces, then UTF-8 decoded. Special ids
   * (<unk>/pad 0, BOS 1, EOS 2) add no text but still count as the previous token.
   * Differs from run.c's printed output only where run.c's safe_printf drops lone non-printable bytes
   * and where run.c would print the text of a special piece; see runcOutput for the exact bytes.
   */
  decode(ids: number[], prevId: number = BOS_ID): string {
    const parts: Buffer[] = [];
    let prev = prevId;
    for (const id of ids) {
      if (id !== UNK_ID && id !== BOS_ID && id !== EOS_ID) parts.push(this.pieceBytes(prev, id));
      else this.checkId(id);
      prev = id;
    }
    return Buffer.concat(parts).toString('utf8');
  }

  /**
   * The exact bytes run.c's generate loop prints for the token stream `ids` (ids[0] is the start
   * token, usually BOS; each later token is printed with `safe_printf(decode(prev, next))`; a later
   * BOS ends the stream as run.c's loop does). safe_printf skips empty pieces and single-byte pieces
   * that are neither printable ASCII nor whitespace (so lone UTF-8 bytes from <0xXX> are dropped).
   * run.c then prints a final "\n", which is not included here.
   */
  runcOutput(ids: number[]): Buffer {
    const parts: Buffer[] = [];
    for (let i = 1; i < ids.length; i++) {
      if (ids[i] === BOS_ID) break;
      const p = this.pieceBytes(ids[i - 1], ids[i]);
      if (p.length === 0) continue;
      if (p.length === 1 && !isPrintOrSpace(p[0])) continue;
      parts.push(p);
    }
    return Buffer.concat(parts);
  }

  save(dir: string): string[] {
    fs.writeFileSync(path.join(dir, LLAMA2C_TOKENIZER_FILE), this.raw);
    return [LLAMA2C_TOKENIZER_FILE];
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`token id ${id} is outside the llama2.c vocabulary 0..${this.vocabSize - 1}`);
    }
  }
}

/** C's `isprint(b) || isspace(b)` in the "C" locale run.c runs in. */
function isPrintOrSpace(b: number): boolean {
  return (b >= 0x20 && b <= 0x7e) || (b >= 0x09 && b <= 0x0d);
}
