/**
 * "Did you mean ...?" helpers shared by every place that names a user's typo: recipe keys, flags,
 * file and folder names.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The candidate within edit distance 3 (or a case-insensitive / separator-insensitive match), if any. */
export function closest(word: string, candidates: string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = norm(c) === norm(word) ? 0 : editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(1, Math.min(3, Math.floor(word.length / 3))) ? best : null;
}

/** Levenshtein distance. Example: editDistance("dpo-tinny", "dpo-tiny") -> 1. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length][b.length];
}

/** The path of a file or folder beside `file` whose name is close to its name, or null (also when the folder is gone). */
export function closestSibling(file: string): string | null {
  const dir = path.dirname(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return null;
  }
  const near = closest(path.basename(file), names);
  return near ? path.join(dir, near) : null;
}

/** " (did you mean prefs.jsonl?)" when a file in the same folder has a close name. */
export function suggestSibling(file: string): string {
  const near = closestSibling(file);
  return near ? ` (did you mean ${near}?)` : '';
}
