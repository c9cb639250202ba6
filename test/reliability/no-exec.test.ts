/**
 * Loaders never execute code from a file. A static scan of every src/**\/*.ts (comments stripped) for the
 * ways JavaScript can run text as code or start programs:
 *   eval(, new Function / Function(, the vm module, string timers, require()/import() of a computed name,
 *   createRequire, process.dlopen, child_process;
 * and for pickle (Python's format that runs code on load): no reader of pytorch_model.bin / .pt / .pth.
 * Every legitimate hit is whitelisted below with its reason; a stale whitelist entry fails too, so the
 * list stays true. Behavioural side: hostile.test.ts shows a pickle-only folder is refused unread, and
 * below, a chat template (the one piece of a tokenizer that is a program: Jinja, run by the sandboxed
 * @huggingface/jinja interpreter) cannot reach JavaScript through constructor chains.
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPO } from './helpers/build';
import { renderPair } from '../../src/data/render';
import { DataError } from '../../src/data/errors';

interface Rule {
  name: string;
  pattern: RegExp;
  /** Match against string contents too (module names); otherwise strings are blanked first. */
  strings?: boolean;
}

const RULES: Rule[] = [
  { name: 'eval', pattern: /(^|[^\w.])eval\s*\(/ },
  { name: 'Function constructor', pattern: /(^|[^\w.])(new\s+)?Function\s*\(/ },
  { name: 'vm module', pattern: /(from\s+['"](node:)?vm['"]|require\(\s*['"](node:)?vm['"]\s*\))/, strings: true },
  { name: 'string timer', pattern: /set(Timeout|Interval|Immediate)\s*\(\s*['"`]/, strings: true },
  { name: 'require of a computed name', pattern: /(^|[^\w.])require\s*\(\s*(?!['"][^'"`$]*['"]\s*\))/ },
  { name: 'import() of a computed name', pattern: /(^|[^\w.])import\s*\(\s*(?!['"][^'"`$]*['"]\s*\))/ },
  { name: 'createRequire', pattern: /createRequire/ },
  { name: 'process.dlopen', pattern: /process\.dlopen/ },
  { name: 'child_process', pattern: /['"](node:)?child_process['"]/, strings: true },
  { name: 'pickle reader', pattern: /(torch\.load|pickle\.load|unpickl|readFile\w*\([^)]*\.(pt|pth|pkl|bin)['"])/i, strings: true },
];

/** file (relative to src/) + rule name -> why the hit is legitimate. */
const WHITELIST: Record<string, string> = {
  'backend/index.ts|require of a computed name':
    'loads a TF.js backend package; the name always comes from the fixed PACKAGE table (tfjs-node, tfjs-node-gpu, tfjs-backend-wasm), never from a file or argument',
  'backend/native-ops.ts|require of a computed name':
    'loads this package\'s own fused-op addon, native/build/rlhf_ops.node (a fixed path beside the sources; tests pass a stand-in path)',
  'bench/run.ts|child_process':
    'the benchmark (`rlhf bench`) runs each backend in its own Node process: process.execPath with this package\'s own worker script; no loader calls it',
  'bench/trl.ts|child_process':
    'the benchmark times TRL/PyTorch beside TF.js by running the Python interpreter (RLHF_PYTHON) on this package\'s own script; no loader calls it',
  'bench/cpu-peak.ts|child_process':
    'the benchmark reads the CPU\'s flags and clock for its theoretical peak by running the fixed command `lscpu` (no arguments); no loader calls it',
  'bench/mkl-shim.ts|child_process':
    'the benchmark\'s --torch-mkl-intel-path compiles this package\'s own one-line C source with the system C compiler (CC, else cc) into its run folder; no loader calls it',
  'bench/e2e.ts|child_process':
    'the end-to-end benchmark runs `rlhf reward|dpo` (process.execPath on this package\'s bin) and TRL under this package\'s own bench/measure.py; no loader calls it',
};

function listTs(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
}

/** Drops comments (block and line) while keeping string literals, so prose about eval( does not count. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\/|(^|[^:\\'"`])\/\/.*$/gm, (m, pre: string | undefined) => (m.startsWith('/*') ? '' : pre ?? ''));
}

/** Empties string literals: `'eval (dashed)'` -> `''`, so text inside strings is not taken for code. */
function blankStrings(src: string): string {
  return src.replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, (m) => m[0] + m[0]);
}

const SRC = path.join(REPO, 'src');
const hits: Array<{ key: string; line: string }> = [];
for (const file of listTs(SRC)) {
  const rel = path.relative(SRC, file).split(path.sep).join('/');
  const code = stripComments(fs.readFileSync(file, 'utf8'));
  const views = { raw: code.split('\n'), blank: blankStrings(code).split('\n') };
  for (const rule of RULES) {
    for (const [i, l] of (rule.strings ? views.raw : views.blank).entries()) {
      if (rule.pattern.test(l)) hits.push({ key: `${rel}|${rule.name}`, line: `${rel}:${i + 1}: ${l.trim()}` });
    }
  }
}

test('the scan sees the sources (and finds the known, whitelisted uses)', () => {
  expect(listTs(SRC).length).toBeGreaterThan(40);
  expect(hits.length).toBeGreaterThan(0);
});

test.each(RULES.map((r) => [r.name] as const))('no %s outside the whitelist', (name) => {
  const bad = hits.filter((h) => h.key.endsWith(`|${name}`) && !(h.key in WHITELIST)).map((h) => h.line);
  expect(bad).toEqual([]);
});

test('every whitelist entry still matches code (the list is not stale)', () => {
  for (const key of Object.keys(WHITELIST)) expect(hits.some((h) => h.key === key)).toBe(true);
});

test('the whitelisted computed require only ever receives names from the fixed package table', () => {
  const text = stripComments(fs.readFileSync(path.join(SRC, 'backend/index.ts'), 'utf8'));
  const calls = [...text.matchAll(/\b(load|require)\(([^)]*)\)/g)].map((m) => m[2].trim());
  for (const arg of calls) expect(arg).toMatch(/^(name|PACKAGE(\.\w+|\[\w+\]))$/);
});

test('the rule patterns catch what they are meant to (self-check on samples)', () => {
  const samples: Record<string, string[]> = {
    eval: ['eval(text)', 'x = eval (s)'],
    'Function constructor': ['new Function("return 1")', 'Function(body)()'],
    'vm module': ["import * as vm from 'vm'", "require('node:vm')"],
    'string timer': ["setTimeout('alert(1)', 1)"],
    'require of a computed name': ['require(userPath)', 'require(`./${x}`)', "require('./a' + b)"],
    'import() of a computed name': ['await import(file)'],
    createRequire: ['createRequire(file)'],
    'process.dlopen': ['process.dlopen(m, f)'],
    child_process: ["import { spawn } from 'child_process'", "require('node:child_process')"],
    'pickle reader': ['torch.load(f)', "fs.readFileSync(dir + 'model.pt')"],
  };
  const view = (r: Rule, s: string) => (r.strings ? s : blankStrings(s));
  for (const r of RULES) for (const s of samples[r.name]) expect([r.name, s, r.pattern.test(view(r, s))]).toEqual([r.name, s, true]);
  // And not what they should not: literal requires and type-position imports are fine.
  const fine = ["require('hyparquet')", "import('@tensorflow/tfjs').Tensor", 'x.eval(1)', 'myFunction(1)', "label: 'eval (dashed)'"];
  for (const s of fine) for (const r of RULES) expect([s, r.name, r.pattern.test(view(r, s))]).toEqual([s, r.name, false]);
});

describe('a hostile chat template (tokenizer_config.json) cannot run JavaScript', () => {
  const record = { prompt: [{ role: 'user', content: 'hi' }], chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }], source: 'x.jsonl:1' };
  test.each([
    ["{{ ''.constructor.constructor('globalThis.__pwned = 1')() }}"],
    ["{{ messages.constructor.constructor('globalThis.__pwned = 1')() }}"],
    ["{{ messages[0].content.__proto__.constructor.constructor('globalThis.__pwned = 1')() }}"],
  ])('%s', (template) => {
    let err: unknown;
    try {
      renderPair(record as never, template);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/x\.jsonl:1: the tokenizer's chat template failed on this conversation/);
    expect((globalThis as Record<string, unknown>).__pwned).toBeUndefined();
  });
});
