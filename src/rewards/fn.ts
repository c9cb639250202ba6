/**
 * A user's JavaScript module as a reward source (`fn:FILE.mjs`), like TRL's `reward_funcs`: its default export
 * `(prompt, completion, row) => number | Promise<number>` scores one pair. `row` is an object: `index` (the
 * pair's position in this call) plus what the caller knows of the pair (types.ts RewardRow: a prompts file's
 * other columns, such as a reference answer), as a structured clone.
 *
 * It runs in a worker thread, so a function that spins cannot stall the caller: pairs go to the worker one call
 * at a time (awaited in order, so async functions need not be re-entrant), and each call has its own timeout
 * (10 s unless told). A throw, a rejected promise, a NaN, an infinite or non-number value, a timeout or the worker
 * dying is a one-line RewardError naming the file and the row; the worker is then terminated (the next score
 * call starts a fresh one). dispose() terminates it too. An idle worker does not keep the process alive.
 *
 * Does NOT: sandbox the module (it runs with the user's rights, like any script they run), or retry.
 */
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { Worker } from 'worker_threads';
import { suggestSibling } from '../util/suggest';
import { checkAligned, RewardError, type RewardRow, type RewardSource } from './types';

export const FN_TIMEOUT_MS = 10_000;

export interface FnRewardOptions {
  /** The source's name. @default `fn:<file as given>` */
  name?: string;
  /** Longest one call may take, in ms (loading the module counts as a call). @default FN_TIMEOUT_MS */
  timeoutMs?: number;
}

/**
 * The worker's code, run with `eval` so the same text works from src/ (ts-jest) and dist/. Protocol: the main
 * thread sends {pairs: [[prompt, completion, row], ...]}; the worker answers {loaded} once the module is read
 * (or {fail, i: -1}), then {i, value} per pair in order, or {fail, i} and stops; a failure's `why` is one line.
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('worker_threads');
const why = (e) => (e instanceof Error ? (e.name || 'Error') + ': ' + e.message : 'threw ' + String(e)).split('\\n')[0];
let fn = null;
const load = import(workerData.url).then((m) => {
  const f = m.default;
  if (typeof f !== 'function') throw new TypeError('its default export is ' + (f === undefined ? 'missing' : 'a ' + typeof f) + ', not a function (prompt, completion, row) => number');
  fn = f;
});
parentPort.on('message', async ({ pairs }) => {
  try { await load; } catch (e) { parentPort.postMessage({ fail: why(e), i: -1 }); return; }
  parentPort.postMessage({ loaded: true });
  for (let i = 0; i < pairs.length; i++) {
    let value;
    try { value = await fn(pairs[i][0], pairs[i][1], pairs[i][2]); } catch (e) { parentPort.postMessage({ fail: 'threw ' + why(e), i }); return; }
    parentPort.postMessage({ i, value: typeof value === 'number' ? value : { type: value === null ? 'null' : typeof value, text: String(value).slice(0, 40) } });
  }
});
`;

/** What the worker says. */
type Reply = { loaded: true } | { fail: string; i: number } | { i: number; value: number | { type: string; text: string } };

/** "the string \"0.5\"", "undefined", "a boolean (true)": a non-number result as the worker described it. */
function describeValue(v: { type: string; text: string }): string {
  if (v.type === 'string') return `the string "${v.text}"`;
  return v.type === 'undefined' || v.type === 'null' ? v.type : `a ${v.type} (${v.text})`;
}

/** Checks the file exists now (the spec parser's one-line error) and returns the source; the worker starts at the first score. */
export function fnSource(file: string, o: FnRewardOptions = {}): RewardSource {
  const name = o.name ?? `fn:${file}`;
  const abs = path.resolve(file);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) {
    throw new RewardError(`reward ${name}: no such file ${abs}${suggestSibling(abs)}; expected a JavaScript module (.mjs) whose default export is (prompt, completion, row) => number`);
  }
  const timeoutMs = o.timeoutMs ?? FN_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new RewardError(`reward ${name}: the timeout must be > 0 ms; got ${timeoutMs}`);
  let worker: Worker | null = null;
  let busy = false;

  const stop = () => {
    void worker?.terminate();
    worker = null;
  };
  const start = () => {
    worker ??= new Worker(WORKER_CODE, { eval: true, workerData: { url: pathToFileURL(abs).href } });
    return worker;
  };

  return {
    name,
    async score(prompts, completions, rows) {
      checkAligned(name, prompts, completions, rows);
      if (busy) throw new RewardError(`reward ${name}: score() called again before the last call finished; await each call`);
      if (prompts.length === 0) return [];
      busy = true;
      try {
        return await run(start(), prompts, completions, rows);
      } catch (e) {
        stop();
        throw e;
      } finally {
        busy = false;
        worker?.unref();
      }
    },
    dispose: stop,
    describe: () => ({ kind: 'fn', file: abs, timeout_ms: timeoutMs }),
  };

  /** One batch through the worker: resolves with every value, or rejects with the first failure. */
  function run(w: Worker, prompts: readonly string[], completions: readonly string[], rows?: readonly RewardRow[]): Promise<number[]> {
    const out = new Array<number>(prompts.length);
    let done = 0;
    let current = -1; // the row whose call is running; -1 while the module loads
    const at = (i: number) => (i < 0 ? 'loading the module' : `row ${i}`);
    const fail = (what: string) => new RewardError(`reward ${name} (${abs}): ${what}; the function must return a finite number for every pair`);
    return new Promise<number[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => finish(fail(`${at(current)}: no result within ${timeoutMs / 1000} s (timeout; the worker was stopped)`)), timeoutMs);
      };
      const finish = (err: Error | null) => {
        clearTimeout(timer);
        w.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (err) reject(err);
        else resolve(out);
      };
      const onMessage = (m: Reply) => {
        if ('loaded' in m) {
          current = 0;
          return arm();
        }
        if ('fail' in m) return finish(m.i < 0 ? new RewardError(`reward ${name} (${abs}): cannot load the module: ${m.fail}`) : fail(`row ${m.i}: ${m.fail}`));
        const v = m.value;
        if (typeof v !== 'number') return finish(fail(`row ${m.i}: returned ${describeValue(v)}, not a number`));
        if (!Number.isFinite(v)) return finish(fail(`row ${m.i}: returned ${v}`));
        out[m.i] = v;
        current = m.i + 1;
        if (++done === prompts.length) return finish(null);
        arm();
      };
      const onError = (e: Error) => finish(fail(`${at(current)}: the worker failed (${String(e.message).split('\n')[0]})`));
      const onExit = (code: number) => finish(fail(`${at(current)}: the worker exited (code ${code})`));
      w.on('message', onMessage).on('error', onError).on('exit', onExit);
      w.ref();
      arm();
      w.postMessage({ pairs: prompts.map((p, i) => [p, completions[i], { index: i, ...(rows?.[i] ?? {}) }]) });
    });
  }
}
