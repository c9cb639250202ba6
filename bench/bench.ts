/**
 * `rlhf bench` from the TypeScript sources, without a build:
 *
 *   node bench/run-ts.js bench/bench.ts [--models stories260K,15m] [--backends tensorflow,wasm,cpu]
 *        [--kinds dpo,reward,sft,score] [--steps 5] [--json] [--out FILE] ...
 *
 * Same flags and output as `rlhf bench` (src/cli/bench.ts; the work is in src/bench/).
 */
import { main } from '../src/cli/main';

main(['bench', ...process.argv.slice(2)]).then((code) => {
  process.exitCode = code;
});
