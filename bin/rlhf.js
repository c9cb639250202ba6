#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (npm run build, run automatically by npm install). In a checkout
// (src/ present), a dist/ built from other sources gets a one-line warning first: the CLI would run the old code
// (scripts/build-stamp.js; a stat of each source file, no reading unless one is newer than the build).
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
if (!fs.existsSync(path.join(root, 'dist', 'cli', 'main.js'))) {
  process.stderr.write('rlhf: dist/ is not built (dist/cli/main.js is missing); run `npm run build`\n');
  process.exitCode = 1;
} else {
  if (fs.existsSync(path.join(root, 'src')) && fs.existsSync(path.join(root, 'scripts', 'build-stamp.js'))) {
    const why = require('../scripts/build-stamp.js').staleness(root, { quick: true });
    if (why) process.stderr.write(`rlhf: warning: ${why}; run \`npm run build\`\n`);
  }
  require('../dist/cli/main.js')
    .main(process.argv.slice(2))
    .then((/** @type {number} */ code) => {
      process.exitCode = code;
    });
}
