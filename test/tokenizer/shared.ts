/** Paths into ../shared (reference material kept beside the repo) and a describe that skips without it. */
import * as fs from 'fs';
import * as path from 'path';

export const SHARED = path.resolve(__dirname, '../../../shared');

export function sharedPath(...parts: string[]): string {
  return path.join(SHARED, ...parts);
}

/** describe() when every file exists, otherwise describe.skip with a printed reason. */
export function describeIfShared(name: string, files: string[], fn: () => void): void {
  const missing = files.filter((f) => !fs.existsSync(sharedPath(f)));
  if (missing.length > 0) {
    // eslint-disable-next-line no-console
    console.warn(`skipping "${name}": ${missing.map((f) => sharedPath(f)).join(', ')} not found (reference files live in ../shared)`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

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
