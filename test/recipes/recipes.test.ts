import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRecipe, parseSetOption, RecipeError } from '../../src/recipes/load';
import { closest } from '../../src/util/suggest';
import { explainRecipe, recipeFieldDocs } from '../../src/recipes/explain';
import { ENV_FIELDS, ENV_ONLY, withEnvironment } from '../../src/recipes/settings';
import { DPO_LOSS_DEFAULTS, DPO_LOSS_DOCS, DPO_LOSS_TYPES } from '../../src/losses/dpo-config';

function tmpRecipe(obj: unknown, name = 'r.json'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-recipe-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
  return file;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RecipeError);
    return (e as Error).message;
  }
  throw new Error('expected a RecipeError');
}

const base = { data: { train: 'prefs.jsonl' } };

describe('recipe validation: one test per rule, exact messages', () => {
  test('defaults fill every stage', () => {
    const r = loadRecipe(tmpRecipe(base));
    expect(r.dpo.beta).toBe(0.1);
    expect(r.reward.batch_size).toBe(8);
    expect(r.sft.enabled).toBe(false);
    expect(r.model).toBe('config:tiny');
  });

  test('wrong type names the key path, expected and received, and the file', () => {
    const file = tmpRecipe({ ...base, dpo: { beta: 'high' } });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toBe('✖ dpo.beta: expected number, received "high" (r.json)');
  });

  test('out of range', () => {
    const file = tmpRecipe({ ...base, dpo: { beta: -1 } });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toBe('✖ dpo.beta: expected number > 0, received -1 (r.json)');
  });

  test('gradient_accumulation_steps is bounded: 1024 passes, 1025 is an error that says why and the way out', () => {
    const ok = loadRecipe(undefined, [parseSetOption('data.train=prefs.jsonl'), parseSetOption('dpo.gradient_accumulation_steps=1024')]);
    expect(ok.dpo.gradient_accumulation_steps).toBe(1024);
    const file = tmpRecipe({ ...base, sft: { gradient_accumulation_steps: 1025 } });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toBe(
      '✖ sft.gradient_accumulation_steps: expected number <= 1024, received 1025; at most 1024 micro-batches per step ' +
        "(a step's micro-batches are held in memory together); for a larger effective batch raise batch_size too (r.json)",
    );
    // Bounds without a message of their own keep the plain form.
    const ls = tmpRecipe({ ...base, dpo: { label_smoothing: 1 } });
    expect(errorOf(() => loadRecipe(ls, [], path.dirname(ls)))).toBe('✖ dpo.label_smoothing: expected number < 1, received 1 (r.json)');
  });

  test('unknown key with a suggestion', () => {
    const file = tmpRecipe({ ...base, dpo: { betta: 0.2 } });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toBe('✖ dpo.betta: unknown key; did you mean "beta"? (r.json)');
  });

  test('unknown top-level section with a suggestion', () => {
    const file = tmpRecipe({ ...base, rewards: {} });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toBe('✖ rewards: unknown key; did you mean "reward"? (r.json)');
  });

  test('bad enum lists the allowed values', () => {
    const file = tmpRecipe({ ...base, dpo: { loss_type: 'sigmod' } });
    const msg = errorOf(() => loadRecipe(file, [], path.dirname(file)));
    expect(msg).toContain('✖ dpo.loss_type:');
    expect(msg).toContain('"sigmoid"');
  });

  test('missing required field', () => {
    const file = tmpRecipe({ data: {} });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toBe('✖ data.train: expected string, but it is missing (r.json)');
  });

  test('cross-field: loss_weights count must match loss types (the losses\' own check and message)', () => {
    const file = tmpRecipe({ ...base, dpo: { loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.5, 2] } });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toBe(
      '✖ dpo.loss_weights: got 3 loss_weights for 2 loss types (sigmoid, sft); give one weight per loss type, or omit loss_weights for 1 each (r.json)',
    );
  });

  test('the recipe accepts exactly what the losses accept: ε in [0, 1), < 0.5 for robust, > 0 for exo_pair', () => {
    expect(loadRecipe(tmpRecipe({ ...base, dpo: { label_smoothing: 0.6 } })).dpo.label_smoothing).toBe(0.6);
    const robust = tmpRecipe({ ...base, dpo: { loss_type: 'robust', label_smoothing: 0.5 } });
    expect(errorOf(() => loadRecipe(robust, [], path.dirname(robust)))).toBe(
      '✖ dpo.label_smoothing: label_smoothing must be in [0, 0.5) for loss_type "robust" (it divides by 1 − 2ε); got 0.5 (r.json)',
    );
    const exo = tmpRecipe({ ...base, dpo: { loss_type: ['sigmoid', 'exo_pair'] } });
    expect(errorOf(() => loadRecipe(exo, [], path.dirname(exo)))).toContain('✖ dpo.label_smoothing: label_smoothing must be > 0 for loss_type "exo_pair"');
  });

  test('every DPO loss type and its documentation come from losses/dpo-config.ts', () => {
    for (const t of DPO_LOSS_TYPES) expect(loadRecipe(tmpRecipe({ ...base, dpo: { loss_type: t, label_smoothing: 0.1 } })).dpo.loss_type).toBe(t);
    const docs = Object.fromEntries(recipeFieldDocs().map((d) => [d.path, d]));
    for (const [field, text] of Object.entries(DPO_LOSS_DOCS)) expect(docs[`dpo.${field}`].description).toBe(text);
    expect(docs['dpo.beta'].default).toBe(String(DPO_LOSS_DEFAULTS.beta));
  });

  test('cross-field: prompt limit must leave room', () => {
    const file = tmpRecipe({ ...base, reward: { max_length: 64, max_prompt_length: 64 } });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toBe(
      '✖ reward.max_prompt_length: must be smaller than max_length (64 >= 64), or there is no room for the completion (r.json)',
    );
  });

  test('cross-field: eval file and eval_count exclude each other', () => {
    const file = tmpRecipe({ data: { train: 'a.jsonl', eval: 'b.jsonl', eval_count: 10 } });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toBe(
      '✖ data.eval: set either an eval file or eval_count/eval_fraction, not both (r.json)',
    );
  });

  test('invalid JSON gives line and column', () => {
    const file = tmpRecipe('{\n  "data": {\n    "train": "x",\n  }\n}');
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toMatch(/^recipe r\.json: invalid JSON at line 4, column 3/);
  });

  test('missing recipe file suggests a close sibling', () => {
    const file = tmpRecipe(base, 'quickstart.json');
    const typo = path.join(path.dirname(file), 'quikstart.json');
    expect(errorOf(() => loadRecipe(typo))).toContain(`does not exist (did you mean ${file}?)`);
  });

  test('name must be a safe folder name', () => {
    const file = tmpRecipe({ ...base, name: '../escape' });
    expect(errorOf(() => loadRecipe(file, [], path.dirname(file)))).toContain('✖ name: use letters, digits');
  });
});

describe('overrides and path resolution', () => {
  test('paths in a recipe resolve relative to the recipe file; config: and byte are kept', () => {
    const file = tmpRecipe({ data: { train: '../data/p.jsonl' }, model: 'config:tiny', tokenizer: 'byte', compare: { probes: 'probes' } });
    const r = loadRecipe(file, [], '/');
    expect(r.data.train).toBe(path.resolve(path.dirname(file), '../data/p.jsonl'));
    expect(r.compare.probes).toBe(path.join(path.dirname(file), 'probes'));
    expect(r.model).toBe('config:tiny');
    expect(r.tokenizer).toBe('byte');
  });

  test('--set values are JSON when they parse, strings otherwise; their paths resolve against the cwd', () => {
    const file = tmpRecipe(base);
    const r = loadRecipe(file, [parseSetOption('dpo.beta=0.25'), parseSetOption('dpo.loss_type=["ipo","sft"]'), parseSetOption('data.eval=held.jsonl')], '/work/x');
    expect(r.dpo.beta).toBe(0.25);
    expect(r.dpo.loss_type).toEqual(['ipo', 'sft']);
    expect(r.data.eval).toBe('/work/x/held.jsonl');
  });

  test('a bad --set names its origin', () => {
    const file = tmpRecipe(base);
    expect(errorOf(() => loadRecipe(file, [parseSetOption('dpo.beta=-2')], path.dirname(file)))).toBe(
      '✖ dpo.beta: expected number > 0, received -2 (--set)',
    );
    expect(errorOf(() => loadRecipe(file, [parseSetOption('dpo.betta=2')], path.dirname(file)))).toBe(
      '✖ dpo.betta: unknown key; did you mean "beta"? (--set)',
    );
  });

  test('--set without "=" and prototype keys are rejected', () => {
    expect(errorOf(() => parseSetOption('dpo.beta'))).toBe('--set "dpo.beta": expected key.path=value, e.g. --set dpo.beta=0.2');
    const file = tmpRecipe(base);
    expect(errorOf(() => loadRecipe(file, [parseSetOption('__proto__.x=1')]))).toContain('not a valid key path');
  });

  test('flags alone (no recipe file) need data', () => {
    expect(errorOf(() => loadRecipe(undefined, []))).toContain('no training data: pass --data FILE');
  });
});

describe('recipe explain', () => {
  test('every field is documented, with defaults', () => {
    const docs = recipeFieldDocs();
    expect(docs.length).toBeGreaterThan(60);
    for (const d of docs) expect(d.description.length).toBeGreaterThan(5);
    expect(explainRecipe('dpo.beta')).toContain('(default 0.1)');
  });
  test('closest() suggests within a small edit distance only', () => {
    expect(closest('lerning_rate', ['learning_rate', 'epochs'])).toBe('learning_rate');
    expect(closest('zzz', ['learning_rate', 'epochs'])).toBeNull();
  });
});

describe('settings: flag > recipe (file or --set) > environment variable > default', () => {
  const flag = (v: string) => ({ key: 'backend', value: v, origin: '--backend' });
  const cwd = os.tmpdir();

  test('a recipe that does not name the backend takes RLHF_BACKEND (normalised), not the schema default', () => {
    expect(loadRecipe(tmpRecipe(base), [], cwd, {}).backend).toBe('auto');
    expect(loadRecipe(tmpRecipe(base), [], cwd, { RLHF_BACKEND: ' WASM ' }).backend).toBe('wasm');
    expect(loadRecipe(tmpRecipe(base), [], cwd, { RLHF_BACKEND: '' }).backend).toBe('auto');
    // No recipe file, flags only: the same.
    expect(loadRecipe(undefined, [parseSetOption('data.train=x.jsonl')], cwd, { RLHF_BACKEND: 'cpu' }).backend).toBe('cpu');
  });

  test('a recipe that names the backend wins over RLHF_BACKEND, even when it names the default value', () => {
    expect(loadRecipe(tmpRecipe({ ...base, backend: 'cpu' }), [], cwd, { RLHF_BACKEND: 'wasm' }).backend).toBe('cpu');
    expect(loadRecipe(tmpRecipe({ ...base, backend: 'auto' }), [], cwd, { RLHF_BACKEND: 'wasm' }).backend).toBe('auto');
    expect(loadRecipe(tmpRecipe(base), [parseSetOption('backend=auto')], cwd, { RLHF_BACKEND: 'wasm' }).backend).toBe('auto');
  });

  test('a flag wins over the recipe and RLHF_BACKEND', () => {
    expect(loadRecipe(tmpRecipe({ ...base, backend: 'cpu' }), [flag('wasm')], cwd, { RLHF_BACKEND: 'tensorflow' }).backend).toBe('wasm');
    expect(loadRecipe(tmpRecipe(base), [parseSetOption('backend=cpu'), flag('wasm')], cwd, {}).backend).toBe('wasm');
  });

  test('a bad RLHF_BACKEND is named as the origin; a recipe that names the backend never reads it', () => {
    expect(errorOf(() => loadRecipe(tmpRecipe(base), [], cwd, { RLHF_BACKEND: 'webgl' })))
      .toBe('✖ backend: expected one of "auto", "tensorflow", "wasm", "cpu", received "webgl" (RLHF_BACKEND)');
    expect(loadRecipe(tmpRecipe({ ...base, backend: 'cpu' }), [], cwd, { RLHF_BACKEND: 'webgl' }).backend).toBe('cpu');
  });
});

describe('settings for recipes given as objects (the library calls)', () => {
  test('withEnvironment fills what the object leaves out and leaves the object unchanged', () => {
    const input = { data: { train: 'x.jsonl' } };
    expect(withEnvironment(input, { RLHF_BACKEND: 'wasm' })).toEqual({ data: { train: 'x.jsonl' }, backend: 'wasm' });
    expect(input).toEqual({ data: { train: 'x.jsonl' } });
    expect(withEnvironment({ ...input, backend: 'auto' }, { RLHF_BACKEND: 'wasm' }).backend).toBe('auto');
    expect(withEnvironment(input, {})).toEqual(input);
  });
});

test('every RLHF_* variable src/ reads is listed once, as a recipe field or as environment-only, and the README names each', () => {
  const src = path.resolve(__dirname, '../../src');
  const files = (fs.readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const read = new Set<string>();
  for (const f of files) {
    for (const m of fs.readFileSync(path.join(src, f), 'utf8').matchAll(/env(?:\.|\[['"])(RLHF_[A-Z0-9_]+)/g)) read.add(m[1]);
  }
  const listed = [...ENV_FIELDS.map((f) => f.env), ...Object.keys(ENV_ONLY)];
  expect(new Set(listed).size).toBe(listed.length);
  for (const v of read) expect(listed).toContain(v);
  expect(read.size).toBeGreaterThanOrEqual(6); // the scan finds them (RLHF_BACKEND, RLHF_CACHE_DIR, RLHF_NATIVE_OPS, ...)
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  for (const v of listed) expect(readme).toContain(`\`${v}`);
});
