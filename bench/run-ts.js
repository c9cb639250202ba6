#!/usr/bin/env node
/**
 * Runs a TypeScript bench script without a build step: `node bench/run-ts.js bench/backends.ts [args]`.
 * Does: transpile each .ts file on require with the project's own TypeScript (no type-check; `npm run
 * typecheck` does that). Does NOT: bundle, cache, or support ES-module syntax at run time.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
  });
  module._compile(out.outputText, filename);
};

const script = process.argv[2];
if (!script) {
  process.stderr.write('usage: node bench/run-ts.js <script.ts> [args...]\n');
  process.exit(2);
}
process.argv.splice(1, 1); // the script sees itself as argv[1], as under ts-node
require(path.resolve(script));
