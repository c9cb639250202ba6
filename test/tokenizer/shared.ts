/** The tokenizer vectors of stories260K (models/stories260K/tokenizer-vectors.jsonl in the shared folder). */
import * as fs from 'fs';
import { sharedPath } from '../helpers/shared';

export { SHARED, sharedFiles, sharedPath } from '../helpers/shared';

export interface Vector {
  text: string;
  ids: number[];
}

export function readVectors(): Vector[] {
  return fs
    .readFileSync(sharedPath('models/stories260K/tokenizer-vectors.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Vector);
}
