/**
 * Helpers for the shipped-data tests: read the committed files and the data card's generated tables.
 * Does NOT share code with scripts/generate-data.js on purpose: the tests recompute every number on
 * their own, so a bug in the generator's statistics cannot hide itself.
 */
import * as fs from 'fs';
import * as path from 'path';

export const REPO = path.resolve(__dirname, '../..');
export const DATA = path.join(REPO, 'data');
export const GENERATOR = path.join(REPO, 'scripts', 'generate-data.js');

export interface Pair {
  id: string;
  prompt: string;
  chosen: string;
  rejected: string;
  subset: string;
  kind: string;
  ground_truth: string;
  chosen_longer: boolean;
}
export interface Probe {
  probe: string;
  prompt: string;
  a: string;
  b: string;
}

/** Parses a JSONL file, naming file:line when a line is not JSON. */
export function readJsonl<T>(file: string): T[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line, i) => {
    try {
      return JSON.parse(line) as T;
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not JSON (${(err as Error).message})`);
    }
  });
}

export const readPairs = (name: string): Pair[] => readJsonl<Pair>(path.join(DATA, name));

/**
 * Probe sets built from templates (data/probes/templates/<probe>.json, `rlhf probe build`) rather than by
 * scripts/generate-data.js; their own tests are test/data/probe-sets.test.ts.
 */
export function templateProbeFiles(): string[] {
  const dir = path.join(DATA, 'probes', 'templates');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => `${f}l`).sort() : [];
}

/** The probe files scripts/generate-data.js writes: every probes/*.jsonl without a template. */
export function probeFiles(): string[] {
  const templated = templateProbeFiles();
  return fs.readdirSync(path.join(DATA, 'probes')).filter((f) => f.endsWith('.jsonl') && !templated.includes(f)).sort();
}

/** The files under data/ that scripts/generate-data.js writes (not the template-built probe sets, their templates or their card). */
export function generatorFiles(): string[] {
  const templated = new Set([...templateProbeFiles().map((f) => `probes/${f}`), 'probes/README.md']);
  return listFiles(DATA).filter((rel) => !rel.startsWith('probes/templates/') && !templated.has(rel));
}

/** All files under dir, as sorted paths relative to dir. */
export function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  ).sort();
}

/** The markdown table rows (cells trimmed) of the card's generated block whose cell count is n. */
export function cardRows(n: number): string[][] {
  const card = fs.readFileSync(path.join(DATA, 'README.md'), 'utf8');
  const begin = card.indexOf('<!-- BEGIN GENERATED STATS');
  const end = card.indexOf('<!-- END GENERATED STATS -->');
  if (begin < 0 || end < begin) throw new Error('data/README.md: generated statistics block not found');
  return card.slice(begin, end).split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| file '))
    .map((l) => l.slice(1, -1).split('|').map((c) => c.trim()))
    .filter((cells) => cells.length === n);
}

export const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
export const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
/** Splits after sentence punctuation: "Sure! It is 3. Hope." -> ["Sure!", "It is 3.", "Hope."] */
export const sentences = (s: string): string[] => s.split(/(?<=[.!?]) /);
