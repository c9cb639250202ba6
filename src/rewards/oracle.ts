/**
 * The oracle: a programmatic judge of free-form completions to the shipped data's prompts (the four
 * subsets of data/prefs.jsonl and data/prefs-eval.jsonl). It reads the same tables the generator drew the
 * data from (scripts/data-tables.js), so it judges answers that are not in the data: a sum written in
 * words, a fact phrased otherwise, a format instruction obeyed or not. It is the gold reward of the
 * reward-KL frontier: what optimising against a proxy reward is measured by.
 *
 * Scale: 0..1, higher is better; 1 = right and, where the subset asks for it, polite or obeying the
 * format; 0 = empty, off-topic (the answer is not there) or wrong. The rules per subset, their levels and
 * the penalties for repetition and over-long text are documented in data/README.md ("The oracle").
 * Within a shipped pair the truly better completion always scores strictly higher (test/rewards).
 *
 * Where it sits: io -> model -> rewards -> compare | frontier -> report. This file needs no model at all;
 * compare and frontier may import it, it imports nothing above it.
 *
 * Does NOT: judge prompts outside the shipped data's tables (an OracleError names the prompt), judge
 * truth beyond those tables, or look at tokens or models.
 */
import * as tables from '../../scripts/data-tables';
import type { ArithmeticProblem, ContentItem, Fact, FactCategory, FormatKind } from '../../scripts/data-tables';
import type { RewardSource } from './types';

export type OracleSubset = 'arithmetic' | 'facts' | 'politeness' | 'format';

export interface OracleJudgement {
  /** 0..1, higher is better (levels in data/README.md, "The oracle"). */
  score: number;
  subset: OracleSubset;
  /** The rule that judged it: "<subset>:<kind>", e.g. "arithmetic:add", "facts:plural", "format:words". */
  rule: string;
  /** What the rule found, for a person: "right (13), no other number", "rude marker, content right", ... */
  detail: string;
}

/** A prompt the oracle has no rule for, or inputs that do not line up. */
export class OracleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OracleError';
  }
}

/** Politeness: the content score is multiplied by the tone's level. */
export const TONE_LEVELS = { polite: 1, neutral: 0.6, mixed: 0.3, rude: 0.1 } as const;
/** Format: the content score is multiplied by this when the instruction is not obeyed. */
export const FORMAT_IGNORED_LEVEL = 0.3;
/** A repeated sentence, or a long text of few distinct words, halves the score. */
export const REPETITION_FACTOR = 0.5;
/** Characters allowed before length costs score: twice the data's 80-byte response cap. Beyond it the
 *  score is multiplied by LENGTH_BUDGET / length, so padding never pays and very long text loses. */
export const LENGTH_BUDGET = 160;

// ---------------------------------------------------------------------------------------------
// Reading numbers and words out of free text.

interface Token {
  kind: 'num' | 'word' | 'op';
  /** Lowercased text of the token; a merged "forty five" keeps both words. */
  text: string;
  /** Numbers only: the value and how it was written. */
  value?: number;
  form?: 'digits' | 'words';
}

/** "forty-five" -> 45, "seven" -> 7, "sixty" -> 60, "lamp" -> null (0..99, the tables' range). */
function wordNumber(word: string): number | null {
  const parts = word.split('-');
  const ones = (w: string) => tables.ONES.indexOf(w);
  const tens = (w: string) => (tables.TENS.indexOf(w) >= 2 ? tables.TENS.indexOf(w) * 10 : -1);
  if (parts.length === 1) return ones(word) >= 0 ? ones(word) : tens(word) >= 0 ? tens(word) : null;
  if (parts.length === 2 && tens(parts[0]) >= 0 && ones(parts[1]) >= 1 && ones(parts[1]) <= 9) return tens(parts[0]) + ones(parts[1]);
  return null;
}

/** "4 + 9 = thirteen, forty five" -> num 4, op +, num 9, op =, num 13 (words), num 45 (words). */
function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const re = /(\d+(?:\.\d+)?)|([a-z]+(?:-[a-z]+)*)|([+\-=\u2212])/gi;
  let prevEnd = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const gap = text.slice(prevEnd, m.index);
    prevEnd = m.index + m[0].length;
    if (m[1] !== undefined) {
      out.push({ kind: 'num', text: m[1], value: Number(m[1]), form: 'digits' });
      continue;
    }
    if (m[3] !== undefined) {
      out.push({ kind: 'op', text: m[3] === '\u2212' ? '-' : m[3] });
      continue;
    }
    const word = m[2].toLowerCase();
    const value = wordNumber(word);
    const last = out[out.length - 1];
    // "forty five": a tens word, one space, a unit word read as one number.
    if (value !== null && value >= 1 && value <= 9 && gap === ' ' && last?.form === 'words' && last.value! >= 20 && last.value! % 10 === 0 && !last.text.includes(' ')) {
      last.value! += value;
      last.text = `${last.text} ${word}`;
      continue;
    }
    out.push(value === null ? { kind: 'word', text: word } : { kind: 'num', text: word, value, form: 'words' });
  }
  return out;
}

const numbersIn = (text: string): Token[] => tokenize(text).filter((t) => t.kind === 'num');

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A word or phrase as a whole word, case-insensitive, flexible spaces: "thank you" matches "Thank  you!". */
function wordRe(phrase: string, flags = 'i'): RegExp {
  const body = phrase.trim().split(/\s+/).map((w) => escapeRe(w).replace(/'/g, "'?")).join('\\s+');
  return new RegExp(`(?<![a-z'])${body}(?![a-z'])`, flags);
}

/** The data's filler sentences ("Hope this helps.") carry no content by construction; content rules
 *  read the text without them, so "Have a nice day." is not an answer to "the opposite of night". */
const FILLER_RES = tables.FILLER.map((f) => wordRe(f.replace(/[.!?]$/, ''), 'gi'));
/** The text content rules read: without filler, and without list markers at line starts ("1. ", "- "),
 *  whose numbers are not answers. */
const contentText = (text: string) => FILLER_RES.reduce((t, re) => t.replace(re, ' '), text)
  .replace(/^[ \t]*(?:[-*+]|\d+[.)])[ \t]+/gm, '');

const sentencesOf = (text: string) => text.split(/(?<=[.!?])\s+|\n+/)
  .map((s) => s.toLowerCase().replace(/[^a-z0-9']+/g, ' ').trim()).filter((s) => s !== '');

/** Why the text counts as repetitive, or null: a sentence said twice, or >= 8 words of which under half distinct. */
function repetition(text: string): string | null {
  const seen = new Set<string>();
  for (const s of sentencesOf(text)) {
    if (seen.has(s)) return `sentence "${s.slice(0, 40)}" repeated`;
    seen.add(s);
  }
  const words = text.toLowerCase().match(/[a-z0-9']+/g) ?? [];
  const distinct = new Set(words).size;
  return words.length >= 8 && distinct / words.length < 0.5 ? `${words.length} words, ${distinct} distinct` : null;
}

/** Score 1/k when the right value is among k distinct values found, else 0: naming every candidate does not pay. */
function amongFound<T>(right: T, found: T[], show: (x: T) => string): { score: number; detail: string } {
  const distinct = [...new Set(found)];
  if (distinct.length === 0) return { score: 0, detail: 'no answer found (off-topic)' };
  if (!distinct.includes(right)) return { score: 0, detail: `wrong: ${distinct.map(show).join(', ')} (right: ${show(right)})` };
  if (distinct.length === 1) return { score: 1, detail: `right (${show(right)})` };
  const others = distinct.filter((x) => x !== right).map(show).join(', ');
  return { score: 1 / distinct.length, detail: `right (${show(right)}) among ${distinct.length} answers (also ${others})` };
}

// ---------------------------------------------------------------------------------------------
// Rules, one per subset. Each returns the base score before the repetition and length penalties.

interface Base {
  score: number;
  detail: string;
}

/** The right result anywhere, as digits or words; operands of an echoed "a op b" are not answers. */
function judgeArithmetic(p: ArithmeticProblem, text: string): Base {
  // "take away" is read as one operator word, so "9 take away 2" echoes the problem like "9 - 2".
  const toks = tokenize(text).filter((t, i, all) => !(t.text === 'away' && all[i - 1]?.text === 'take'));
  const opWords = p.op === '+' ? ['+', 'plus', 'and'] : ['-', 'minus', 'take', 'and'];
  const isOperands = (x: number, y: number, op: string) =>
    (x === p.a && y === p.b) || ((p.op === '+' || op === 'and') && x === p.b && y === p.a);
  const operand = new Set<number>();
  for (let i = 0; i + 2 < toks.length; i++) {
    const [x, op, y] = [toks[i], toks[i + 1], toks[i + 2]];
    if (x.kind === 'num' && y.kind === 'num' && opWords.includes(op.text) && isOperands(x.value!, y.value!, op.text)) {
      operand.add(i).add(i + 2);
    }
  }
  const answers = toks.flatMap((t, i) => (t.kind === 'num' && !operand.has(i) ? [t.value!] : []));
  return amongFound(p.result, answers, String);
}

/** Precomputed per fact: which words are its answer, which are wrong answers (base word by form). */
interface FactJudge {
  category: FactCategory;
  answer: string;
  answerRes: RegExp[];
  wrongRes: Array<{ base: string; re: RegExp }>;
  /** Only when the answer is the subject word itself (sheep, deer): the echo "of sheep" / "one sheep" to drop. */
  echoRe: RegExp | null;
}

/** "barks" -> barks, bark, barking; "buzzes" -> buzzes, buzz, buzzing (sound verbs only). */
function verbForms(verb: string): string[] {
  const bare = /(ss|sh|ch|x|zz)es$/.test(verb) ? verb.slice(0, -2) : verb.replace(/s$/, '');
  return [verb, bare, `${bare}ing`];
}

function formsOf(category: FactCategory, word: string): string[] {
  const forms = [word, ...(tables.FACT_SYNONYMS[word] ?? [])];
  return category === 'sound' ? [...new Set(forms.flatMap(verbForms))] : forms;
}

function subjectOf(category: FactCategory, fact: Fact): string[] {
  if (category === 'colour') return fact.np!.split(' ');
  if (category === 'sound') return [fact.animal!, `${fact.animal!}s`];
  return formsOf(category, fact.word!);
}

function factJudge(category: FactCategory, fact: Fact): FactJudge {
  const answerForms = formsOf(category, fact.answer);
  const subject = subjectOf(category, fact);
  const vocabulary = new Map<string, string>(); // form -> base word of the table
  for (const row of tables.FACTS[category].table) {
    for (const base of [row.answer, ...row.wrongs]) for (const form of formsOf(category, base)) vocabulary.set(form, base);
  }
  const wrongRes = [...vocabulary].filter(([form, base]) => base !== fact.answer && !answerForms.includes(form) && !subject.includes(form))
    .map(([form, base]) => ({ base, re: wordRe(form) }));
  const echoRe = category === 'plural' && fact.answer === fact.word
    ? new RegExp(`(?<![a-z'])(?:of|one)\\s+${escapeRe(fact.word)}(?![a-z'])`, 'gi') : null;
  return { category, answer: fact.answer, answerRes: answerForms.map((f) => wordRe(f)), wrongRes, echoRe };
}

/** The right entity (or a synonym) anywhere; other entities of the same table are wrong answers. */
function judgeFact(f: FactJudge, text: string): Base {
  const answerText = f.echoRe === null ? text : text.replace(f.echoRe, ' ');
  const found = [
    ...(f.answerRes.some((re) => re.test(answerText)) ? [f.answer] : []),
    ...f.wrongRes.filter(({ re }) => re.test(text)).map(({ base }) => base),
  ];
  return amongFound(f.answer, found, (x) => x);
}

/** The content item's fixed answer: its number (digits or words) or its room; others found are wrong. */
function judgeContent(item: ContentItem, text: string): Base {
  if (item.numeric) return amongFound(item.answer as number, numbersIn(text).map((t) => t.value!), String);
  const rooms = tables.ROOMS.filter((room) => wordRe(room).test(text));
  return amongFound(item.answer as string, rooms, (x) => x);
}

/** One-word markers ("Sure!", "Ugh.") count only where a sentence or clause starts, so "I am not sure"
 *  is not polite; longer ones ("thank you", "go away") count anywhere. */
function markerRe(marker: string): RegExp {
  const words = marker.toLowerCase().replace(/[^a-z' ]+/g, ' ').trim();
  if (words.includes(' ')) return wordRe(words);
  return new RegExp(`(?:^|[.!?,;:\\n])\\s*${escapeRe(words)}(?![a-z'])`, 'i');
}
const POLITE_RES = [...tables.POLITE_PREFIX, ...tables.POLITE_SUFFIX].map(markerRe);
const RUDE_RES = [...tables.RUDE_PREFIX, ...tables.RUDE_SUFFIX].map(markerRe);

function judgePoliteness(item: ContentItem, text: string, content: string): Base {
  const c = judgeContent(item, content);
  if (c.score === 0) return c;
  const polite = POLITE_RES.some((re) => re.test(text));
  const rude = RUDE_RES.some((re) => re.test(text));
  const tone = polite && rude ? 'mixed' : polite ? 'polite' : rude ? 'rude' : 'neutral';
  return { score: c.score * TONE_LEVELS[tone], detail: `${tone}; content ${c.detail}` };
}

/** Whether the whole text obeys the format instruction, and why not. */
function obeys(kind: FormatKind, text: string): string | null {
  const nums = numbersIn(text);
  if (kind === 'uppercase') return !/[A-Za-z]/.test(text) ? 'no letters' : /[a-z]/.test(text) ? 'has lowercase letters' : null;
  if (kind === 'lowercase') return !/[A-Za-z]/.test(text) ? 'no letters' : /[A-Z]/.test(text) ? 'has capital letters' : null;
  const want = kind === 'digits' ? 'digits' : 'words';
  if (!nums.some((t) => t.form === want)) return `no number written in ${want}`;
  const other = nums.find((t) => t.form !== want);
  return other === undefined ? null : `"${other.text}" is not written in ${want}`;
}

function judgeFormat(kind: FormatKind, item: ContentItem, text: string, content: string): Base {
  const c = judgeContent(item, content);
  if (c.score === 0) return c;
  const why = obeys(kind, text);
  return why === null
    ? { score: c.score, detail: `${kind} obeyed; content ${c.detail}` }
    : { score: c.score * FORMAT_IGNORED_LEVEL, detail: `${kind} not obeyed (${why}); content ${c.detail}` };
}

// ---------------------------------------------------------------------------------------------
// Prompt -> rule, built once from the tables: every prompt the generator can write.

type Target =
  | { subset: 'arithmetic'; rule: string; problem: ArithmeticProblem }
  | { subset: 'facts'; rule: string; fact: FactJudge }
  | { subset: 'politeness'; rule: string; item: ContentItem }
  | { subset: 'format'; rule: string; kind: FormatKind; item: ContentItem };

const promptKey = (prompt: string) => prompt.trim().replace(/\s+/g, ' ');

let index: Map<string, Target> | null = null;

function buildIndex(): Map<string, Target> {
  const out = new Map<string, Target>();
  const add = (prompt: string, target: Target) => {
    const key = promptKey(prompt);
    // Two rules for one prompt would make the score depend on table order; the tables must not allow it.
    if (out.has(key)) throw new Error(`scripts/data-tables.js: prompt "${key}" belongs to two rules (${out.get(key)!.rule}, ${target.rule}); make the templates distinct`);
    out.set(key, target);
  };
  for (const problem of tables.arithmeticProblems()) {
    const target: Target = { subset: 'arithmetic', rule: `arithmetic:${problem.kind}`, problem };
    for (const template of tables.ARITH_PROMPTS) add(template(`${problem.a} ${problem.op} ${problem.b}`), target);
  }
  for (const [category, spec] of Object.entries(tables.FACTS) as Array<[FactCategory, tables.FactSpec]>) {
    for (const fact of spec.table) {
      const target: Target = { subset: 'facts', rule: `facts:${category}`, fact: factJudge(category, fact) };
      for (const template of spec.prompts) add(template(fact), target);
    }
  }
  const pools = tables.buildPools();
  const items = [...pools.train.content, ...pools.eval.content];
  for (const item of items) {
    for (const q of item.questions) add(q, { subset: 'politeness', rule: `politeness:${item.kind}`, item });
  }
  for (const [kind, prefixes] of Object.entries(tables.FORMAT_PREFIX) as Array<[FormatKind, string[]]>) {
    const numericOnly = kind === 'digits' || kind === 'words';
    for (const item of items.filter((i) => i.numeric || !numericOnly)) {
      for (const prefix of prefixes) for (const q of item.questions) add(`${prefix} ${q}`, { subset: 'format', rule: `format:${kind}`, kind, item });
    }
  }
  return out;
}

function targetOf(prompt: string): Target {
  index ??= buildIndex();
  const target = index.get(promptKey(prompt));
  if (target !== undefined) return target;
  const shown = prompt.length > 60 ? `${prompt.slice(0, 60)}...` : prompt;
  throw new OracleError(`oracle: no rule for the prompt ${JSON.stringify(shown)}; the oracle judges only the prompts of the shipped data's tables `
    + '(scripts/data-tables.js, e.g. data/prefs-eval.jsonl); use another reward for other prompts');
}

/** Whether the oracle has a rule for this prompt (oracleScore would not throw for it). */
export function isOraclePrompt(prompt: string): boolean {
  index ??= buildIndex();
  return index.has(promptKey(prompt));
}

/** The number of distinct prompts the oracle can judge (all the generator can write, not only those shipped). */
export function oraclePromptCount(): number {
  index ??= buildIndex();
  return index.size;
}

// ---------------------------------------------------------------------------------------------

/**
 * Judges one completion: ("What is 6 + 8?", "Fourteen.") -> {score: 1, subset: "arithmetic",
 * rule: "arithmetic:add", detail: "right (14)"}. Throws OracleError for a prompt it has no rule for.
 */
export function oracleScore(prompt: string, completion: string): OracleJudgement {
  const target = targetOf(prompt);
  const { subset, rule } = target;
  if (completion.trim() === '') return { score: 0, subset, rule, detail: 'empty completion' };
  const content = contentText(completion);
  const base = target.subset === 'arithmetic' ? judgeArithmetic(target.problem, content)
    : target.subset === 'facts' ? judgeFact(target.fact, content)
      : target.subset === 'politeness' ? judgePoliteness(target.item, completion, content)
        : judgeFormat(target.kind, target.item, completion, content);
  let score = base.score;
  const notes = [base.detail];
  const repeated = repetition(completion);
  if (repeated !== null && score > 0) {
    score *= REPETITION_FACTOR;
    notes.push(`repetitive (${repeated}): x${REPETITION_FACTOR}`);
  }
  if (completion.length > LENGTH_BUDGET && score > 0) {
    score *= LENGTH_BUDGET / completion.length;
    notes.push(`${completion.length} chars > ${LENGTH_BUDGET}: x${(LENGTH_BUDGET / completion.length).toFixed(3)}`);
  }
  return { score, subset, rule, detail: notes.join('; ') };
}

/** The oracle as a reward source: one score per (prompt, completion), the same as oracleScore(...).score. */
export const oracleReward: RewardSource = {
  name: 'oracle',
  async score(prompts: readonly string[], completions: readonly string[]): Promise<number[]> {
    if (prompts.length !== completions.length) {
      throw new OracleError(`oracle: ${prompts.length} prompts but ${completions.length} completions; pass one completion per prompt, in the same order`);
    }
    return prompts.map((p, i) => oracleScore(p, completions[i]).score);
  },
};
