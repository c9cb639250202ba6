/** The shipped probe sets: form, size, and that a and b differ in the one attribute each file names. */
import * as path from 'path';
import { bytes, DATA, Probe, probeFiles, readJsonl, readPairs } from './shipped';

const probes = new Map(probeFiles().map((f) => [f.replace(/\.jsonl$/, ''), readJsonl<Probe>(path.join(DATA, 'probes', f))]));
function probeSet(name: string): Probe[] {
  const rows = probes.get(name);
  if (rows === undefined) throw new Error(`data/probes/${name}.jsonl is missing`);
  return rows;
}

describe('shipped probe sets', () => {
  test('the documented files exist, each with 40 to 60 probes of the form {probe, prompt, a, b}', () => {
    expect([...probes.keys()].sort()).toEqual(
      ['correctness-vs-length', 'formatting', 'hedging', 'politeness', 'uppercase', 'verbosity']);
    for (const [name, rows] of probes) {
      expect(rows.length).toBeGreaterThanOrEqual(40);
      expect(rows.length).toBeLessThanOrEqual(60);
      const bad = rows.filter((r) => JSON.stringify(Object.keys(r)) !== '["probe","prompt","a","b"]' || r.probe !== name
        || r.a === r.b || bytes(r.prompt) > 60 || bytes(r.a) > 80 || bytes(r.b) > 80);
      expect({ name, bad }).toEqual({ name, bad: [] });
      expect(new Set(rows.map((r) => JSON.stringify(r))).size).toBe(rows.length);
    }
  });

  test('probe prompts are held out: none occurs in the training pairs', () => {
    const trainPrompts = new Set(readPairs('prefs.jsonl').map((p) => p.prompt));
    for (const rows of probes.values()) expect(rows.filter((r) => trainPrompts.has(r.prompt))).toEqual([]);
  });

  test('verbosity: b is a followed by extra sentences', () => {
    for (const r of probeSet('verbosity')) {
      expect(r.b.startsWith(`${r.a} `)).toBe(true);
      expect(r.b.slice(r.a.length)).not.toMatch(/\d/);
    }
  });

  test('politeness: a polite, b rude, the same answer sentence; a is the longer one in half of them', () => {
    const polite = /\b(thank you|thanks|sure|of course|certainly|please)\b/i;
    const rude = /\b(ugh|duh|whatever|seriously|stop bothering|figure it out|waste my time|look it up|go away)\b/i;
    const rows = probeSet('politeness');
    for (const r of rows) {
      expect(polite.test(r.a) && !rude.test(r.a)).toBe(true);
      expect(rude.test(r.b) && !polite.test(r.b)).toBe(true);
    }
    expect(rows.filter((r) => bytes(r.a) > bytes(r.b)).length).toBe(rows.length / 2);
  });

  test('hedging: b contains a\'s answer plus a hedge', () => {
    const hedge = /\b(I think|maybe|not sure|I guess|probably)\b/i;
    for (const r of probeSet('hedging')) {
      expect(hedge.test(r.a)).toBe(false);
      expect(hedge.test(r.b)).toBe(true);
      // Same answer: a without its first letter's case and final stop appears inside b.
      expect(r.b.toLowerCase()).toContain(r.a.slice(1, -1).toLowerCase());
    }
  });

  test('formatting: b is a with markdown added', () => {
    for (const r of probeSet('formatting')) {
      expect([`- ${r.a}`, `* ${r.a}`, `**${r.a}**`, `1. ${r.a}`]).toContain(r.b);
    }
  });

  test('uppercase: b is a in capitals, same length', () => {
    for (const r of probeSet('uppercase')) {
      expect(r.b).toBe(r.a.toUpperCase());
      expect(r.a).toMatch(/[a-z]/);
    }
  });

  test('correctness-vs-length: a is the short correct answer, b a longer wrong one', () => {
    const rows = probeSet('correctness-vs-length');
    let arithmetic = 0;
    for (const r of rows) {
      expect(bytes(r.b)).toBeGreaterThan(bytes(r.a));
      const m = /(\d+) ([+-]) (\d+)/.exec(r.prompt);
      if (m) {
        arithmetic++;
        const truth = m[2] === '+' ? Number(m[1]) + Number(m[3]) : Number(m[1]) - Number(m[3]);
        expect(Number(/(\d+)\.$/.exec(r.a)![1])).toBe(truth);
        expect(Number(/(\d+)\.(?!.*\d)/.exec(r.b)![1])).not.toBe(truth);
      } else {
        // Facts: the answers differ in exactly one word of the first sentence.
        const a = r.a.split(' ');
        const b = r.b.split(/(?<=[.!?]) /)[0].split(' ');
        expect(b.length).toBe(a.length);
        expect(a.filter((w, i) => w !== b[i]).length).toBe(1);
      }
    }
    expect(arithmetic).toBeGreaterThan(0);
    expect(arithmetic).toBeLessThan(rows.length);
  });
});
