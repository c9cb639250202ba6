/**
 * Byte-level tokenizer: the default for models trained from scratch.
 * ids 0..2 are specials (<pad>=0, <bos>=1, <eos>=2); byte b has id b + 3, so vocabSize = 259.
 * Example: encode("hi") -> [107, 108]; decode([1, 107, 108, 2]) -> "hi" (specials are dropped).
 * Does NOT merge bytes into larger pieces: sequences are as long as the UTF-8 text.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Tokenizer } from './types';

export const BYTE_TOKENIZER_FILE = 'byte_tokenizer.json';
const OFFSET = 3;

export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte';
  readonly vocabSize = 256 + OFFSET;
  readonly padId = 0;
  readonly hasOwnPad = true; // <pad> is never a byte
  readonly bosId = 1;
  readonly eosId = 2;

  encode(text: string): number[] {
    return Array.from(Buffer.from(text, 'utf8'), (b) => b + OFFSET);
  }

  decode(ids: number[]): string {
    const bytes = ids.filter((id) => id >= OFFSET && id < this.vocabSize).map((id) => id - OFFSET);
    return Buffer.from(bytes).toString('utf8');
  }

  save(dir: string): string[] {
    const spec = { format: 'rlhf-byte-tokenizer/v1', pad_id: 0, bos_id: 1, eos_id: 2, byte_offset: OFFSET };
    fs.writeFileSync(path.join(dir, BYTE_TOKENIZER_FILE), JSON.stringify(spec, null, 2) + '\n');
    return [BYTE_TOKENIZER_FILE];
  }
}
