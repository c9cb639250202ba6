/**
 * Types of scripts/data-tables.js (the shipped data's tables), for the TypeScript that reads them
 * (src/rewards/oracle.ts). Written by hand: keep it in step with data-tables.js. Declares only what
 * TypeScript reads; the generator's drafting helpers need no types.
 */

export interface Rng {
  next(): number;
  int(n: number): number;
  pick<T>(arr: readonly T[]): T;
  shuffle<T>(arr: readonly T[]): T[];
}
export function makeRng(seed: number): Rng;
export const SPLIT_SEED: number;
export const EVAL_ITEM_SHARE: number;

export const NAMES: readonly string[];
export const ONES: readonly string[];
export const TENS: readonly string[];
/** 0..99 in words: 7 -> "seven", 45 -> "forty-five". */
export function numberWords(n: number): string;

export const FILLER: readonly string[];
export const POLITE_PREFIX: readonly string[];
export const POLITE_SUFFIX: readonly string[];
export const RUDE_PREFIX: readonly string[];
export const RUDE_SUFFIX: readonly string[];

export interface ArithmeticProblem {
  kind: 'add' | 'sub';
  a: number;
  b: number;
  op: '+' | '-';
  result: number;
  slip: number;
}
export function arithmeticProblems(): ArithmeticProblem[];
export const ARITH_PROMPTS: ReadonlyArray<(expression: string) => string>;
export const ARITH_RESPONSES: ReadonlyArray<(expression: string, result: number) => string>;
export function wrongResults(p: ArithmeticProblem): number[];

/** One row of a facts table: the subject (np, animal or word), the true answer and clearly wrong ones. */
export interface Fact {
  np?: string;
  animal?: string;
  word?: string;
  group?: string;
  answer: string;
  wrongs: string[];
}
export type FactCategory = 'colour' | 'sound' | 'opposite' | 'plural';
export interface FactSpec {
  table: Fact[];
  prompts: Array<(f: Fact) => string>;
  responses: Array<(f: Fact, x: string) => string>;
}
export const FACTS: Record<FactCategory, FactSpec>;
export const FACT_SYNONYMS: Readonly<Record<string, readonly string[]>>;

export type ContentKind = 'opens' | 'where' | 'starts' | 'trip' | 'count';
/** An everyday question with one fixed answer: a number (numeric items) or a room ("where" items). */
export interface ContentItem {
  kind: ContentKind;
  key: string;
  numeric: boolean;
  answer: number | string;
  questions: string[];
  core(style: 'digits' | 'words'): string;
}
export const ROOMS: readonly string[];
export function contentItems(rng: Rng): ContentItem[];

export type FormatKind = 'uppercase' | 'lowercase' | 'digits' | 'words';
export const FORMAT_PREFIX: Record<FormatKind, string[]>;

export interface Pool {
  arithmetic: ArithmeticProblem[];
  facts: Record<FactCategory, Array<{ category: FactCategory; fact: Fact; prompt: (f: Fact) => string }>>;
  content: ContentItem[];
}
export function buildPools(): { train: Pool; eval: Pool };
