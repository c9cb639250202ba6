/**
 * Child process for the kill / signal / full-disk tests: runs one small training stage (reward or DPO,
 * tiny preset, a slice of data/prefs.jsonl) and reports how it ended on stdout as one line:
 *   DONE {"steps":16,"stopped_by":"max_steps"}      success (exit 0)
 *   ERROR <ErrorName>: <message>                    a thrown error (exit 1); STACK follows only for
 *                                                   errors that are not one of ours (a TypeError, say)
 * argv[2] is a JSON ChildJob. `fault` makes the child SIGKILL itself at an exact point:
 *   write-N   at the N-th fs.writeSync (only the safetensors writer calls it: inside a checkpoint write)
 *   rename-N  right after the N-th fs.renameSync (temp folder moved into place, cache file renamed, ...)
 *   rm-N      right after the N-th fs.rmSync starts removing an old checkpoint (pruning)
 * It prints HANDLERS when the training loop installs its signal handlers.
 * Run it from the transpiled copy (helpers/build.ts), never through jest.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface ChildJob {
  stage: 'reward' | 'dpo';
  out: string;
  data: string;
  steps: number;
  saveSteps: number;
  keep?: number;
  limit?: number;
  backend?: string;
  resume?: boolean;
  overwrite?: boolean;
  cacheDir?: string | null;
  fault?: string;
  /** Extra --set overrides. */
  set?: string[];
}

function installFault(fault: string | undefined): void {
  const m = /^(write|rename|rm)-(\d+)$/.exec(fault ?? '');
  if (!m) return;
  const name = ({ write: 'writeSync', rename: 'renameSync', rm: 'rmSync' } as const)[m[1] as 'write' | 'rename' | 'rm'];
  const at = Number(m[2]);
  // The real module object: `import * as fs` is a read-only namespace copy (live getters) in CommonJS output.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('fs') as Record<string, (...a: unknown[]) => unknown>;
  const orig = mod[name];
  let calls = 0;
  mod[name] = function (this: unknown, ...args: unknown[]) {
    calls += 1;
    if (calls === at && name === 'writeSync') {
      // Half of this write reaches the file, then the process dies: a torn write.
      const [fd, buf, off = 0, len] = args as [number, Buffer, number, number | undefined];
      const n = Math.floor((len ?? buf.length - off) / 2);
      if (n > 0) orig.call(this, fd, buf, off, n);
      process.kill(process.pid, 'SIGKILL');
    }
    if (calls === at && name === 'rmSync') {
      // Remove a part of the tree, then die: what a kill during a recursive delete leaves.
      const target = String(args[0]);
      try {
        const first = fs.readdirSync(target)[0];
        if (first) fs.unlinkSync(path.join(target, first));
      } catch {
        // not a folder: nothing partial to leave
      }
      process.kill(process.pid, 'SIGKILL');
    }
    const r = orig.apply(this, args);
    if (calls === at && name === 'renameSync') process.kill(process.pid, 'SIGKILL');
    return r;
  };
}

/**
 * Prints "HANDLERS" when the training loop installs its SIGTERM handler, so a test knows the loop runs.
 * Only the loop's (train/loop.js on the stack): the output-folder lock installs one earlier (io/lock.ts).
 */
function announceSignalHandlers(): void {
  const on = process.on.bind(process);
  process.on = ((event: string, fn: (...a: unknown[]) => void) => {
    if (event === 'SIGTERM' && /[\\/]train[\\/]loop\.js/.test(new Error().stack ?? '')) process.stdout.write('HANDLERS\n');
    return on(event, fn);
  }) as typeof process.on;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as ChildJob;
  installFault(job.fault);
  announceSignalHandlers();
  // Loaded after the fault is installed (the transpiled modules read fs through live bindings anyway).
  const { loadRecipe, parseSetOption } = await import('../../../src/recipes/load');
  const { trainReward, trainDpo } = await import('../../../src/train/stages');
  const sets = [
    `data.train=${job.data}`,
    `data.limit=${job.limit ?? 24}`,
    `backend=${JSON.stringify(job.backend ?? 'auto')}`,
    `${job.stage}.max_steps=${job.steps}`,
    `${job.stage}.batch_size=4`,
    `${job.stage}.max_length=64`,
    `${job.stage}.max_prompt_length=32`,
    `${job.stage}.learning_rate=0.003`,
    `${job.stage}.save_steps=${job.saveSteps}`,
    `${job.stage}.save_total_limit=${job.keep ?? 2}`,
    `${job.stage}.logging_steps=1`,
    ...(job.set ?? []),
  ];
  const recipe = loadRecipe(undefined, sets.map(parseSetOption));
  const train = job.stage === 'reward' ? trainReward : trainDpo;
  const s = await train(recipe, { out: job.out, quiet: true, resume: job.resume, overwrite: job.overwrite, cacheDir: job.cacheDir ?? null });
  process.stdout.write(`DONE ${JSON.stringify({ steps: s.steps, stopped_by: s.stopped_by, model: s.model, reference: s.reference })}\n`);
}

main().catch((e: Error) => {
  process.stdout.write(`ERROR ${e?.constructor?.name ?? e?.name}: ${e?.message}\n`);
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError) process.stdout.write(`STACK ${e.stack}\n`);
  process.exitCode = 1;
});
