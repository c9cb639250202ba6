/**
 * One order of settings for every command: flag > recipe (file or --set, when it names the field) >
 * RLHF_BACKEND > default (auto). Each command runs in a child process with the environment under test, and
 * the test reads which backend really ran from the command's own output (summary.json's backend for
 * training, the result line of compare/score, generate's trailer, env's report, bench's JSON).
 * Commands that take no recipe (score, generate, env) have no "recipe" case.
 *
 * AUTO is what auto picks on this machine (tensorflow where the native backend is built); OTHER is a second
 * backend that auto does not pick (wasm, or cpu where auto falls back to wasm).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { benchBackends } from '../../src/cli/bench';
import { rlhf, rlhfChild, type ChildCli } from './helpers';

jest.setTimeout(600_000);

const REPO = path.resolve(__dirname, '../..');
const DATA = path.join(REPO, 'data/prefs.jsonl');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-settings-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = (name: string) => path.join(root, `${name}-${n++}`);
const tiny = ['--limit', '8', '--max-steps', '1', '--batch-size', '4', '--max-length', '64', '--max-prompt-length', '32', '--quiet'];

let AUTO = '';
let OTHER = '';
let eval8 = '';
let policy = '';
let rewardModel = '';

/** The child's environment: RLHF_BACKEND as given, or removed. */
const envOf = (backend?: string) => ({ env: { RLHF_BACKEND: backend } });

function recipe(obj: Record<string, unknown>): string {
  const file = path.join(dir('recipe'), 'r.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(obj));
  return file;
}

function ok(r: ChildCli): ChildCli {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r;
}

beforeAll(async () => {
  const env = ok(await rlhfChild(['env', '--json'], envOf(undefined)));
  AUTO = env.json().backend as string;
  OTHER = AUTO === 'wasm' ? 'cpu' : 'wasm';
  process.stdout.write(`auto picks ${AUTO} here; the other backend is ${OTHER}\n`);
  eval8 = path.join(root, 'eval8.jsonl');
  fs.writeFileSync(eval8, fs.readFileSync(path.join(REPO, 'data/prefs-eval.jsonl'), 'utf8').split('\n').slice(0, 8).join('\n') + '\n');
  // Models for compare/score/generate, trained in this process (any backend will do).
  policy = path.join(root, 'policy');
  rewardModel = path.join(root, 'rm');
  expect((await rlhf('sft', '--model', 'config:tiny', '--data', DATA, '--out', policy, ...tiny)).code).toBe(0);
  expect((await rlhf('reward', '--model', policy, '--data', DATA, '--out', rewardModel, ...tiny)).code).toBe(0);
});

interface Case {
  name: string;
  env?: string;
  /** The recipe names backend as this (a recipe file, or --set for the run case). */
  recipe?: string;
  flag?: string;
  expected: () => string;
}

// env only: the variable beats the schema default (the bug: `auto` from the default won).
// env + recipe: a recipe that names `auto` beats the variable (named, even though it is the default value).
// env + flag: the flag beats the variable (and the recipe, where there is one: it names OTHER too).
// nothing: auto.
const CASES: Case[] = [
  { name: 'RLHF_BACKEND only', env: 'OTHER', expected: () => OTHER },
  { name: 'RLHF_BACKEND + recipe', env: 'OTHER', recipe: 'auto', expected: () => AUTO },
  { name: 'RLHF_BACKEND + recipe + flag', env: 'OTHER', recipe: 'OTHER', flag: 'AUTO', expected: () => AUTO },
  { name: 'RLHF_BACKEND + flag', env: 'AUTO', flag: 'OTHER', expected: () => OTHER },
  { name: 'nothing set', expected: () => AUTO },
];
const val = (v: string | undefined) => (v === 'OTHER' ? OTHER : v === 'AUTO' ? AUTO : v);
const noRecipe = CASES.filter((c) => c.recipe === undefined);

/** Runs every case of a command concurrently; returns [case name, backend that ran, expected]. */
async function runCases(cases: Case[], run: (c: Case) => Promise<string>): Promise<void> {
  const got = await Promise.all(cases.map(async (c) => [c.name, await run(c), c.expected()]));
  expect(got.map(([name, ran]) => [name, ran])).toEqual(got.map(([name, , want]) => [name, want]));
}

const flagArgs = (c: Case) => (c.flag ? ['--backend', val(c.flag)!] : []);

describe.each(['sft', 'reward', 'dpo'] as const)('rlhf %s', (stage) => {
  test('flag > recipe > RLHF_BACKEND > auto (summary.json backend)', async () => {
    await runCases(CASES, async (c) => {
      const file = c.recipe ? ['--recipe', recipe({ backend: val(c.recipe), data: { train: DATA } })] : ['--data', DATA];
      const r = ok(await rlhfChild([stage, '--model', 'config:tiny', ...file, '--out', dir(stage), ...tiny, ...flagArgs(c)], envOf(val(c.env))));
      return (r.json().backend as { name: string }).name;
    });
  });
});

test('rlhf run: flag > recipe (file, or --set) > RLHF_BACKEND > auto (the stage\'s summary.json)', async () => {
  const cases: Case[] = [...CASES, { name: 'RLHF_BACKEND + --set', env: 'OTHER', recipe: 'set:auto', expected: () => AUTO }];
  await runCases(cases, async (c) => {
    const out = dir('run');
    const body: Record<string, unknown> = {
      name: 'r', out, data: { train: DATA, limit: 8 },
      reward: { max_steps: 1, batch_size: 4, max_length: 64, max_prompt_length: 32 }, dpo: { enabled: false }, compare: { enabled: false },
    };
    const set: string[] = [];
    if (c.recipe?.startsWith('set:')) set.push('--set', `backend="${c.recipe.slice(4)}"`);
    else if (c.recipe) body.backend = val(c.recipe);
    ok(await rlhfChild(['run', recipe(body), ...set, '--quiet', ...flagArgs(c)], envOf(val(c.env))));
    return JSON.parse(fs.readFileSync(path.join(out, 'reward', 'summary.json'), 'utf8')).backend.name;
  });
});

test('rlhf compare: flag > --recipe > RLHF_BACKEND > auto (the result line)', async () => {
  await runCases(CASES, async (c) => {
    const file = c.recipe ? ['--recipe', recipe({ backend: val(c.recipe), data: { train: eval8 } })] : [];
    const r = ok(await rlhfChild(['compare', '--reward-model', rewardModel, '--policy', policy, '--data', eval8, '--bootstrap', '0', '--max-length', '64', '--max-prompt-length', '32', '--out', dir('cmp'), '--quiet', ...file, ...flagArgs(c)], envOf(val(c.env))));
    return r.json().backend as string;
  });
});

test('rlhf score: flag > RLHF_BACKEND > auto (the result line)', async () => {
  await runCases(noRecipe, async (c) => {
    const r = ok(await rlhfChild(['score', '--model', rewardModel, '--data', eval8, '--max-length', '64', '--out', path.join(dir('score'), 's.jsonl'), ...flagArgs(c)], envOf(val(c.env))));
    return r.json().backend as string;
  });
});

test('rlhf generate: flag > RLHF_BACKEND > auto (the trailer on stderr)', async () => {
  await runCases(noRecipe, async (c) => {
    const r = ok(await rlhfChild(['generate', '--model', policy, '--prompt', 'Hi', '--max-new-tokens', '2', ...flagArgs(c)], envOf(val(c.env))));
    return /, (\w+) backend\]\n$/.exec(r.stderr)?.[1] ?? `no trailer in ${JSON.stringify(r.stderr)}`;
  });
});

test('rlhf env: flag > RLHF_BACKEND > auto', async () => {
  await runCases(noRecipe, async (c) => {
    const r = ok(await rlhfChild(['env', '--json', ...flagArgs(c)], envOf(val(c.env))));
    return r.json().backend as string;
  });
});

describe('rlhf bench: --backends or --backend > RLHF_BACKEND > all three', () => {
  test('the choice, case by case', () => {
    expect(benchBackends({}, { RLHF_BACKEND: 'wasm' })).toEqual({ backends: ['wasm'], from: 'RLHF_BACKEND' });
    expect(benchBackends({ backend: 'cpu' }, { RLHF_BACKEND: 'wasm' })).toEqual({ backends: ['cpu'], from: '--backend' });
    expect(benchBackends({ backends: 'tensorflow,cpu' }, { RLHF_BACKEND: 'wasm' })).toEqual({ backends: ['tensorflow', 'cpu'], from: '--backends' });
    expect(benchBackends({}, {})).toEqual({ backends: ['tensorflow', 'wasm', 'cpu'], from: 'default' });
    expect(benchBackends({}, { RLHF_BACKEND: 'auto' })).toEqual({ backends: ['tensorflow', 'wasm', 'cpu'], from: 'default' });
    // --backend auto is a flag: it beats RLHF_BACKEND and means every backend.
    expect(benchBackends({ backend: 'auto' }, { RLHF_BACKEND: 'wasm' })).toEqual({ backends: ['tensorflow', 'wasm', 'cpu'], from: 'default' });
    expect(() => benchBackends({ backend: 'cpu', backends: 'wasm' }, {})).toThrow('--backend cpu and --backends wasm disagree');
  });

  test('RLHF_BACKEND alone times that backend only, and says so (child process)', async () => {
    const r = ok(await rlhfChild(['bench', '--models', 'tiny', '--kinds', 'score', '--steps', '1', '--warmup', '0', '--no-trl', '--batch', '2', '--seq', '16', '--json'], envOf(OTHER)));
    expect(Object.keys(r.json().backends as object)).toEqual([OTHER]);
    expect(r.stderr).toContain(`RLHF_BACKEND=${OTHER}: timing ${OTHER} only`);
  });
});
