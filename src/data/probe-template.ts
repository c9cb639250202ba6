/**
 * Probe templates: the JSON format that describes a counterfactual probe set, its zod schema (the
 * validator and the type in one), and the checks zod cannot express (slots that are used but never
 * defined, slot names defined twice). Every field is documented once, here and in data/probes/README.md.
 *
 * A template names one attribute with two values (female/male, agrees/corrects, plain/hedged) and says
 * how each value is written into an answer. The builder (probe-build.ts) renders the same answer once
 * per value with everything else identical, so the two sides of a generated pair differ in that one
 * attribute only.
 *
 * Does NOT: generate pairs or read records (probe-build.ts), score or summarise them (src/compare).
 * Errors are DataError with `file: field: what is wrong; the way out` on one line.
 */
import * as fs from 'fs';
import { z } from 'zod';
import { DataError } from './errors';

export const PROBE_TEMPLATE_FORMAT = 'rlhf-probe-template/v1';

/** A slot reference in a text: `{name}`, lower-case letters, digits and `_`, starting with a letter. */
export const SLOT_PATTERN = /\{([a-z][a-z0-9_]*)\}/g;

const text = z.string();
const nonEmptyTexts = (what: string) => z.array(text).min(1, `no ${what}; give at least one text`);

export const ProbeTemplateSchema = z
  .object({
    format: z.literal(PROBE_TEMPLATE_FORMAT).describe(`Format tag; must be "${PROBE_TEMPLATE_FORMAT}".`),
    probe: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/, 'expected a lower-case name of letters, digits and "-" (it becomes the file name)')
      .describe('Probe set name: every generated line carries it in `probe`, and the shipped file is probes/<probe>.jsonl.'),
    description: z.string().optional().describe('Free text for readers; not used by the builder.'),
    seed: z.number().int().min(0).describe('Seeds the a/b order and every draw (prompts, answers, pairs, fillers). Same seed, same file.'),
    attribute: z
      .object({
        name: z.string().min(1).describe('What differs between the two sides, e.g. "gender", "sycophancy".'),
        values: z
          .array(z.string().min(1))
          .describe('The attribute\'s two values, e.g. ["female", "male"]. The first is the one preference rates are reported for.'),
        pairs: z
          .array(z.record(z.string(), z.array(text)))
          .min(1, 'no pairs; give at least one {slot: [text for the first value, text for the second]}')
          .describe('Ways to write the two values: each entry maps attribute slots to [first-value text, second-value text].'),
      })
      .strict(),
    prompts: nonEmptyTexts('prompts').describe('Prompt texts with {slots}; the prompt must read the same for both sides.'),
    answers: nonEmptyTexts('answers').describe('Answer texts with {slots}; each must use at least one attribute slot (directly or through other slots).'),
    items: z
      .array(z.record(z.string(), text))
      .min(1, 'no items; leave "items" out, or give at least one {slot: text}')
      .optional()
      .describe('Rows of slots that belong together (one question and its facts). Every item defines the same slots. Default: one empty item.'),
    fillers: z
      .record(z.string(), z.array(text).min(1, 'no fillers; give at least one text for this slot'))
      .default({})
      .describe('Slots filled independently of the item, one text drawn per generated question and used on both sides.'),
    expand: z
      .array(z.enum(['prompts', 'answers', 'pairs']))
      .default([])
      .describe('Dimensions enumerated in full for every item (all combinations); the others are drawn. Default: none.'),
    per_item: z.number().int().min(1).default(1).describe('Repeats per item (of the expanded combinations). Default 1.'),
    order: z
      .enum(['random', 'both'])
      .default('random')
      .describe('"random": a/b order shuffled, half the pairs with the first value as a. "both": every question twice, once per order (swap consistency).'),
    max_bytes: z
      .object({ prompt: z.number().int().min(1).optional(), answer: z.number().int().min(1).optional() })
      .strict()
      .optional()
      .describe('Length caps in UTF-8 bytes for the prompt and each answer; a generated text over a cap is an error.'),
  })
  .strict();

export type ProbeTemplate = z.infer<typeof ProbeTemplateSchema>;

/** Slots referenced by a text: slotsIn("{name} can {task}.") -> ["name", "task"]. */
export function slotsIn(s: string): string[] {
  return [...s.matchAll(SLOT_PATTERN)].map((m) => m[1]);
}

/** Where each slot name is defined: items, fillers or the attribute. */
export interface SlotTable {
  item: string[];
  filler: string[];
  attribute: string[];
}

/** Reads and validates a template file; throws DataError naming the file and field. */
export function loadProbeTemplate(file: string): ProbeTemplate {
  if (!fs.existsSync(file)) throw new DataError(file, 'no such file; expected a probe template (.json), see data/probes/README.md', true);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DataError(file, `invalid JSON (${(e as Error).message}); expected a probe template object`, true);
  }
  return parseProbeTemplate(raw, file);
}

/** Validates a template object (already parsed JSON); `where` names it in errors. */
export function parseProbeTemplate(raw: unknown, where: string): ProbeTemplate {
  const parsed = ProbeTemplateSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const [first, ...rest] = parsed.error.issues;
    const more = rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : '';
    throw new DataError(where, `${describeIssue(first)}${more}`, true);
  }
  const t = parsed.data;
  checkTemplate(t, where);
  return t;
}

function describeIssue(i: z.core.$ZodIssue): string {
  const at = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(top level)';
  if (i.code === 'unrecognized_keys') return `${at === '(top level)' ? '' : `${at}: `}unknown field ${i.keys.map((k) => `"${k}"`).join(', ')}; see data/probes/README.md for the fields`;
  // Zod names the received type itself; for lists, say how many items there were.
  const input = 'input' in i ? i.input : undefined;
  return `${at}: ${i.message}${Array.isArray(input) && (i.code === 'too_small' || i.code === 'too_big') ? `, got ${input.length}` : ''}`;
}

/** The checks between fields; each failure is one DataError naming the field. */
function checkTemplate(t: ProbeTemplate, where: string): void {
  const fail = (field: string, msg: string): never => {
    throw new DataError(where, `${field}: ${msg}`, true);
  };
  const { values, pairs } = t.attribute;
  if (values.length !== 2) fail('attribute.values', `expected 2 values (the attribute's two sides, e.g. ["female", "male"]), got ${values.length}`);
  if (values[0] === values[1]) fail('attribute.values', `the two values are the same ("${values[0]}"); name two different values`);
  const table = slotTable(t, fail);
  pairs.forEach((p, k) => {
    for (const [slot, texts] of Object.entries(p)) {
      if (texts.length !== 2) fail(`attribute.pairs[${k}].${slot}`, `expected 2 texts (one for "${values[0]}", one for "${values[1]}"), got ${texts.length}`);
    }
  });
  const defined = new Set([...table.item, ...table.filler, ...table.attribute]);
  const known = () => [...defined].sort().join(', ') || 'none';
  for (const [field, s] of allTexts(t)) {
    for (const slot of slotsIn(s)) if (!defined.has(slot)) fail(field, `unknown slot {${slot}}; the slots defined are ${known()} (items, fillers and attribute.pairs define slots)`);
    const stray = s.replace(SLOT_PATTERN, '').match(/[{}]/);
    if (stray) fail(field, `"${stray[0]}" outside a slot reference in "${s}"; slot names are lower-case letters, digits and "_", e.g. {name}`);
  }
}

/** Slot names by origin; the same name defined in two places, or items that disagree on their slots, is an error. */
function slotTable(t: ProbeTemplate, fail: (field: string, msg: string) => never): SlotTable {
  const items = t.items ?? [{}];
  const item = Object.keys(items[0]);
  items.forEach((it, k) => {
    const keys = Object.keys(it);
    const missing = item.filter((s) => !keys.includes(s));
    const extra = keys.filter((s) => !item.includes(s));
    if (missing.length || extra.length)
      fail(`items[${k}]`, `defines other slots than items[0] (${[...missing.map((s) => `missing ${s}`), ...extra.map((s) => `extra ${s}`)].join(', ')}); every item defines the same slots`);
  });
  const attribute = Object.keys(t.attribute.pairs[0]);
  if (attribute.length === 0) fail('attribute.pairs[0]', 'defines no slot; map at least one slot to its two texts');
  t.attribute.pairs.forEach((p, k) => {
    const keys = Object.keys(p).sort().join(', ');
    if (keys !== [...attribute].sort().join(', ')) fail(`attribute.pairs[${k}]`, `defines slots ${keys || 'none'}, attribute.pairs[0] defines ${[...attribute].sort().join(', ')}; every pair sets the same slots`);
  });
  const filler = Object.keys(t.fillers);
  const origin = new Map<string, string>();
  for (const [kind, names] of [['items', item], ['fillers', filler], ['attribute.pairs', attribute]] as const) {
    for (const s of names) {
      if (!/^[a-z][a-z0-9_]*$/.test(s)) fail(kind, `slot name "${s}" is not lower-case letters, digits and "_" starting with a letter`);
      if (origin.has(s)) fail(kind, `slot {${s}} is defined in both ${origin.get(s)} and ${kind}; rename one`);
      origin.set(s, kind);
    }
  }
  return { item, filler, attribute };
}

/** Every text of the template with its field path, for the slot checks. */
function allTexts(t: ProbeTemplate): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  t.prompts.forEach((s, k) => out.push([`prompts[${k}]`, s]));
  t.answers.forEach((s, k) => out.push([`answers[${k}]`, s]));
  (t.items ?? []).forEach((it, k) => Object.entries(it).forEach(([slot, s]) => out.push([`items[${k}].${slot}`, s])));
  Object.entries(t.fillers).forEach(([slot, xs]) => xs.forEach((s, k) => out.push([`fillers.${slot}[${k}]`, s])));
  t.attribute.pairs.forEach((p, k) => Object.entries(p).forEach(([slot, xs]) => xs.forEach((s, j) => out.push([`attribute.pairs[${k}].${slot}[${j}]`, s]))));
  return out;
}
