/**
 * Probe builder: turns a probe template (probe-template.ts) into counterfactual pairs, one JSONL line
 * each: {probe, group, prompt, a, b, attribute, values, a_value, b_value}. Both sides of a pair are the
 * same answer text rendered with the same item and fillers; only the attribute's slots differ, so the
 * two sides differ in that one attribute by construction. Which value sits in `a` is shuffled with the
 * template's seed and written down (a_value, b_value), so a report can compute "prefers value X"
 * whatever the order. With order "both" every question appears twice, once in each order, under one
 * `group`: that is what swap consistency is measured on.
 *
 * Deterministic: mulberry32 seeded from the template, no clock, no Math.random.
 * Does NOT: score or summarise probes (src/compare), or know what any attribute means.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from './errors';
import { loadProbeTemplate, ProbeTemplate, SLOT_PATTERN } from './probe-template';
import { mulberry32, shuffleInPlace } from './rng';

/** One generated line, in the order its fields are written. */
export interface ProbeLine {
  probe: string;
  /** Question id; with order "both" the two orders of one question share it. */
  group: string;
  prompt: string;
  a: string;
  b: string;
  /** The attribute's name and its two values, first value first (as in the template). */
  attribute: string;
  values: [string, string];
  /** Which value each side carries. */
  a_value: string;
  b_value: string;
}

/** A line plus where it came from, for tests and for error messages. */
export interface BuiltProbe {
  line: ProbeLine;
  /** Indices into the template: items, prompts, answers, attribute.pairs, and each filler slot's text. */
  origin: { item: number; prompt: number; answer: number; pair: number; fillers: Record<string, number> };
  /** The attribute slots as rendered on each side: the only text in which a and b may differ. */
  slots: { a: Record<string, string>; b: Record<string, string> };
}

/** One question before the a/b order is decided. */
interface Question {
  origin: BuiltProbe['origin'];
  prompt: string;
  /** The answer written with the first / second attribute value. */
  answers: [string, string];
  slots: [Record<string, string>, Record<string, string>];
}

/** Slots nest ({reply} may hold "{name} can help"); deeper than this is a cycle. */
const MAX_DEPTH = 8;

/** render("{name} can {task}.", {name: "Emma", task: "help"}) -> "Emma can help." */
function render(s: string, scope: Record<string, string>, fail: (msg: string) => never, depth = 0): string {
  return s.replace(SLOT_PATTERN, (_, name: string) => {
    if (depth >= MAX_DEPTH) fail(`slot {${name}} refers back to itself through other slots; break the cycle`);
    return render(scope[name], scope, fail, depth + 1);
  });
}

/** Draws indices 0..n-1 in seeded shuffled rounds, so each option is used equally often. */
function deck(n: number, rng: () => number): () => number {
  let order: number[] = [];
  let k = 0;
  return () => {
    if (k === order.length) {
      order = shuffleInPlace(Array.from({ length: n }, (_, i) => i), rng);
      k = 0;
    }
    return order[k++];
  };
}

/** All index combinations of the expanded dimensions: product([2, 1]) -> [[0, 0], [1, 0]]. */
function product(sizes: number[]): number[][] {
  return sizes.reduce<number[][]>((acc, n) => acc.flatMap((c) => Array.from({ length: n }, (_, i) => [...c, i])), [[]]);
}

/** The question list, in generation order: items, repeats, expanded combinations. */
function drawQuestions(t: ProbeTemplate, rng: () => number, where: string): Question[] {
  const items = t.items ?? [{}];
  const dims = { prompts: t.prompts.length, answers: t.answers.length, pairs: t.attribute.pairs.length };
  const expanded = (['prompts', 'answers', 'pairs'] as const).filter((d) => t.expand.includes(d));
  const draw = Object.fromEntries((['prompts', 'answers', 'pairs'] as const).map((d) => [d, deck(dims[d], rng)]));
  const fillerSlots = Object.keys(t.fillers).sort();
  const fillerDraw = Object.fromEntries(fillerSlots.map((s) => [s, deck(t.fillers[s].length, rng)]));
  const out: Question[] = [];
  items.forEach((item, i) => {
    for (let r = 0; r < t.per_item; r++) {
      for (const combo of product(expanded.map((d) => dims[d]))) {
        const pick = (d: 'prompts' | 'answers' | 'pairs') => (expanded.includes(d) ? combo[expanded.indexOf(d)] : draw[d]());
        const origin = { item: i, prompt: pick('prompts'), answer: pick('answers'), pair: pick('pairs'), fillers: {} as Record<string, number> };
        for (const s of fillerSlots) origin.fillers[s] = fillerDraw[s]();
        out.push(renderQuestion(t, item, origin, where, out.length + 1));
      }
    }
  });
  return out;
}

/** Renders one question on both sides and checks it: same prompt, different answers, within the caps. */
function renderQuestion(t: ProbeTemplate, item: Record<string, string>, origin: BuiltProbe['origin'], where: string, q: number): Question {
  const from = `items[${origin.item}], prompts[${origin.prompt}], answers[${origin.answer}], attribute.pairs[${origin.pair}]`;
  const fail = (msg: string): never => {
    throw new DataError(where, `question ${q} (${from}): ${msg}`, true);
  };
  const base: Record<string, string> = { ...item };
  for (const [s, k] of Object.entries(origin.fillers)) base[s] = t.fillers[s][k];
  const pair = t.attribute.pairs[origin.pair];
  const scopes = [0, 1].map((v) => ({ ...base, ...Object.fromEntries(Object.entries(pair).map(([s, xs]) => [s, xs[v]])) }));
  const prompts = scopes.map((sc) => render(t.prompts[origin.prompt], sc, fail));
  if (prompts[0] !== prompts[1]) fail(`the prompt reads "${prompts[0]}" on one side and "${prompts[1]}" on the other; a prompt may not use attribute slots`);
  const answers = scopes.map((sc) => render(t.answers[origin.answer], sc, fail)) as [string, string];
  if (answers[0] === answers[1]) fail(`both sides read "${answers[0]}"; the answer must use an attribute slot and the pair's two texts must differ`);
  const cap = t.max_bytes ?? {};
  const over = (s: string, limit?: number) => limit !== undefined && Buffer.byteLength(s) > limit;
  if (over(prompts[0], cap.prompt)) fail(`prompt "${prompts[0]}" is ${Buffer.byteLength(prompts[0])} bytes, over max_bytes.prompt ${cap.prompt}; shorten it`);
  for (const a of answers) if (over(a, cap.answer)) fail(`answer "${a}" is ${Buffer.byteLength(a)} bytes, over max_bytes.answer ${cap.answer}; shorten it`);
  const slots = scopes.map((sc) => Object.fromEntries(Object.keys(pair).map((s) => [s, render(`{${s}}`, sc, fail)]))) as Question['slots'];
  return { origin, prompt: prompts[0], answers, slots };
}

/** Throws when two questions make the same pair (in either order). */
function checkDuplicates(qs: Question[], where: string): void {
  const seen = new Map<string, number>();
  qs.forEach((q, k) => {
    const key = JSON.stringify([q.prompt, ...[...q.answers].sort()]);
    const before = seen.get(key);
    if (before !== undefined)
      throw new DataError(where, `questions ${before + 1} and ${k + 1} make the same pair (prompt "${q.prompt}", items[${qs[before].origin.item}] and items[${q.origin.item}]); add items or fillers, or lower per_item`, true);
    seen.set(key, k);
  });
}

/**
 * Builds every pair of a template. `where` names the template in errors.
 * Order "random": exactly floor(n/2) questions get the first value as a, in seeded random positions.
 * Order "both": each question gives two lines, the first of them in a seeded random order.
 */
export function buildProbes(t: ProbeTemplate, where: string): BuiltProbe[] {
  const rng = mulberry32(t.seed);
  const qs = drawQuestions(t, rng, where);
  checkDuplicates(qs, where);
  const firstAsA =
    t.order === 'random'
      ? shuffleInPlace(qs.map((_, k) => k < Math.floor(qs.length / 2)), rng)
      : qs.map(() => rng() < 0.5);
  const out: BuiltProbe[] = [];
  qs.forEach((q, k) => {
    const group = `${t.probe}-${String(k + 1).padStart(3, '0')}`;
    const orders = t.order === 'both' ? [firstAsA[k], !firstAsA[k]] : [firstAsA[k]];
    for (const first of orders) out.push(orient(t, q, group, first));
  });
  return out;
}

/** One line with the first value on side a (first = true) or side b. */
function orient(t: ProbeTemplate, q: Question, group: string, first: boolean): BuiltProbe {
  const [x, y] = first ? [0, 1] : [1, 0];
  const values = t.attribute.values as [string, string];
  return {
    line: { probe: t.probe, group, prompt: q.prompt, a: q.answers[x], b: q.answers[y], attribute: t.attribute.name, values: [values[0], values[1]], a_value: values[x], b_value: values[y] },
    origin: q.origin,
    slots: { a: q.slots[x], b: q.slots[y] },
  };
}

/** JSONL text of built probes: one line each, newline-terminated. */
export function probeJsonl(built: BuiltProbe[]): string {
  return built.map((p) => JSON.stringify(p.line)).join('\n') + '\n';
}

export interface ProbeFileResult {
  template: string;
  out: string;
  probe: string;
  attribute: string;
  values: [string, string];
  pairs: number;
  /** Lines whose a carries the attribute's first value. */
  first_as_a: number;
  /** Whether the file on disk already held these bytes (with check: nothing is written). */
  unchanged: boolean;
}

/**
 * Builds one template into `out` (a .jsonl file, or a folder that receives <probe>.jsonl).
 * With check, writes nothing and throws when the file is missing or differs from a fresh build.
 */
export function buildProbeFile(templateFile: string, out: string, check = false): ProbeFileResult {
  const t = loadProbeTemplate(templateFile);
  const built = buildProbes(t, templateFile);
  const text = probeJsonl(built);
  const file = out.endsWith('.jsonl') ? out : path.join(out, `${t.probe}.jsonl`);
  const unchanged = fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text;
  if (check && !unchanged)
    throw new DataError(file, `${fs.existsSync(file) ? 'differs from' : 'is missing, expected'} a fresh build of ${templateFile}; rewrite it with: rlhf probe build --template ${templateFile} --out ${file}`, true);
  if (!check && !unchanged) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  const firstAsA = built.filter((p) => p.line.a_value === p.line.values[0]).length;
  return { template: templateFile, out: file, probe: t.probe, attribute: t.attribute.name, values: [t.attribute.values[0], t.attribute.values[1]], pairs: built.length, first_as_a: firstAsA, unchanged };
}

/** Every *.json template in a folder, sorted; each file must be named after its probe (<probe>.json). */
export function probeTemplateFiles(dir: string): string[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(dir, f));
  if (files.length === 0) throw new DataError(dir, 'the folder holds no .json probe templates', true);
  return files;
}

/**
 * Builds a template file or every template of a folder. A folder's templates go into `out` (a folder)
 * as <probe>.jsonl, and each template file must be called <probe>.json so the pairing is visible.
 */
export function buildProbeTemplates(template: string, out: string, check = false): ProbeFileResult[] {
  if (!fs.existsSync(template)) throw new DataError(template, 'no such file or folder; expected a probe template (.json) or a folder of them', true);
  if (!fs.statSync(template).isDirectory()) return [buildProbeFile(template, out, check)];
  if (out.endsWith('.jsonl')) throw new DataError(out, `--out must be a folder when --template is a folder (${template})`, true);
  return probeTemplateFiles(template).map((f) => {
    const probe = loadProbeTemplate(f).probe;
    if (path.basename(f) !== `${probe}.json`) throw new DataError(f, `probe: "${probe}" differs from the file name; call the file ${probe}.json`, true);
    return buildProbeFile(f, out, check);
  });
}
