/**
 * The hostile-input corpus (test/fixtures/hostile/cases.ts), one test per case. Each input must give:
 *  - a named toolkit error (the case's class; never TypeError/RangeError/SyntaxError or a bare Error),
 *    whose message names the file and says what was expected, on one line, without a stack;
 *  - no allocation proportional to what the file claims: process arrayBuffers grow by less than 32 MiB
 *    (claims are 1 GB to 2^93 bytes; an allocate-first reader would show them or die with a RangeError),
 *    and no tf tensor is left behind;
 *  - no write: the case's folder is byte-for-byte and mtime-for-mtime unchanged.
 * Plus damaged trainer state on resume (a real checkpoint from a 2-step reward run, then edited).
 * Set RELIABILITY_TABLE=1 to print the table of cases and messages.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { HOSTILE_CASES, type HostileCase } from '../fixtures/hostile/cases';
import { loadRecipe, parseSetOption } from '../../src/recipes/load';
import { trainReward } from '../../src/train/stages';
import { readSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import { REPO } from './helpers/build';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-hostile-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const FORBIDDEN = ['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError'];
const rows: string[] = [];

/** Every entry under dir (not following symlinks): path -> kind, size, mtime. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d)) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      out[path.relative(dir, p)] = `${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFIFO() ? 'p' : 'f'} ${st.size} ${st.mtimeMs}`;
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

interface Outcome {
  error: unknown;
  allocated: number;
  tensorsLeft: number;
}

async function attempt(run: () => unknown): Promise<Outcome> {
  const tensors = tf.memory().numTensors;
  const before = process.memoryUsage().arrayBuffers;
  let error: unknown = null;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  // Measured before any forced GC: a big buffer allocated and dropped on the error path still counts.
  const allocated = process.memoryUsage().arrayBuffers - before;
  return { error, allocated, tensorsLeft: tf.memory().numTensors - tensors };
}

function expectClearError(o: Outcome, cls: string, names: string, message: RegExp, maxAlloc: number) {
  const e = o.error as Error;
  expect(e).toBeInstanceOf(Error);
  expect(FORBIDDEN).not.toContain(e.constructor.name);
  expect(e.constructor.name).toBe(cls);
  expect(e.message).toContain(names);
  expect(e.message).toMatch(message);
  expect(e.message).not.toMatch(/\n\s+at /); // no stack inside the message
  // One line, except a recipe's list of problems (one "✖ key: ..." line each).
  const lines = e.message.split('\n');
  expect(lines.length === 1 || lines.every((l) => l.startsWith('✖ '))).toBe(true);
  expect(e.message.length).toBeLessThan(2000);
  expect(o.tensorsLeft).toBe(0);
  expect(o.allocated).toBeLessThan(maxAlloc);
}

function record(area: string, id: string, what: string, o: Outcome, claims?: string) {
  const e = o.error as Error;
  const msg = e?.message?.replace(root, '<tmp>').replace(/\/tmp\/rlhf-hostile-\w+/g, '<tmp>').split('\n')[0].slice(0, 150);
  rows.push(`| ${area} | ${id} | ${what}${claims ? ` (claims ${claims})` : ''} | ${e?.constructor?.name} | ${(o.allocated / 2 ** 20).toFixed(1)} MiB | ${msg} |`);
}

afterAll(() => {
  if (process.env.RELIABILITY_TABLE) process.stdout.write(['| area | case | input | error | alloc | message |', '|---|---|---|---|---|---|', ...rows].join('\n') + '\n');
});

test('the corpus has at least 40 cases across every area, with unique ids', () => {
  expect(HOSTILE_CASES.length).toBeGreaterThanOrEqual(40);
  expect(new Set(HOSTILE_CASES.map((c) => c.id)).size).toBe(HOSTILE_CASES.length);
  expect(new Set(HOSTILE_CASES.map((c) => c.area))).toEqual(new Set(['safetensors', 'hf-folder', 'checkpoint', 'llama2c', 'tokenizer', 'data', 'recipe']));
});

describe.each(['safetensors', 'hf-folder', 'checkpoint', 'llama2c', 'tokenizer', 'data', 'recipe'])('%s', (area) => {
  const cases = HOSTILE_CASES.filter((c) => c.area === area);
  test.each(cases.map((c) => [`${c.id}: ${c.what}`, c] as [string, HostileCase]))('%s', async (_name, c) => {
    const dir = fs.mkdtempSync(path.join(root, `${c.id}-`));
    const built = await c.build(dir);
    const before = snapshot(dir);
    const o = await attempt(built.run);
    record(c.area, c.id, c.what, o, built.claims);
    expectClearError(o, c.error, built.names, c.message, c.maxAlloc ?? 32 * 2 ** 20);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('damaged trainer state on resume: a TrainerStateError before anything in the run folder changes', () => {
  let base: string;
  const recipe = () => loadRecipe(undefined, [
    `data.train=${path.join(REPO, 'data/prefs.jsonl')}`, 'data.limit=12', 'reward.max_steps=4', 'reward.batch_size=4',
    'reward.max_length=48', 'reward.max_prompt_length=24', 'reward.save_steps=2',
  ].map(parseSetOption));
  beforeAll(async () => {
    base = path.join(root, 'resume-base');
    await trainReward(recipe(), { out: base, quiet: true, cacheDir: null });
  });

  const editState = (f: (s: Record<string, unknown>) => void) => (ck: string) => {
    const p = path.join(ck, 'trainer_state.json');
    const s = JSON.parse(fs.readFileSync(p, 'utf8'));
    f(s);
    fs.writeFileSync(p, JSON.stringify(s));
  };
  const editOptimizer = (f: (t: Map<string, unknown>) => void) => (ck: string) => {
    const p = path.join(ck, 'optimizer.safetensors');
    const t = readSafetensors(p).tensors;
    f(t);
    fs.writeFileSync(p, Buffer.concat(serializeSafetensors(t as never)));
  };
  test.each([
    ['state-step-string', 'trainer_state.json step "x"', editState((s) => { s.step = 'x'; }), /trainer_state\.json field "step" is "x"; expected a non-negative integer/],
    ['state-data-null', 'trainer_state.json dataState null', editState((s) => { s.dataState = null; }), /field "dataState" is null; expected the saved data position/],
    ['state-data-negative', 'dataState index -3', editState((s) => { (s.dataState as Record<string, unknown>).index = -3; }), /field "dataState": saved data position \{epoch: \d+, index: -3\} is not a pair of non-negative integers/],
    ['state-moment-missing', 'optimizer.safetensors lacks one Adam moment', editOptimizer((t) => { t.delete('exp_avg_sq.score.weight'); }), /optimizer\.safetensors lacks "exp_avg_sq\.score\.weight"/],
    ['state-moment-shape', 'an Adam moment of the wrong shape', editOptimizer((t) => { t.set('exp_avg.score.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) }); }), /optimizer state "exp_avg\.score\.weight" has shape \[2\] but the parameter has \[1,64\]/],
  ] as const)('%s: %s', async (id, what, edit, message) => {
    const out = path.join(root, id);
    fs.cpSync(base, out, { recursive: true });
    edit(path.join(out, 'checkpoint-2'));
    const before = snapshot(out);
    const o = await attempt(() => trainReward(recipe(), { out, resume: true, quiet: true, cacheDir: null }));
    record('trainer-state', id, what, o);
    expectClearError(o, 'TrainerStateError', path.join(out, 'checkpoint-2'), message, 32 * 2 ** 20);
    expect((o.error as Error).message).toMatch(/Resume from another checkpoint-N \(--resume DIR\) or start over \(--overwrite\)/);
    expect(snapshot(out)).toEqual(before);
  });
});
