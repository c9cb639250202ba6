/**
 * The probe builder on small inline templates: what it generates (one attribute differs, the order is
 * recorded and balanced, "both" gives every question in both orders), that it is deterministic, and
 * that each kind of broken template is a one-line error naming the file and the field.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataError } from '../../src/data/errors';
import { buildProbes, buildProbeTemplates, probeJsonl } from '../../src/data/probe-build';
import { parseProbeTemplate } from '../../src/data/probe-template';
import { rlhf } from '../cli/helpers';

const FILE = 'my/template.json';

/** A valid template; tests override fields. */
function base(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'rlhf-probe-template/v1',
    probe: 'toy',
    seed: 7,
    attribute: { name: 'gender', values: ['female', 'male'], pairs: [{ who: ['Emma', 'James'] }, { who: ['Priya', 'Arjun'] }, { who: ['your aunt', 'your uncle'] }] },
    prompts: ['Who can {task} on {day}?'],
    answers: ['On {day}, {who} can {task}.', 'Ask {who} to {task} on {day}.'],
    items: [{ task: 'water the plants' }, { task: 'fix the bike' }, { task: 'bake bread' }],
    fillers: { day: ['Monday', 'Friday'] },
    expand: ['pairs'],
    ...over,
  };
}

const build = (over: Record<string, unknown> = {}) => buildProbes(parseProbeTemplate(base(over), FILE), FILE);

/** The error message of fn, which must throw a one-line DataError. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected an error, got none');
}

describe('buildProbes', () => {
  test('expands every item with every attribute pair; the sides differ only in the name', () => {
    const built = build();
    expect(built).toHaveLength(9); // 3 items x 3 pairs
    for (const p of built) {
      const { a, b } = p.line;
      const blank = (s: string, who: string) => s.replace(who, '<who>');
      expect(blank(a, p.slots.a.who)).toBe(blank(b, p.slots.b.who));
      expect(a).not.toBe(b);
      expect(p.line.prompt).toMatch(/^Who can .+ on (Monday|Friday)\?$/);
      // The filler is the same on both sides and in the prompt.
      const day = /on (\w+)\?$/.exec(p.line.prompt)![1];
      expect(a).toContain(day);
      expect(b).toContain(day);
    }
  });

  test('records which value each side carries, and the texts match the record', () => {
    const female = new Set(['Emma', 'Priya', 'your aunt']);
    for (const { line } of build()) {
      expect(line.values).toEqual(['female', 'male']);
      expect([line.a_value, line.b_value].sort()).toEqual(['female', 'male']);
      const aName = [...female, 'James', 'Arjun', 'your uncle'].find((n) => line.a.includes(n))!;
      expect(female.has(aName) ? 'female' : 'male').toBe(line.a_value);
    }
  });

  test('order "random" puts the first value in a for exactly half of the pairs, in shuffled positions', () => {
    const items = Array.from({ length: 20 }, (_, i) => ({ task: `do task ${i}` }));
    for (const seed of [1, 2, 3]) {
      const lines = build({ items, seed }).map((p) => p.line);
      expect(lines.length).toBe(60);
      const firstAsA = lines.map((l) => l.a_value === 'female');
      expect(firstAsA.filter(Boolean).length).toBe(30);
      // Not a block of trues then falses, nor strict alternation.
      expect(firstAsA.slice(0, 30).every(Boolean)).toBe(false);
      expect(firstAsA.every((f, i) => i === 0 || f !== firstAsA[i - 1])).toBe(false);
    }
    // An odd count: floor(n / 2) first-as-a.
    const odd = build({ items: [{ task: 'x' }], expand: [], per_item: 1, attribute: { name: 'g', values: ['f', 'm'], pairs: [{ who: ['A', 'B'] }] } });
    expect(odd.filter((p) => p.line.a_value === 'f').length).toBe(0);
  });

  test('order "both": every question twice under one group, a and b swapped', () => {
    const built = build({ order: 'both' });
    expect(built).toHaveLength(18);
    const groups = new Map<string, typeof built>();
    for (const p of built) groups.set(p.line.group, [...(groups.get(p.line.group) ?? []), p]);
    expect(groups.size).toBe(9);
    for (const [, [x, y]] of groups) {
      expect(y.line.prompt).toBe(x.line.prompt);
      expect([y.line.a, y.line.b]).toEqual([x.line.b, x.line.a]);
      expect([y.line.a_value, y.line.b_value]).toEqual([x.line.b_value, x.line.a_value]);
    }
    expect(built.filter((p) => p.line.a_value === 'female').length).toBe(9);
  });

  test('non-expanded dimensions are drawn evenly (a shuffled deck), fillers too', () => {
    const items = Array.from({ length: 12 }, (_, i) => ({ task: `do task ${i}` }));
    const built = build({ items, expand: [] });
    const count = (f: (p: (typeof built)[0]) => number) => [0, 1, 2].map((k) => built.filter((p) => f(p) === k).length);
    expect(count((p) => p.origin.pair)).toEqual([4, 4, 4]);
    expect(count((p) => p.origin.answer).slice(0, 2)).toEqual([6, 6]);
    expect(count((p) => p.origin.fillers.day).slice(0, 2)).toEqual([6, 6]);
  });

  test('nested slots: an attribute text may refer to item slots (a viewpoint and its reason)', () => {
    const built = build({
      attribute: { name: 'viewpoint', values: ['first', 'second'], pairs: [{ pick: ['{x}', '{y}'], why: ['{xw}', '{yw}'] }] },
      prompts: ['Which is better, {x} or {y}?'],
      answers: ['I would pick {pick}, since {why}.'],
      items: [{ x: 'tea', y: 'coffee', xw: 'it is gentle', yw: 'it is strong' }],
      fillers: {},
      expand: [],
    });
    expect(built.map((p) => [p.line.a, p.line.b].sort())).toEqual([['I would pick coffee, since it is strong.', 'I would pick tea, since it is gentle.']]);
    const p = built[0];
    expect(p.slots[p.line.a_value === 'first' ? 'a' : 'b']).toEqual({ pick: 'tea', why: 'it is gentle' });
  });

  test('the same template and seed give the same bytes; another seed another order', () => {
    const one = probeJsonl(build());
    expect(probeJsonl(build())).toBe(one);
    expect(probeJsonl(build({ seed: 8 }))).not.toBe(one);
    const line = JSON.parse(one.split('\n')[0]);
    expect(Object.keys(line)).toEqual(['probe', 'group', 'prompt', 'a', 'b', 'attribute', 'values', 'a_value', 'b_value']);
    expect(line.group).toBe('toy-001');
  });
});

describe('template validation: one line naming the file and the field', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown slot in an answer', { answers: ['{who} can {tsk}.'] }, /^my\/template\.json: answers\[0\]: unknown slot \{tsk\}; the slots defined are day, task, who/],
    ['an unknown slot in an item', { items: [{ task: 'go to {plce}' }] }, /items\[0\]\.task: unknown slot \{plce\}/],
    ['an attribute with one value', { attribute: { name: 'g', values: ['female'], pairs: [{ who: ['Emma', 'James'] }] } }, /attribute\.values: expected 2 values .*got 1$/],
    ['an attribute pair with one text', { attribute: { name: 'g', values: ['female', 'male'], pairs: [{ who: ['Emma'] }] } }, /attribute\.pairs\[0\]\.who: expected 2 texts \(one for "female", one for "male"\), got 1$/],
    ['the same value twice', { attribute: { name: 'g', values: ['x', 'x'], pairs: [{ who: ['Emma', 'James'] }] } }, /attribute\.values: the two values are the same/],
    ['a filler slot with no fillers', { fillers: { day: [] } }, /fillers\.day: no fillers; give at least one text for this slot, got 0$/],
    ['no attribute pairs', { attribute: { name: 'g', values: ['f', 'm'], pairs: [] } }, /attribute\.pairs: no pairs/],
    ['a slot defined twice', { fillers: { day: ['Monday'], task: ['sing'] } }, /fillers: slot \{task\} is defined in both items and fillers; rename one/],
    ['items with different slots', { items: [{ task: 'a' }, { job: 'b' }] }, /items\[1\]: defines other slots than items\[0\] \(missing task, extra job\)/],
    ['an unknown field', { expnad: ['pairs'] }, /^my\/template\.json: unknown field "expnad"/],
    ['a wrong format tag', { format: 'v0' }, /format: Invalid input: expected "rlhf-probe-template\/v1"/],
    ['a bad probe name', { probe: 'My Probe' }, /probe: expected a lower-case name/],
    ['a stray brace', { answers: ['{who} can {Task}.'] }, /answers\[0\]: "\{" outside a slot reference/],
  ];
  test.each(cases)('%s', (_name, over, re) => {
    expect(errorOf(() => build(over))).toMatch(re);
  });

  test('duplicate pairs: two questions that make the same pair', () => {
    const msg = errorOf(() => build({ per_item: 2, fillers: { day: ['Monday'] }, answers: ['On {day}, {who} can {task}.'] }));
    expect(msg).toMatch(/^my\/template\.json: questions 1 and 4 make the same pair \(prompt "Who can water the plants on Monday\?", items\[0\] and items\[0\]\); add items or fillers, or lower per_item$/);
  });

  test('a generated pair whose two sides are identical', () => {
    const msg = errorOf(() => build({ attribute: { name: 'g', values: ['f', 'm'], pairs: [{ who: ['Emma', 'James'] }, { who: ['Sam', 'Sam'] }] } }));
    expect(msg).toMatch(/question 2 \(items\[0\], prompts\[0\], answers\[\d\], attribute\.pairs\[1\]\): both sides read ".*Sam.*"; the answer must use an attribute slot/);
  });

  test('an answer without any attribute slot makes identical sides', () => {
    expect(errorOf(() => build({ answers: ['Ask anyone on {day}.'] }))).toMatch(/both sides read "Ask anyone on (Monday|Friday)\."/);
  });

  test('a prompt that uses an attribute slot (directly or through an item)', () => {
    expect(errorOf(() => build({ prompts: ['Can {who} help?'] }))).toMatch(/question 1 \(.*\): the prompt reads "Can (Emma|James) help\?" on one side and .* a prompt may not use attribute slots/);
  });

  test('a text over max_bytes', () => {
    expect(errorOf(() => build({ max_bytes: { answer: 20 } }))).toMatch(/answer ".*" is \d+ bytes, over max_bytes\.answer 20; shorten it/);
    expect(errorOf(() => build({ max_bytes: { prompt: 10 } }))).toMatch(/prompt "Who can .*" is \d+ bytes, over max_bytes\.prompt 10/);
  });

  test('a slot that refers to itself', () => {
    expect(errorOf(() => build({ items: [{ task: 'do {task}' }] }))).toMatch(/slot \{task\} refers back to itself/);
  });
});

describe('buildProbeTemplates and rlhf probe build', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-probe-'));
    fs.mkdirSync(path.join(tmp, 'templates'));
    fs.writeFileSync(path.join(tmp, 'templates', 'toy.json'), JSON.stringify(base()));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('a folder of templates into a folder; --check passes, then fails naming the file once it changes', () => {
    const out = path.join(tmp, 'out');
    const [r] = buildProbeTemplates(path.join(tmp, 'templates'), out);
    expect(r).toMatchObject({ probe: 'toy', pairs: 9, out: path.join(out, 'toy.jsonl'), unchanged: false, values: ['female', 'male'] });
    expect(r.first_as_a).toBe(4);
    expect(buildProbeTemplates(path.join(tmp, 'templates'), out, true)[0].unchanged).toBe(true);
    fs.appendFileSync(r.out, '{}\n');
    expect(errorOf(() => buildProbeTemplates(path.join(tmp, 'templates'), out, true))).toBe(
      `${r.out}: differs from a fresh build of ${path.join(tmp, 'templates', 'toy.json')}; rewrite it with: rlhf probe build --template ${path.join(tmp, 'templates', 'toy.json')} --out ${r.out}`);
  });

  test('a template file must be named after its probe when built from a folder', () => {
    fs.renameSync(path.join(tmp, 'templates', 'toy.json'), path.join(tmp, 'templates', 'other.json'));
    expect(errorOf(() => buildProbeTemplates(path.join(tmp, 'templates'), tmp))).toMatch(/other\.json: probe: "toy" differs from the file name; call the file toy\.json/);
  });

  test('CLI: writes the file and prints a JSON summary; a bad template exits 1 with the message', async () => {
    const out = path.join(tmp, 'toy.jsonl');
    const ok = await rlhf('probe', 'build', '--template', path.join(tmp, 'templates', 'toy.json'), '--out', out);
    expect(ok.code).toBe(0);
    expect(ok.json()).toMatchObject({ files: [{ probe: 'toy', pairs: 9, out }] });
    expect(ok.stderr).toContain(`${out}: 9 pairs, gender female vs male, a = female in 4, written`);
    expect(fs.readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(9);

    fs.writeFileSync(path.join(tmp, 'bad.json'), JSON.stringify(base({ answers: ['{nme} helps.'] })));
    const bad = await rlhf('probe', 'build', '--template', path.join(tmp, 'bad.json'), '--out', out);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^error: .*bad\.json: answers\[0\]: unknown slot \{nme\}/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);

    const missing = await rlhf('probe', 'build', '--out', out);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('template');
  });
});
