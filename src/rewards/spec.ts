/**
 * Reward specs: one string names a reward source (`--reward SPEC` in bon, GRPO, online DPO and the frontier).
 *
 *   PATH                         a reward-model checkpoint (or run) folder: explicit.ts
 *   implicit:POLICY[,REFERENCE]  β·(log πθ − log πref); β and the reference from the policy's rlhf.json: implicit.ts
 *   implicit-sum:POLICY          β·log πθ, reference-free
 *   implicit-mean:POLICY         β·log πθ / completion tokens, reference-free
 *   fn:FILE.mjs                  a user function, off the main thread with a timeout: fn.ts
 *   oracle                       the shipped data's programmatic judge: oracle.ts
 *   judge:MODEL                  a generative judge, each completion against a baseline answer: judge.ts
 *
 * Options follow a `?` as `key=value` pairs joined by `&`, e.g. `runs/rm?truncation_mode=keep_end&max_length=512`
 * or `fn:len.mjs?timeout=30`. Model sources take beta, max_length, max_prompt_length (a number or null) and
 * truncation_mode; they win over the caller's flags (ctx.overrides), which win over the checkpoint's rlhf.json.
 * fn: takes timeout (seconds). A kind given an option it does not take is an error.
 *
 * A new kind is one entry in KINDS (or registerRewardKind at run time). judge: takes template (a file), labels
 * (two, comma-separated: labels=B,T) and max_length.
 *
 * Does NOT: score anything itself, or combine sources (combine.ts).
 */
import * as fs from 'fs';
import { TRUNCATION_MODES } from '../data/collate';
import { resolveModelPath } from '../io/load-model';
import { overridesFrom, type ScoringOverrides, type ScoringSettings } from '../io/scoring-settings';
import { closest, suggestSibling } from '../util/suggest';
import { rewardModelSource } from './explicit';
import { fnSource } from './fn';
import { implicitSource, type ImplicitVariant } from './implicit';
import { oracleReward } from './oracle';
import { judgeReward, type JudgeRewardOptions } from './judge';
import { RewardError, type RewardSource } from './types';

/** What the caller of parseRewardSpec supplies (flags common to every spec). */
export interface RewardSpecContext {
  /** A tokenizer other than each model's own (--tokenizer). */
  tokenizer?: string;
  /** Scoring settings from flags (--beta, --max-length ...), under the spec's own options. */
  overrides?: ScoringOverrides;
  /** Pairs per forward pass for model sources. */
  batchSize?: number;
  /** Timeout of one fn: call, in ms, unless the spec sets ?timeout=. */
  fnTimeoutMs?: number;
  /** Seed of a config:NAME reference's random init. */
  seed?: number;
}

/** A spec's `?` options, as written (strings). */
export type SpecOptions = Record<string, string>;

export interface RewardKind {
  /** How the kind is written, for error messages: "implicit:POLICY[,REFERENCE]". */
  usage: string;
  /** The option keys it takes after `?`. */
  options: readonly string[];
  /** The source, from the part after the prefix; `spec` is the whole spec (the source's name). */
  build(arg: string, opts: SpecOptions, ctx: RewardSpecContext, spec: string): RewardSource;
}

const SCORING_KEYS = ['beta', 'max_length', 'max_prompt_length', 'truncation_mode'] as const;

/** The spec's scoring options as overrides ("spec ?beta"), on top of the caller's flags. */
function scoringOverrides(spec: string, opts: SpecOptions, ctx: RewardSpecContext): ScoringOverrides {
  const values: Partial<ScoringSettings> = {};
  const num = (k: string, int: boolean) => {
    const v = Number(opts[k]);
    if (opts[k].trim() === '' || !Number.isFinite(v) || v <= 0 || (int && !Number.isInteger(v))) {
      throw new RewardError(`reward spec "${spec}": ${k}=${opts[k]} is not a ${int ? 'positive integer' : 'positive number'}`);
    }
    return v;
  };
  if (opts.beta !== undefined) values.beta = num('beta', false);
  if (opts.max_length !== undefined) values.max_length = num('max_length', true);
  if (opts.max_prompt_length !== undefined) values.max_prompt_length = opts.max_prompt_length === 'null' ? null : num('max_prompt_length', true);
  if (opts.truncation_mode !== undefined) {
    if (!(TRUNCATION_MODES as readonly string[]).includes(opts.truncation_mode)) {
      throw new RewardError(`reward spec "${spec}": truncation_mode=${opts.truncation_mode}; expected one of ${TRUNCATION_MODES.join(', ')}`);
    }
    values.truncation_mode = opts.truncation_mode as ScoringSettings['truncation_mode'];
  }
  return { ...ctx.overrides, ...overridesFrom(values, (f) => `reward spec ?${f}`) };
}

/** A model path of a spec: it must exist (a run folder, checkpoint, HF folder, .bin) or be config:NAME. */
function modelPath(spec: string, p: string, what: string): string {
  if (p === '') throw new RewardError(`reward spec "${spec}": no ${what} path given`);
  if (!p.startsWith('config:') && !fs.existsSync(resolveModelPath(p))) {
    throw new RewardError(`reward spec "${spec}": ${what} ${p} does not exist${suggestSibling(p)}`);
  }
  return p;
}

const modelOpts = (spec: string, opts: SpecOptions, ctx: RewardSpecContext) => ({
  name: spec, tokenizer: ctx.tokenizer, overrides: scoringOverrides(spec, opts, ctx), batchSize: ctx.batchSize,
});

/** judge:MODEL's options: ?template=FILE&labels=B,T&max_length=N. */
function judgeSpecOptions(spec: string, opts: SpecOptions, ctx: RewardSpecContext): JudgeRewardOptions {
  const labels = opts.labels?.split(',').map((l) => l.trim());
  if (labels && (labels.length !== 2 || !labels[0] || !labels[1] || labels[0] === labels[1])) {
    throw new RewardError(`reward spec "${spec}": labels=${opts.labels}; expected two different labels separated by a comma (labels=B,T)`);
  }
  const maxLength = opts.max_length === undefined ? undefined : Number(opts.max_length);
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength > 1)) throw new RewardError(`reward spec "${spec}": max_length=${opts.max_length} is not an integer above 1`);
  return { name: spec, tokenizer: ctx.tokenizer, template: opts.template, labels: labels as [string, string] | undefined, maxLength, batchSize: ctx.batchSize, seed: ctx.seed };
}

function implicitKind(variant: ImplicitVariant): RewardKind {
  const ratio = variant === 'ratio';
  return {
    usage: ratio ? 'implicit:POLICY[,REFERENCE]' : `implicit-${variant}:POLICY`,
    options: SCORING_KEYS,
    build(arg, opts, ctx, spec) {
      const parts = arg.split(',');
      if (parts.length > (ratio ? 2 : 1)) {
        throw new RewardError(`reward spec "${spec}": ${ratio ? 'at most a policy and a reference' : 'one policy and no reference (reference-free)'}; expected ${this.usage}`);
      }
      const reference = parts[1] !== undefined ? modelPath(spec, parts[1], 'reference') : undefined;
      return implicitSource(modelPath(spec, parts[0], 'policy'), { ...modelOpts(spec, opts, ctx), variant, reference, seed: ctx.seed });
    },
  };
}

/** The kinds written `prefix:ARG` (or, for oracle, the bare word). */
const KINDS = new Map<string, RewardKind>([
  ['judge', { usage: 'judge:MODEL', options: ['template', 'labels', 'max_length'], build: (arg, opts, ctx, spec) => judgeReward(modelPath(spec, arg, 'judge model'), judgeSpecOptions(spec, opts, ctx)) }],
  ['implicit', implicitKind('ratio')],
  ['implicit-sum', implicitKind('sum')],
  ['implicit-mean', implicitKind('mean')],
  ['fn', {
    usage: 'fn:FILE.mjs',
    options: ['timeout'],
    build(arg, opts, ctx, spec) {
      let timeoutMs = ctx.fnTimeoutMs;
      if (opts.timeout !== undefined) {
        const s = Number(opts.timeout);
        if (opts.timeout.trim() === '' || !(s > 0) || !Number.isFinite(s)) throw new RewardError(`reward spec "${spec}": timeout=${opts.timeout} is not a positive number of seconds`);
        timeoutMs = s * 1000;
      }
      if (arg === '') throw new RewardError(`reward spec "${spec}": no file given; expected ${this.usage}`);
      return fnSource(arg, { name: spec, timeoutMs });
    },
  }],
]);

/** Bare-word kinds (no argument). */
const WORDS = new Map<string, RewardKind>([
  ['oracle', { usage: 'oracle', options: [], build: () => oracleReward }],
]);

const CHECKPOINT: RewardKind = {
  usage: 'PATH (a reward-model checkpoint or run folder)',
  options: SCORING_KEYS,
  build: (arg, opts, ctx, spec) => rewardModelSource(modelPath(spec, arg, 'reward model'), modelOpts(spec, opts, ctx)),
};

/** Adds a kind written `prefix:ARG` (a plug-in, a test); an existing prefix is an error. */
export function registerRewardKind(prefix: string, kind: RewardKind): void {
  if (!/^[a-z][a-z0-9-]*$/.test(prefix)) throw new RewardError(`reward kind "${prefix}": a prefix is lowercase letters, digits and dashes`);
  if (KINDS.has(prefix) || WORDS.has(prefix)) throw new RewardError(`reward kind "${prefix}" is already registered`);
  KINDS.set(prefix, kind);
}

/** The accepted forms, for messages: "PATH (...), implicit:POLICY[,REFERENCE], ..., oracle". */
export function acceptedSpecs(): string {
  return [CHECKPOINT.usage, ...[...KINDS.values()].map((k) => k.usage), ...[...WORDS.values()].map((k) => k.usage)].join(', ');
}

/** Splits "body?k=v&k2=v2" into the body and its options (a `?` inside an existing path is part of the path). */
function splitOptions(spec: string): { body: string; opts: SpecOptions } {
  const q = spec.indexOf('?');
  if (q < 0 || fs.existsSync(spec)) return { body: spec, opts: {} };
  const opts: SpecOptions = {};
  for (const part of spec.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new RewardError(`reward spec "${spec}": option "${part}" is not key=value; write options as SPEC?key=value&key=value`);
    const key = part.slice(0, eq);
    if (key in opts) throw new RewardError(`reward spec "${spec}": option ${key} given twice`);
    opts[key] = part.slice(eq + 1);
  }
  return { body: spec.slice(0, q), opts };
}

/** Throws when an option is not one the kind takes, naming the near miss. */
function checkOptions(spec: string, kind: RewardKind, opts: SpecOptions): void {
  for (const key of Object.keys(opts)) {
    if (kind.options.includes(key)) continue;
    const near = closest(key, [...kind.options]);
    const takes = kind.options.length ? `it takes ${kind.options.join(', ')}` : 'it takes no options';
    throw new RewardError(`reward spec "${spec}": unknown option ${key}${near ? ` (did you mean ${near}?)` : ''}; ${takes}`);
  }
}

/** The kind a spec body names and its argument. */
function kindOf(spec: string, body: string): { kind: RewardKind; arg: string } {
  const word = WORDS.get(body);
  if (word) return { kind: word, arg: '' };
  const m = /^([a-z][a-z0-9-]*):(.*)$/s.exec(body);
  // "config:tiny" and Windows drive letters are paths, not kinds; so is anything that exists on disk.
  if (m && KINDS.has(m[1])) return { kind: KINDS.get(m[1])!, arg: m[2] };
  if (fs.existsSync(resolveModelPath(body))) return { kind: CHECKPOINT, arg: body };
  const accepted = `accepted: ${acceptedSpecs()}`;
  if (m && m[1] !== 'config') {
    const near = closest(m[1], [...KINDS.keys()]);
    throw new RewardError(`reward spec "${spec}": unknown kind "${m[1]}:"${near ? ` (did you mean ${near}:?)` : ''}; ${accepted}`);
  }
  const nearWord = closest(body, [...WORDS.keys()]);
  const hint = nearWord ? ` (did you mean ${nearWord}?)` : suggestSibling(body);
  throw new RewardError(`reward spec "${spec}": no such reward-model folder ${body}${hint}; ${accepted}`);
}

/**
 * A spec string -> a ready reward source (models loaded, files checked). The caller disposes it (dispose?.()).
 * Example: parseRewardSpec('implicit:runs/dpo?beta=0.2', {}) -> β 0.2 · (log πθ − log πref), the reference from runs/dpo's rlhf.json.
 */
export function parseRewardSpec(spec: string, ctx: RewardSpecContext = {}): RewardSource {
  const s = spec.trim();
  if (s === '') throw new RewardError(`reward spec is empty; accepted: ${acceptedSpecs()}`);
  const { body, opts } = splitOptions(s);
  const { kind, arg } = kindOf(s, body);
  checkOptions(s, kind, opts);
  return kind.build(arg, opts, ctx, s);
}

/** Several specs -> sources; if one fails, those already built are disposed before the error is thrown. */
export function parseRewardSpecs(specs: readonly string[], ctx: RewardSpecContext = {}): RewardSource[] {
  const out: RewardSource[] = [];
  try {
    for (const s of specs) out.push(parseRewardSpec(s, ctx));
    return out;
  } catch (e) {
    out.forEach((r) => r.dispose?.());
    throw e;
  }
}
