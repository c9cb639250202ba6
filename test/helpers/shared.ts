/**
 * The shared reference folder (stories260K with its golden logits and greedy text, the GPT-2 tokenizer, the
 * politeness data, safetensors samples): `../shared` beside the repository, or RLHF_SHARED when set.
 * `sharedFiles(...)` is the requirement "these files are there" for helpers/gates.ts.
 * Does NOT: copy or commit anything from it (its data stays outside the repository).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Requirement } from './gates';

export const REPO = path.resolve(__dirname, '../..');

/** Where the recipes in recipes/ expect it (they name `../../shared/...` relative to themselves). */
export const SHARED_BESIDE_REPO = path.resolve(REPO, '../shared');

export const SHARED = process.env.RLHF_SHARED ? path.resolve(process.env.RLHF_SHARED) : SHARED_BESIDE_REPO;

/** A path inside the shared folder: sharedPath('models/stories260K', 'tok512.bin'). */
export function sharedPath(...parts: string[]): string {
  return path.join(SHARED, ...parts);
}

/** The requirement "each of `files` (relative to the shared folder) exists". */
export function sharedFiles(...files: string[]): Requirement {
  return filesUnder(SHARED, files, 'the shared reference folder', 'put it beside the repository as ../shared, or point RLHF_SHARED at it');
}

/**
 * The same, under `root`; `what` names the folder in messages and `fix` says how to provide it. The reason
 * names the folder when it is absent, else each missing file: `/work/shared lacks models/x.bin, data/y.json`.
 */
export function filesUnder(root: string, files: string[], what: string, fix: string): Requirement {
  return {
    name: what,
    missing: () => {
      if (!fs.existsSync(root)) return `${root} does not exist`;
      const absent = files.filter((f) => !fs.existsSync(path.join(root, f)));
      return absent.length === 0 ? null : `${root} lacks ${absent.join(', ')}`;
    },
    fix,
  };
}
