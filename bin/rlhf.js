#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (npm run build, run automatically by npm install).
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
