/**
 * Preference formats: recognises which of the common layouts a record uses (by its fields) and
 * turns one raw record into the normal form of types.ts, or throws a DataError saying which field is
 * wrong and what was expected. Layouts:
 *  - explicit:     {prompt, chosen, rejected}; strings, or lists of {role, content} messages
 *                  (a string completion beside a message-list prompt becomes one assistant message;
 *                  a string prompt beside whole conversations, as in UltraFeedback-binarized, gives way
 *                  to the conversations' common leading messages; beside bare answers it becomes a user message)
 *  - implicit:     {chosen, rejected} whole transcripts. Strings (HH-RLHF): prompt = the common prefix
 *                  through its last "\n\nAssistant:"; without that marker the prompt is empty and the
 *                  record is counted as `noPromptFound`. Message lists: prompt = the common leading messages.
 *  - instruction:  {instruction, input?, output?, chosen, rejected} (`output` is the SFT target and is not
 *                  used); the prompt is built by `instructionPrompt` (see there for the template)
 *  - sharegpt:     {conversations: [{from, value}], chosen: {from, value}, rejected: {from, value}}
 *  - pretokenized: {prompt_input_ids?, chosen_input_ids, rejected_input_ids}: lists of token ids used as given
 *                  (no BOS/EOS added); text fields, when present, are kept for reports
 * Shared optional fields: `margin` (number), `subset` | `category` | `source` (string label; a `source`
 * of the form `path:N` is read as provenance written by `data convert`, not as a label), `id`.
 * Does NOT tokenise or render chat templates (render.ts and collate.ts do).
 */
import { DataError, describeType } from './errors';
import type { ChatMessage, PreferenceRecord, Text } from './types';

/**
 * The one vocabulary of record formats: every command's --format and the recipe's data.format take
 * FORMAT_CHOICES, and readers resolve them with forcedFormat. A new format is added here (name, shape,
 * detection, normaliser) and nowhere else.
 */
export const FORMAT_NAMES = ['explicit', 'implicit', 'instruction', 'sharegpt', 'pretokenized'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

/** Other words for a format (TRL's dataset-type names): conversational records are explicit ones with message lists. */
export const FORMAT_ALIASES = { conversational: 'explicit', tokenized: 'pretokenized' } as const satisfies Record<string, FormatName>;

/** What a person may write for a format: auto (recognise by content), a format name, or an alias. */
export type FormatChoice = 'auto' | FormatName | keyof typeof FORMAT_ALIASES;
export const FORMAT_CHOICES: readonly [FormatChoice, ...FormatChoice[]] = [
  'auto', ...FORMAT_NAMES, ...(Object.keys(FORMAT_ALIASES) as (keyof typeof FORMAT_ALIASES)[]),
];

/** The help text of --format and data.format. */
export const FORMAT_DESCRIPTION = `Record format: auto recognises it by content; or one of ${FORMAT_NAMES.join(', ')} (${Object.entries(FORMAT_ALIASES).map(([a, f]) => `${a} = ${f}`).join(', ')}).`;

/**
 * The format a --format / data.format value forces; undefined for auto or none (recognised per file).
 * Example: forcedFormat('tokenized') -> 'pretokenized'; forcedFormat('auto') -> undefined.
 */
export function forcedFormat(choice: string | undefined): FormatName | undefined {
  if (choice === undefined || choice === 'auto') return undefined;
  if ((FORMAT_NAMES as readonly string[]).includes(choice)) return choice as FormatName;
  if (Object.prototype.hasOwnProperty.call(FORMAT_ALIASES, choice)) return FORMAT_ALIASES[choice as keyof typeof FORMAT_ALIASES];
  throw new DataError('--format', `unknown record format "${choice}"; expected one of ${FORMAT_CHOICES.join(', ')}`, true);
}

/** What each format looks like, for "expected ..." in messages. */
export const FORMAT_SHAPES: Record<FormatName, string> = {
  explicit: '{prompt, chosen, rejected} (strings or lists of {role, content})',
  implicit: '{chosen, rejected} (whole transcripts, e.g. HH-RLHF "\\n\\nHuman: ... \\n\\nAssistant: ...")',
  instruction: '{instruction, input?, chosen, rejected}',
  sharegpt: '{conversations: [{from, value}], chosen: {from, value}, rejected: {from, value}}',
  pretokenized: '{prompt_input_ids?, chosen_input_ids, rejected_input_ids} (lists of token ids)',
};
const ALL_SHAPES = FORMAT_NAMES.map((f) => FORMAT_SHAPES[f]).join(' or ');

/** Things about a record worth counting that do not make it invalid. */
export interface RecordNotes {
  noPromptFound?: boolean;
}

export const HH_ASSISTANT = '\n\nAssistant:';

/**
 * The prompt for instruction-style records (an Alpaca-like layout; the Input block is left out when
 * `input` is empty). Example: instructionPrompt('Add 2 and 3.', '') ->
 * "### Instruction:\nAdd 2 and 3.\n\n### Response:\n"
 */
export function instructionPrompt(instruction: string, input: string): string {
  const inputBlock = input.trim() === '' ? '' : `### Input:\n${input}\n\n`;
  return `### Instruction:\n${instruction}\n\n${inputBlock}### Response:\n`;
}

/** The format a record's fields suggest, or null. Order matters: the most specific layout first. */
export function detectFormat(v: unknown): FormatName | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if ('chosen_input_ids' in o || 'rejected_input_ids' in o) return 'pretokenized';
  if ('conversations' in o) return 'sharegpt';
  if ('instruction' in o) return 'instruction';
  if ('prompt' in o) return 'explicit';
  if ('chosen' in o || 'rejected' in o) return 'implicit';
  return null;
}

/** Error for a record whose format cannot be recognised, listing its fields. */
export function unrecognised(where: string, v: unknown): DataError {
  const found = v !== null && typeof v === 'object' && !Array.isArray(v) ? `fields {${Object.keys(v).join(', ')}}` : describeType(v);
  return new DataError(where, `cannot recognise the record's format from ${found}; expected ${ALL_SHAPES}`);
}

interface Ctx {
  where: string;
  /** Appended to "expected ..." so the reader learns how the format was chosen. */
  how: string;
  format: FormatName;
}

function fail(ctx: Ctx, what: string, expected: string): never {
  throw new DataError(ctx.where, `${what}; expected ${expected} (format "${ctx.format}"${ctx.how})`);
}

function field(o: Record<string, unknown>, name: string, ctx: Ctx): unknown {
  if (!(name in o) || o[name] === undefined) fail(ctx, `field "${name}" is missing`, FORMAT_SHAPES[ctx.format]);
  return o[name];
}

function str(v: unknown, name: string, ctx: Ctx): string {
  if (typeof v !== 'string') fail(ctx, `field "${name}" is ${describeType(v)}`, 'a string');
  return v;
}

function messages(v: unknown[], name: string, ctx: Ctx, keys: [string, string] = ['role', 'content']): ChatMessage[] {
  return v.map((m, i) => {
    const at = `${name}[${i}]`;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) fail(ctx, `field "${at}" is ${describeType(m)}`, `a message {${keys.join(', ')}}`);
    const o = m as Record<string, unknown>;
    for (const k of keys) if (typeof o[k] !== 'string') fail(ctx, `field "${at}.${k}" is ${describeType(o[k])}`, 'a string');
    const role = keys[0] === 'from' ? shareGptRole(o.from as string) : (o.role as string);
    return { role, content: o[keys[1]] as string };
  });
}

/** A string or a message list. */
function text(v: unknown, name: string, ctx: Ctx): Text {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return messages(v, name, ctx);
  return fail(ctx, `field "${name}" is ${describeType(v)}`, 'a string or a list of {role, content} messages');
}

const SHAREGPT_ROLES: Record<string, string> = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', chatgpt: 'assistant', system: 'system' };
function shareGptRole(from: string): string {
  return SHAREGPT_ROLES[from.toLowerCase()] ?? from;
}

function ids(v: unknown, name: string, ctx: Ctx): number[] {
  if (!Array.isArray(v)) fail(ctx, `field "${name}" is ${describeType(v)}`, 'a list of token ids (integers >= 0)');
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) fail(ctx, `field "${name}[${i}]" is ${JSON.stringify(x)}`, 'a token id (an integer >= 0)');
  }
  return v as number[];
}

/** Splits HH-RLHF style transcripts. Example: ("\n\nHuman: hi\n\nAssistant: yo", "\n\nHuman: hi\n\nAssistant: no") -> prompt "\n\nHuman: hi\n\nAssistant:". */
export function splitImplicitStrings(chosen: string, rejected: string): { prompt: string; chosen: string; rejected: string } | null {
  let common = 0;
  const n = Math.min(chosen.length, rejected.length);
  while (common < n && chosen.charCodeAt(common) === rejected.charCodeAt(common)) common++;
  const at = chosen.lastIndexOf(HH_ASSISTANT, common - HH_ASSISTANT.length);
  if (at < 0 || common < HH_ASSISTANT.length) return null;
  const cut = at + HH_ASSISTANT.length;
  return { prompt: chosen.slice(0, cut), chosen: chosen.slice(cut), rejected: rejected.slice(cut) };
}

function sameMessage(a: ChatMessage, b: ChatMessage): boolean {
  return a.role === b.role && a.content === b.content;
}

function normalizeImplicit(o: Record<string, unknown>, ctx: Ctx, notes: RecordNotes): Pick<PreferenceRecord, 'prompt' | 'chosen' | 'rejected'> {
  const chosen = text(field(o, 'chosen', ctx), 'chosen', ctx);
  const rejected = text(field(o, 'rejected', ctx), 'rejected', ctx);
  if (typeof chosen === 'string' && typeof rejected === 'string') {
    const split = splitImplicitStrings(chosen, rejected);
    if (split) return split;
    notes.noPromptFound = true;
    return { prompt: '', chosen, rejected };
  }
  if (typeof chosen === 'string' || typeof rejected === 'string') {
    fail(ctx, 'fields "chosen" and "rejected" mix a string and a message list', 'both strings or both message lists');
  }
  return splitMessages(chosen as ChatMessage[], rejected as ChatMessage[], notes);
}

/** Whole conversations → prompt = their common leading messages, backed up so each completion starts at an assistant turn. */
function splitMessages(c: ChatMessage[], r: ChatMessage[], notes: RecordNotes): Pick<PreferenceRecord, 'prompt' | 'chosen' | 'rejected'> {
  let k = 0;
  while (k < c.length && k < r.length && sameMessage(c[k], r[k])) k++;
  while (k > 0 && c[k]?.role !== 'assistant') k--;
  if (k === 0 && c[0]?.role !== 'assistant') notes.noPromptFound = true;
  return { prompt: c.slice(0, k), chosen: c.slice(k), rejected: r.slice(k) };
}

function normalizeExplicit(o: Record<string, unknown>, ctx: Ctx, notes: RecordNotes): Pick<PreferenceRecord, 'prompt' | 'chosen' | 'rejected'> {
  const prompt = text(field(o, 'prompt', ctx), 'prompt', ctx);
  const chosen = text(field(o, 'chosen', ctx), 'chosen', ctx);
  const rejected = text(field(o, 'rejected', ctx), 'rejected', ctx);
  const asList = (t: Text): ChatMessage[] => (typeof t === 'string' ? [{ role: 'assistant', content: t }] : t);
  if (Array.isArray(prompt)) return { prompt, chosen: asList(chosen), rejected: asList(rejected) };
  if (typeof chosen === 'string' && typeof rejected === 'string') return { prompt, chosen, rejected };
  // A string prompt beside message lists: either the lists hold whole conversations (the
  // UltraFeedback-binarized layout, whose string prompt repeats the first user turn) or just the answers.
  const c = asList(chosen), r = asList(rejected);
  if (c[0]?.role === 'assistant' && r[0]?.role === 'assistant') return { prompt: [{ role: 'user', content: prompt }], chosen: c, rejected: r };
  return splitMessages(c, r, notes);
}

function normalizeInstruction(o: Record<string, unknown>, ctx: Ctx): Pick<PreferenceRecord, 'prompt' | 'chosen' | 'rejected'> {
  const instruction = str(field(o, 'instruction', ctx), 'instruction', ctx);
  const input = o.input === undefined || o.input === null ? '' : str(o.input, 'input', ctx);
  return {
    prompt: instructionPrompt(instruction, input),
    chosen: str(field(o, 'chosen', ctx), 'chosen', ctx),
    rejected: str(field(o, 'rejected', ctx), 'rejected', ctx),
  };
}

function shareGptTurn(v: unknown, name: string, ctx: Ctx): ChatMessage[] {
  if (typeof v === 'string') return [{ role: 'assistant', content: v }];
  if (Array.isArray(v)) return messages(v, name, ctx, ['from', 'value']);
  return messages([v], name, ctx, ['from', 'value']);
}

function normalizeShareGpt(o: Record<string, unknown>, ctx: Ctx): Pick<PreferenceRecord, 'prompt' | 'chosen' | 'rejected'> {
  const conv = field(o, 'conversations', ctx);
  if (!Array.isArray(conv)) fail(ctx, `field "conversations" is ${describeType(conv)}`, 'a list of {from, value} turns');
  return {
    prompt: messages(conv, 'conversations', ctx, ['from', 'value']),
    chosen: shareGptTurn(field(o, 'chosen', ctx), 'chosen', ctx),
    rejected: shareGptTurn(field(o, 'rejected', ctx), 'rejected', ctx),
  };
}

function normalizePretokenized(o: Record<string, unknown>, ctx: Ctx): Omit<PreferenceRecord, 'id' | 'source'> {
  const optText = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : '');
  return {
    prompt: optText('prompt'),
    chosen: optText('chosen'),
    rejected: optText('rejected'),
    promptIds: o.prompt_input_ids === undefined || o.prompt_input_ids === null ? [] : ids(o.prompt_input_ids, 'prompt_input_ids', ctx),
    chosenIds: ids(field(o, 'chosen_input_ids', ctx), 'chosen_input_ids', ctx),
    rejectedIds: ids(field(o, 'rejected_input_ids', ctx), 'rejected_input_ids', ctx),
  };
}

/** Matches a provenance `path:N` (what `data convert` writes as `source`). */
const PROVENANCE = /:\d+$/;

function extras(o: Record<string, unknown>, ctx: Ctx): Pick<PreferenceRecord, 'margin' | 'subset' | 'id'> {
  const out: Pick<PreferenceRecord, 'margin' | 'subset' | 'id'> = { id: ctx.where };
  if (o.margin !== undefined && o.margin !== null) {
    if (typeof o.margin !== 'number' || !Number.isFinite(o.margin)) fail(ctx, `field "margin" is ${JSON.stringify(o.margin)}`, 'a finite number');
    out.margin = o.margin;
  }
  for (const k of ['subset', 'category', 'source']) {
    const s = o[k];
    if (s === undefined || s === null) continue;
    if (typeof s !== 'string') fail(ctx, `field "${k}" is ${describeType(s)}`, 'a string label');
    if (k === 'source' && PROVENANCE.test(s)) continue;
    out.subset = s;
    break;
  }
  if (o.id !== undefined && o.id !== null) {
    if (typeof o.id !== 'string' && typeof o.id !== 'number') fail(ctx, `field "id" is ${describeType(o.id)}`, 'a string or a number');
    out.id = String(o.id);
  }
  return out;
}

/**
 * One raw record → the normal form. `how` says how the format was chosen, for messages
 * (e.g. ', recognised from data.jsonl:1'). Throws DataError on any problem.
 */
export function normalizeRecord(v: unknown, format: FormatName, where: string, how = ''): { record: PreferenceRecord; notes: RecordNotes } {
  const ctx: Ctx = { where, how, format };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(ctx, `the record is ${describeType(v)}`, FORMAT_SHAPES[format]);
  const o = v as Record<string, unknown>;
  const notes: RecordNotes = {};
  let body: Omit<PreferenceRecord, 'id' | 'source'>;
  switch (format) {
    case 'explicit': body = normalizeExplicit(o, ctx, notes); break;
    case 'implicit': body = normalizeImplicit(o, ctx, notes); break;
    case 'instruction': body = normalizeInstruction(o, ctx); break;
    case 'sharegpt': body = normalizeShareGpt(o, ctx); break;
    case 'pretokenized': body = normalizePretokenized(o, ctx); break;
  }
  return { record: { ...body, ...extras(o, ctx), source: where }, notes };
}
