/**
 * The `rlhf` CLI from the TypeScript sources, without a build: `node bench/run-ts.js bench/rlhf-src.ts reward ...`.
 * The end-to-end benchmark uses it with --from-src (and its test always): every start transpiles the sources, so
 * its start-up is slower than the built CLI's, which is what bench/e2e.ts times by default.
 */
import { main } from '../src/cli/main';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
