/**
 * The shipped template-built probe sets (data/probes/templates/*.json -> data/probes/*.jsonl): the files
 * are exactly a fresh build, each pair differs in the one attribute only (checked two ways: by
 * re-rendering the template here, and by a token diff), the a/b order is recorded and balanced, the
 * texts fit the quickstart models, and compare's loader reads them with their attribute.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadProbes } from '../../src/compare/scoring';
import { buildProbes, probeJsonl, probeTemplateFiles, type BuiltProbe, type ProbeLine } from '../../src/data/probe-build';
import { loadProbeTemplate, type ProbeTemplate } from '../../src/data/probe-template';

const REPO = path.resolve(__dirname, '../..');
const PROBES = path.join(REPO, 'data', 'probes');
const TEMPLATES = path.join(PROBES, 'templates');
const SETS = ['confidence-hedged', 'confidence-refusal', 'names-gender', 'names-origin', 'sycophancy', 'viewpoint'];
/** The quickstart's byte-level models: max_length 192 tokens (one per byte, plus BOS and EOS), max_prompt_length 96. */
const MAX_LENGTH = 192;
const MAX_PROMPT = 96;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const templates = new Map(probeTemplateFiles(TEMPLATES).map((f) => {
  const t = loadProbeTemplate(f);
  return [t.probe, { file: f, t, built: buildProbes(t, f) }] as const;
}));
const shipped = (probe: string): ProbeLine[] =>
  fs.readFileSync(path.join(PROBES, `${probe}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

/** An independent renderer: {slot} replaced from scope, recursively. */
function renderHere(s: string, scope: Record<string, string>): string {
  return s.replace(/\{([a-z][a-z0-9_]*)\}/g, (_, k: string) => {
    if (!(k in scope)) throw new Error(`test renderer: no slot ${k}`);
    return renderHere(scope[k], scope);
  });
}

/** The line's prompt and both answers re-rendered from the template and the line's origin. */
function rerender(t: ProbeTemplate, p: BuiltProbe) {
  const scope: Record<string, string> = { ...(t.items ?? [{}])[p.origin.item] };
  for (const [slot, k] of Object.entries(p.origin.fillers)) scope[slot] = t.fillers[slot][k];
  const pair = t.attribute.pairs[p.origin.pair];
  const side = (value: string) => {
    const v = t.attribute.values.indexOf(value);
    return { ...scope, ...Object.fromEntries(Object.entries(pair).map(([slot, xs]) => [slot, xs[v]])) };
  };
  const blank = { ...scope, ...Object.fromEntries(Object.keys(pair).map((slot) => [slot, '\u0000'])) };
  const answer = t.answers[p.origin.answer];
  return {
    prompt: renderHere(t.prompts[p.origin.prompt], blank),
    a: renderHere(answer, side(p.line.a_value)),
    b: renderHere(answer, side(p.line.b_value)),
    blanked: renderHere(answer, blank),
  };
}

const tokens = (s: string) => s.match(/\w+|[^\w\s]/g) ?? [];

/** The tokens of x and y left after removing their common prefix and suffix. */
function tokenDiff(x: string, y: string): [string[], string[]] {
  const [a, b] = [tokens(x), tokens(y)];
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  return [a.slice(i, a.length - j), b.slice(i, b.length - j)];
}

describe('shipped template-built probe sets', () => {
  test('the documented sets have templates, and every template is named after its probe', () => {
    expect([...templates.keys()].sort()).toEqual(SETS);
    for (const [probe, { file }] of templates) expect(path.basename(file)).toBe(`${probe}.json`);
  });

  test.each(SETS)('%s: the shipped file is byte-for-byte a fresh build of its template', (probe) => {
    const { built } = templates.get(probe)!;
    expect(fs.readFileSync(path.join(PROBES, `${probe}.jsonl`), 'utf8')).toBe(probeJsonl(built));
  });

  test.each(SETS)('%s: both sides are the same answer with only the attribute slots changed', (probe) => {
    const { t, built } = templates.get(probe)!;
    for (const p of built) {
      const r = rerender(t, p);
      expect([p.line.prompt, p.line.a, p.line.b]).toEqual([r.prompt, r.a, r.b]);
      expect(r.prompt).not.toContain('\u0000');
      expect(r.blanked).toContain('\u0000');
      expect(p.line.a).not.toBe(p.line.b);
    }
  });

  test.each(SETS)('%s: the tokens that differ all belong to the attribute texts of their side', (probe) => {
    const { built } = templates.get(probe)!;
    for (const p of built) {
      const [da, db] = tokenDiff(p.line.a, p.line.b);
      expect(da.length + db.length).toBeGreaterThan(0);
      const allowedA = new Set(tokens(Object.values(p.slots.a).join(' ')));
      const allowedB = new Set(tokens(Object.values(p.slots.b).join(' ')));
      // Template text between two attribute slots ("X, since Y") sits inside both diff spans: allowed there only.
      const strayA = da.filter((w) => !allowedA.has(w) && !db.includes(w));
      const strayB = db.filter((w) => !allowedB.has(w) && !da.includes(w));
      expect({ line: p.line.group, strayA, strayB }).toEqual({ line: p.line.group, strayA: [], strayB: [] });
    }
  });

  test.each(SETS)('%s: the order is recorded and balanced; sizes and lengths fit the quickstart models', (probe) => {
    const { t } = templates.get(probe)!;
    const lines = shipped(probe);
    expect(lines.length).toBeGreaterThanOrEqual(40);
    expect(lines.length).toBeLessThanOrEqual(100);
    const firstAsA = lines.filter((l) => l.a_value === t.attribute.values[0]).length;
    expect(Math.abs(firstAsA - lines.length / 2)).toBeLessThanOrEqual(0.5);
    for (const l of lines) {
      expect(l.probe).toBe(probe);
      expect(l.attribute).toBe(t.attribute.name);
      expect(l.values).toEqual(t.attribute.values);
      expect([l.a_value, l.b_value].sort()).toEqual([...t.attribute.values].sort());
      expect(bytes(l.prompt)).toBeLessThanOrEqual(MAX_PROMPT);
      expect(bytes(l.prompt) + Math.max(bytes(l.a), bytes(l.b)) + 2).toBeLessThanOrEqual(MAX_LENGTH);
    }
    const keys = new Set(lines.map((l) => JSON.stringify([l.prompt, ...[l.a, l.b].sort()])));
    // "both" sets hold each question twice (once per order); the others never repeat a pair.
    expect(keys.size).toBe(t.order === 'both' ? lines.length / 2 : lines.length);
  });

  test('viewpoint: every topic asked with the sides named in both orders, each question in both a/b orders', () => {
    const lines = shipped('viewpoint');
    const groups = new Map<string, ProbeLine[]>();
    for (const l of lines) groups.set(l.group, [...(groups.get(l.group) ?? []), l]);
    for (const [, g] of groups) {
      expect(g).toHaveLength(2);
      expect([g[1].a, g[1].b, g[1].a_value]).toEqual([g[0].b, g[0].a, g[0].b_value]);
    }
    const topics = new Map<string, Set<string>>();
    for (const l of lines) {
      const [, x, y] = /^Which is better, (.+) or (.+)\?$/.exec(l.prompt)!;
      const key = [x, y].sort().join('|');
      topics.set(key, new Set([...(topics.get(key) ?? []), l.prompt]));
    }
    expect(topics.size).toBe(20);
    for (const prompts of topics.values()) expect(prompts.size).toBe(2);
  });

  test('sycophancy: the agreeing side repeats the wrong claim of the prompt; the correcting side does not', () => {
    for (const l of shipped('sycophancy')) {
      const agrees = l.a_value === 'agrees' ? l.a : l.b;
      const corrects = l.a_value === 'agrees' ? l.b : l.a;
      const claim = /^I (?:think|am sure|believe) (.+?)(?:\. Right\?|\. Am I right\?|, yes\?)$/.exec(l.prompt)![1];
      expect(agrees).toContain(claim);
      expect(corrects).not.toContain(claim);
      const m = /^(\d) ([+-]) (\d) is (\d+)$/.exec(claim);
      if (m) {
        const truth = m[2] === '+' ? Number(m[1]) + Number(m[3]) : Number(m[1]) - Number(m[3]);
        expect(Number(m[4])).not.toBe(truth);
        expect(corrects).toMatch(new RegExp(`is ${truth}\\.$`));
      }
    }
  });

  test('no prompt of a template-built set is a training prompt', () => {
    const train = new Set(fs.readFileSync(path.join(REPO, 'data', 'prefs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).prompt));
    for (const probe of SETS) expect(shipped(probe).filter((l) => train.has(l.prompt))).toEqual([]);
  });

  test("compare's loader reads the whole folder: the older sets without an attribute, the new ones with it", () => {
    const records = loadProbes(PROBES);
    const byProbe = new Map<string, typeof records>();
    for (const r of records) byProbe.set(r.probe, [...(byProbe.get(r.probe) ?? []), r]);
    for (const old of ['verbosity', 'politeness', 'hedging', 'formatting', 'uppercase', 'correctness-vs-length']) {
      expect(byProbe.get(old)!.length).toBe(48);
      expect(byProbe.get(old)!.every((r) => r.attribute === undefined)).toBe(true);
    }
    for (const probe of SETS) {
      const lines = shipped(probe);
      const got = byProbe.get(probe)!;
      expect(got.map((r) => r.attribute)).toEqual(lines.map((l) => ({ name: l.attribute, values: l.values, a_value: l.a_value, b_value: l.b_value, group: l.group })));
    }
  });
});
