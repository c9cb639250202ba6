/**
 * What bin/rlhf.js does, over the transpiled copy of the sources (helpers/build.ts) instead of dist/:
 * the CLI tests run the real `main` without `npm run build`.
 */
import { main } from '../../../src/cli/main';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
