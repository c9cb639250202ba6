/**
 * Loading a recipe: read the JSON file (errors with line:column), resolve its paths relative to the
 * recipe file, apply `--set key.path=value` overrides and flag values (paths relative to the cwd), fill
 * the fields none of them named from their environment variables (settings.ts: flag > recipe > environment
 * > default), validate with the schema, then run the cross-field checks (all in `crossFieldIssues`).
 * Errors list every problem as `✖ dpo.beta: expected number > 0, received -1 (recipes/dpo.json)`.
 *
 * Does NOT: run anything or check that paths exist (the stages do, naming the recipe field).
 */
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { dpoConfigProblems } from '../losses/dpo-config';
import { PATH_FIELDS, Recipe, RecipeSchema } from './schema';
import { valuesFromEnvironment } from './settings';
import { FileReadError, readBoundedFile } from '../util/bounded';
import { describeValue, jsonDepth, MAX_JSON_DEPTH } from '../util/json';
import { closest, suggestSibling } from '../util/suggest';

export class RecipeError extends Error {}

/** An override from the command line: a dotted key path and a value (JSON, else a plain string). */
export interface Override {
  key: string;
  value: unknown;
  /** Where it came from, for messages: "--set" or the flag name. */
  origin: string;
}

/** "dpo.beta=0.2" -> {key: "dpo.beta", value: 0.2}; "data.train=x.jsonl" -> string value. */
export function parseSetOption(text: string): Override {
  const eq = text.indexOf('=');
  if (eq <= 0) {
    throw new RecipeError(`--set "${text}": expected key.path=value, e.g. --set dpo.beta=0.2`);
  }
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: keep the text as a string (paths, names)
  }
  return { key, value, origin: '--set' };
}

/**
 * Builds a validated recipe. `file` may be undefined (flags only: then `data.train` must come from flags).
 * Paths inside the file resolve against its folder; override paths against `cwd`. A field that neither the
 * file nor an override names takes its environment variable from `env` when set (RLHF_BACKEND -> backend).
 */
export function loadRecipe(file: string | undefined, overrides: Override[] = [], cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): Recipe {
  let raw: Record<string, unknown> = {};
  const label = file ? path.relative(cwd, file) || file : 'command line';
  if (file) {
    raw = readRecipeJson(file, label);
    resolvePaths(raw, path.dirname(path.resolve(cwd, file)));
  }
  const origins = new Map<string, string>();
  for (const o of overrides) {
    const value = (PATH_FIELDS as readonly string[]).includes(o.key) && typeof o.value === 'string' ? resolveOne(o.value, cwd) : o.value;
    setPath(raw, o.key, value, o.origin);
    origins.set(o.key, o.origin);
  }
  for (const e of valuesFromEnvironment(raw, env)) {
    setPath(raw, e.key, e.value, e.origin);
    origins.set(e.key, e.origin);
  }
  if (!file && raw.data === undefined) {
    throw new RecipeError('no training data: pass --data FILE (or --recipe FILE). Example: rlhf reward --data data/prefs.jsonl');
  }
  const parsed = RecipeSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    throw new RecipeError(formatIssues(parsed.error.issues, label, origins));
  }
  const recipe = parsed.data;
  const cross = crossFieldIssues(recipe);
  if (cross.length) {
    throw new RecipeError(cross.map((c) => `✖ ${c.path}: ${c.message} (${origins.get(c.path) ?? label})`).join('\n'));
  }
  return recipe;
}

const MAX_RECIPE_BYTES = 16 * 1024 * 1024;

function readRecipeJson(file: string, label: string): Record<string, unknown> {
  let text: string;
  if (!fs.existsSync(file)) {
    throw new RecipeError(`recipe ${label} does not exist${suggestSibling(file)}. Ready recipes are in recipes/ (e.g. recipes/quickstart.json)`);
  }
  try {
    // Bounded: recipes are kilobytes; a FIFO, a device or a 10 GB file is refused instead of read.
    text = readBoundedFile(file, MAX_RECIPE_BYTES, 'recipe JSON file').toString('utf8');
  } catch (e) {
    throw new RecipeError(`recipe ${label} cannot be read: ${e instanceof FileReadError ? e.detail : (e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new RecipeError(`recipe ${label}: invalid JSON ${locateJsonError(text, (e as Error).message)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RecipeError(`recipe ${label}: expected a JSON object at the top level`);
  }
  // Deep nesting would overflow the stack later (zod, messages); real recipes nest 3 levels.
  if (jsonDepth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new RecipeError(`recipe ${label}: nests deeper than ${MAX_JSON_DEPTH} levels; expected a recipe object (see recipes/quickstart.json)`);
  }
  return value as Record<string, unknown>;
}

/** Turns V8's "... at position 123" into "at line 5, column 7: <message>". */
function locateJsonError(text: string, raw: string): string {
  // V8 quotes a snippet of the text in some messages ("Unexpected token 'o', "{\n..." is not valid JSON"):
  // keep the error on one line.
  const message = raw.replace(/\s*\n\s*/g, ' ');
  const m = /position (\d+)/.exec(message);
  if (!m) return `(${message})`;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `at line ${line}, column ${col}: ${message.replace(/ in JSON at position \d+.*$/, '')}`;
}

function resolveOne(value: string, base: string): string {
  if (value.startsWith('config:') || value === 'byte') return value;
  return path.resolve(base, value);
}

function resolvePaths(raw: Record<string, unknown>, base: string): void {
  for (const field of PATH_FIELDS) {
    const parts = field.split('.');
    let obj: unknown = raw;
    for (const p of parts.slice(0, -1)) obj = obj && typeof obj === 'object' ? (obj as Record<string, unknown>)[p] : undefined;
    const last = parts[parts.length - 1];
    if (obj && typeof obj === 'object' && typeof (obj as Record<string, unknown>)[last] === 'string') {
      const o = obj as Record<string, unknown>;
      o[last] = resolveOne(o[last] as string, base);
    }
  }
}

function setPath(raw: Record<string, unknown>, key: string, value: unknown, origin: string): void {
  const parts = key.split('.');
  if (parts.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
    throw new RecipeError(`${origin} ${key}: not a valid key path; expected e.g. dpo.beta`);
  }
  let obj = raw;
  for (const p of parts.slice(0, -1)) {
    const next = obj[p];
    if (next === undefined) obj[p] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new RecipeError(`${origin} ${key}: "${p}" is not a section, so it has no field "${parts[parts.length - 1]}"`);
    }
    obj = obj[p] as Record<string, unknown>;
  }
  obj[parts[parts.length - 1]] = value;
}

/** All cross-field rules live here, with messages that quote the numbers. */
export function crossFieldIssues(r: Recipe): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const d = r.dpo;
  const loss = { beta: d.beta, loss_type: d.loss_type, loss_weights: d.loss_weights, label_smoothing: d.label_smoothing, reference_free: d.reference_free, discopop_tau: d.discopop_tau };
  for (const p of dpoConfigProblems(loss)) out.push({ path: `dpo.${p.field}`, message: p.message });
  if (r.data.eval !== undefined && (r.data.eval_count !== undefined || r.data.eval_fraction !== undefined)) {
    out.push({ path: 'data.eval', message: 'set either an eval file or eval_count/eval_fraction, not both' });
  }
  if (r.data.eval_count !== undefined && r.data.eval_fraction !== undefined) {
    out.push({ path: 'data.eval_count', message: 'set eval_count or eval_fraction, not both' });
  }
  for (const stage of ['sft', 'reward', 'dpo'] as const) {
    const s = r[stage];
    if (s.max_prompt_length !== null && s.max_prompt_length >= s.max_length) {
      out.push({ path: `${stage}.max_prompt_length`, message: `must be smaller than max_length (${s.max_prompt_length} >= ${s.max_length}), or there is no room for the completion` });
    }
  }
  for (const stage of ['grpo', 'online_dpo'] as const) {
    const s = r[stage];
    if (s.batch_size % s.num_generations !== 0) {
      out.push({ path: `${stage}.batch_size`, message: `counts completions and must be a multiple of num_generations (${s.batch_size} is not a multiple of ${s.num_generations})` });
    }
  }
  if (r.dpo.reference_free && r.dpo.reference !== undefined) {
    out.push({ path: 'dpo.reference', message: 'a reference is set but reference_free is true; remove one of them' });
  }
  return out;
}

function formatIssues(issues: z.core.$ZodIssue[], label: string, origins: Map<string, string>): string {
  return issues
    .map((i) => {
      const at = i.path.map(String).join('.');
      if (i.code === 'unrecognized_keys') {
        return i.keys
          .map((k) => {
            const full = at ? `${at}.${k}` : k;
            const hint = suggestKey(at, k);
            return `✖ ${full}: unknown key${hint ? `; did you mean "${hint}"?` : ''} (${origins.get(full) ?? label})`;
          })
          .join('\n');
      }
      return `✖ ${at || '(top level)'}: ${describeIssue(i)} (${origins.get(at) ?? label})`;
    })
    .join('\n');
}

function describeIssue(i: z.core.$ZodIssue): string {
  const received = 'input' in i && i.input !== undefined ? `, received ${describeValue(i.input)}` : '';
  switch (i.code) {
    case 'invalid_type':
      return `expected ${i.expected}${received || (i.message.includes('received undefined') ? ', but it is missing' : '')}`;
    case 'too_small':
      return `expected ${i.origin === 'array' ? 'at least ' + i.minimum + ' entries' : `number ${i.inclusive ? '>=' : '>'} ${i.minimum}`}${received}`;
    case 'too_big':
      return `expected ${i.origin === 'array' ? 'at most ' + i.maximum + ' entries' : `number ${i.inclusive ? '<=' : '<'} ${i.maximum}`}${received}${schemaHint(i.message)}`;
    case 'invalid_value':
      return `expected one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}${received}`;
    case 'invalid_union': {
      // Report the branch that got furthest: an enum mismatch is the most helpful one.
      const nested = i.errors.flat();
      const pick = nested.find((n) => n.code === 'invalid_value') ?? nested[0];
      return pick ? describeIssue({ ...pick, input: i.input } as z.core.$ZodIssue) : i.message + received;
    }
    default:
      return i.message.replace(/^Invalid input: /, '') + received;
  }
}

/** A bound's own message from the schema (`.max(n, 'why')`) as a suffix; zod's generic "Too big: ..." adds nothing. */
function schemaHint(message: string): string {
  return message && !/^Too (big|small)\b/.test(message) ? `; ${message}` : '';
}

/** Known keys of the section at `sectionPath`, from the schema itself. */
function knownKeys(sectionPath: string): string[] {
  let s: z.ZodType = RecipeSchema;
  for (const p of sectionPath ? sectionPath.split('.') : []) {
    s = unwrap(s);
    if (!(s instanceof z.ZodObject)) return [];
    s = (s.shape as Record<string, z.ZodType>)[p];
    if (!s) return [];
  }
  s = unwrap(s);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur: z.ZodType = s;
  for (;;) {
    if (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) {
      cur = (cur as unknown as { unwrap(): z.ZodType }).unwrap();
    } else return cur;
  }
}

function suggestKey(section: string, key: string): string | null {
  return closest(key, knownKeys(section));
}

