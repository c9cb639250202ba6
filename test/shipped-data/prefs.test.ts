/**
 * Integrity and ground truth of data/prefs.jsonl and data/prefs-eval.jsonl, checked from the text alone
 * (the tests do not import the generator's tables).
 */
import { bytes, cardRows, Pair, readPairs, sentences } from './shipped';

const train = readPairs('prefs.jsonl');
const evalPairs = readPairs('prefs-eval.jsonl');
const all = [...train, ...evalPairs];
const bySubset = (subset: string) => all.filter((p) => p.subset === subset);

/** The pairs of one subset and kind; fails if there are none, so no check below passes vacuously. */
function pairsOf(subset: string, kind?: string): Pair[] {
  const rows = bySubset(subset).filter((p) => kind === undefined || p.kind === kind);
  expect(rows.length).toBeGreaterThan(0);
  return rows;
}

describe('shipped preference pairs: form', () => {
  test('sizes: at least 2,000 training pairs, about 300 held-out pairs, four subsets', () => {
    expect(train.length).toBeGreaterThanOrEqual(2000);
    expect(evalPairs.length).toBeGreaterThanOrEqual(250);
    expect([...new Set(all.map((p) => p.subset))].sort()).toEqual(['arithmetic', 'facts', 'format', 'politeness']);
  });

  test('every record has exactly the documented fields with the documented types', () => {
    const keys = ['id', 'prompt', 'chosen', 'rejected', 'subset', 'kind', 'ground_truth', 'chosen_longer'];
    const bad = all.filter((p) => JSON.stringify(Object.keys(p)) !== JSON.stringify(keys)
      || !(['id', 'prompt', 'chosen', 'rejected', 'subset', 'kind'] as const).every((f) => typeof p[f] === 'string')
      || p.ground_truth !== 'chosen' || typeof p.chosen_longer !== 'boolean');
    expect(bad).toEqual([]);
  });

  test('short, printable ASCII texts: prompt <= 60 bytes, responses <= 80 bytes, none empty', () => {
    const printable = (t: string) => /^[\x20-\x7e]+$/.test(t);
    const bad = all.filter((p) => ![p.prompt, p.chosen, p.rejected].every(printable)
      || bytes(p.prompt) > 60 || bytes(p.chosen) > 80 || bytes(p.rejected) > 80);
    expect(bad).toEqual([]);
  });

  test('ids are unique across both files; no chosen == rejected; no duplicate (prompt, chosen, rejected)', () => {
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    expect(all.filter((p) => p.chosen === p.rejected)).toEqual([]);
    expect(new Set(all.map((p) => JSON.stringify([p.prompt, p.chosen, p.rejected]))).size).toBe(all.length);
  });

  test('held-out pairs share no prompt with the training pairs', () => {
    const trainPrompts = new Set(train.map((p) => p.prompt));
    expect(evalPairs.filter((p) => trainPrompts.has(p.prompt)).map((p) => p.id)).toEqual([]);
  });
});

describe('shipped preference pairs: the length confound', () => {
  test('chosen_longer is true exactly when chosen has more bytes; lengths are never equal', () => {
    const bad = all.filter((p) => bytes(p.chosen) === bytes(p.rejected) || p.chosen_longer !== bytes(p.chosen) > bytes(p.rejected));
    expect(bad).toEqual([]);
  });

  test('the chosen-longer rate is the one the card states, about three quarters, in every file and subset', () => {
    const stated = new Map(cardRows(7).map(([file, subset, , , rate]) => [`${file}|${subset}`, rate]));
    for (const [file, rows] of [['prefs.jsonl', train], ['prefs-eval.jsonl', evalPairs]] as const) {
      for (const subset of ['all', 'arithmetic', 'facts', 'politeness', 'format']) {
        const group = subset === 'all' ? rows : rows.filter((p) => p.subset === subset);
        const rate = group.filter((p) => p.chosen_longer).length / group.length;
        expect(stated.get(`${file}|${subset}`)).toBe(`${(100 * rate).toFixed(1)}%`);
        expect(rate).toBeGreaterThanOrEqual(0.7);
        expect(rate).toBeLessThanOrEqual(0.8);
      }
    }
  });

  test('"prefer the longer response" scores the chosen-longer rate, so it cannot reach the ground truth', () => {
    const longerWins = train.filter((p) => bytes(p.chosen) > bytes(p.rejected)).length / train.length;
    expect(longerWins).toBeLessThan(0.8);
    expect(train.some((p) => !p.chosen_longer)).toBe(true);
  });
});

describe('shipped preference pairs: ground truth by construction', () => {
  test('arithmetic: chosen states the correct result, rejected a wrong one, with the same wording', () => {
    for (const p of pairsOf('arithmetic')) {
      const m = /(\d+) ([+-]) (\d+)/.exec(p.prompt);
      expect(m).not.toBeNull();
      const [a, op, b] = [Number(m![1]), m![2], Number(m![3])];
      const truth = op === '+' ? a + b : a - b;
      // The result is the last number in a response (filler has no digits).
      const last = (s: string) => /(\d+)\.(?!.*\d)/.exec(s);
      const c = last(p.chosen)!;
      const r = last(p.rejected)!;
      expect({ id: p.id, chosen: Number(c[1]) }).toEqual({ id: p.id, chosen: truth });
      expect(Number(r[1])).not.toBe(truth);
      expect(Number(r[1])).toBeGreaterThanOrEqual(0);
      expect(p.chosen.slice(0, c.index)).toBe(p.rejected.slice(0, r.index));
      expect(p.kind).toBe(op === '+' ? 'add' : 'sub');
    }
  });

  test('facts: spot checks against a table written here', () => {
    // [kind, prompt pattern, right answer, an answer that must not appear in chosen]
    const table: [string, RegExp, string][] = [
      ['colour', /\bthe sky\b/, 'blue'], ['colour', /\ba banana\b/, 'yellow'], ['colour', /\bcoal\b/, 'black'],
      ['colour', /\bgrass\b/, 'green'], ['sound', /\bcow\b/, 'moos'], ['sound', /\bdog\b/, 'barks'],
      ['sound', /\bduck\b/, 'quacks'], ['sound', /\ba cat\b/, 'meows'], ['opposite', /opposite of hot\b/, 'cold'],
      ['opposite', /opposite of fast\b/, 'slow'], ['opposite', /opposite of up\b/, 'down'],
      ['plural', /plural of mouse\b|one mouse\b/, 'mice'], ['plural', /plural of child\b|one child\b/, 'children'],
      ['plural', /plural of foot\b|one foot\b/, 'feet'],
    ];
    for (const [kind, prompt, answer] of table) {
      const rows = pairsOf('facts', kind).filter((p) => prompt.test(p.prompt));
      expect({ kind, prompt: String(prompt), found: rows.length > 0 }).toEqual({ kind, prompt: String(prompt), found: true });
      const word = new RegExp(`\\b${answer}\\b`, 'i');
      for (const p of rows) {
        expect({ id: p.id, chosen: word.test(p.chosen) }).toEqual({ id: p.id, chosen: true });
        expect({ id: p.id, rejected: word.test(p.rejected) }).toEqual({ id: p.id, rejected: false });
      }
    }
  });

  test('facts: chosen and rejected answers differ in exactly one word', () => {
    for (const p of pairsOf('facts')) {
      const c = sentences(p.chosen)[0].split(' ');
      const r = sentences(p.rejected)[0].split(' ');
      expect(c.length).toBe(r.length);
      expect({ id: p.id, differing: c.filter((w, i) => w !== r[i]).length }).toEqual({ id: p.id, differing: 1 });
    }
  });

  test('politeness: chosen is polite and not rude, rejected rude and not polite, same answer sentence', () => {
    const polite = /\b(thank you|thanks|sure|of course|certainly|please)\b/i;
    const rude = /\b(ugh|duh|whatever|seriously|stop bothering|figure it out|waste my time|look it up|go away)\b/i;
    for (const p of pairsOf('politeness')) {
      expect({ id: p.id, ok: polite.test(p.chosen) && !rude.test(p.chosen) }).toEqual({ id: p.id, ok: true });
      expect({ id: p.id, ok: rude.test(p.rejected) && !polite.test(p.rejected) }).toEqual({ id: p.id, ok: true });
      // The content (a sentence of three or more words) appears verbatim on both sides.
      const shared = sentences(p.chosen).filter((s) => s.split(' ').length >= 3 && sentences(p.rejected).includes(s));
      expect({ id: p.id, shared: shared.length > 0 }).toEqual({ id: p.id, shared: true });
    }
  });

  test('format: chosen obeys the instruction in the prompt, rejected does not', () => {
    const instruction: Record<string, RegExp> = {
      uppercase: /uppercase|capitals/i, lowercase: /lowercase|small letters/i, digits: /digits/i, words: /words|spell out/i,
    };
    for (const [kind, re] of Object.entries(instruction)) {
      for (const p of pairsOf('format', kind)) {
        expect({ id: p.id, instructed: re.test(p.prompt) }).toEqual({ id: p.id, instructed: true });
        if (kind === 'uppercase') {
          expect(p.chosen).not.toMatch(/[a-z]/);
          expect(p.rejected).toMatch(/[a-z]/);
        } else if (kind === 'lowercase') {
          expect(p.chosen).not.toMatch(/[A-Z]/);
          expect(p.rejected).toMatch(/[A-Z]/);
        } else if (kind === 'digits') {
          expect(p.chosen).toMatch(/\d/);
          expect(p.rejected).not.toMatch(/\d/);
        } else {
          expect(p.chosen).not.toMatch(/\d/);
          expect(p.rejected).toMatch(/\d/);
        }
        if (kind === 'uppercase' || kind === 'lowercase') {
          // Same words, only the case differs.
          expect(sentences(p.chosen)[0].toLowerCase()).toBe(sentences(p.rejected)[0].toLowerCase());
        }
      }
    }
  });

  test('format: in uppercase and lowercase pairs no single case wins without reading the prompt', () => {
    // Capitals are chosen when asked for and rejected (some of the time) when lowercase is asked for.
    expect(pairsOf('format', 'lowercase').some((p) => !/[a-z]/.test(p.rejected))).toBe(true);
    expect(pairsOf('format', 'uppercase').some((p) => !/[A-Z]/.test(p.rejected))).toBe(true);
  });
});
