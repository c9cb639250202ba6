#!/usr/bin/env node
/**
 * The build stamp of dist/: after `tsc -p tsconfig.build.json` succeeds, `npm run build` runs
 * `node scripts/build-stamp.js --write`, which writes dist/.build-stamp.json:
 *   {"hash": sha256 over the path and content of every src/**\/*.ts and the tsconfig files, "files": N,
 *    "newestMtimeMs": the newest of their modification times}.
 * bin/rlhf.js (cheaply, see staleness) and test/cli/shipped.test.ts (always by hash) compare it with the sources,
 * so a dist/ that is missing or older than src/ is named instead of silently running old code.
 * `node scripts/build-stamp.js --check` prints the verdict and exits 1 when dist/ is stale or missing.
 *
 * Does NOT: build anything (tsc does), or look at dist/'s own files (the stamp stands for them).
 */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const STAMP = path.join('dist', '.build-stamp.json');
/** Files besides src/**\/*.ts whose change changes what tsc emits. */
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

/**
 * The inputs of the build, relative to `root`, sorted: src/**\/*.ts, then the tsconfig files.
 * @param {string} root
 * @returns {string[]}
 */
function buildInputs(root) {
  /** @type {string[]} */
  const out = [];
  /** @param {string} dir */
  const walk = (dir) => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts')) out.push(rel);
    }
  };
  walk('src');
  return [...out.sort(), ...CONFIGS.filter((f) => fs.existsSync(path.join(root, f)))];
}

/**
 * sha256 over each input's path and content (so a rename or a moved line changes it too).
 * @param {string} root
 * @param {string[]} files
 */
function hashOf(root, files) {
  const h = crypto.createHash('sha256');
  for (const f of files) h.update(`${f}\0`).update(fs.readFileSync(path.join(root, f))).update('\0');
  return h.digest('hex');
}

/**
 * @param {string} root
 * @returns {{ hash: string, files: number, newestMtimeMs: number }}
 */
function currentStamp(root = ROOT) {
  const files = buildInputs(root);
  const newestMtimeMs = Math.max(...files.map((f) => fs.statSync(path.join(root, f)).mtimeMs));
  return { hash: hashOf(root, files), files: files.length, newestMtimeMs };
}

/** @param {string} root */
function writeStamp(root = ROOT) {
  const stamp = currentStamp(root);
  fs.writeFileSync(path.join(root, STAMP), `${JSON.stringify(stamp)}\n`);
  return stamp;
}

/** @param {string} root @returns {{ hash: string, files: number, newestMtimeMs: number } | null} */
function readStamp(root) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, STAMP), 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Why dist/ does not match the sources, or null when it does. `quick`: when no input is newer than the stamp
 * and none was added or removed, trust it without reading the files (bin/rlhf.js: a few hundred stat calls,
 * about a millisecond); otherwise, and always without `quick`, compare the hash.
 * @param {string} [root]
 * @param {{ quick?: boolean }} [opts]
 * @returns {string | null}
 */
function staleness(root = ROOT, opts = {}) {
  if (!fs.existsSync(path.join(root, 'dist', 'cli', 'main.js'))) return 'dist/ is not built (dist/cli/main.js is missing)';
  const stamp = readStamp(root);
  if (!stamp || typeof stamp.hash !== 'string') return `${STAMP} is missing or unreadable (dist/ was not built by \`npm run build\`)`;
  const files = buildInputs(root);
  if (opts.quick && files.length === stamp.files) {
    const newest = Math.max(...files.map((f) => fs.statSync(path.join(root, f)).mtimeMs));
    if (newest <= stamp.newestMtimeMs) return null;
  }
  if (hashOf(root, files) === stamp.hash) return null;
  return `dist/ is older than src/ (${STAMP} does not match the ${files.length} files of src/ and the tsconfig files)`;
}

module.exports = { buildInputs, currentStamp, staleness, writeStamp, STAMP };

if (require.main === module) {
  const arg = process.argv[2];
  if (arg === '--write') {
    const s = writeStamp();
    process.stdout.write(`[rlhf] ${STAMP}: ${s.files} files, sha256 ${s.hash.slice(0, 12)}\n`);
  } else if (arg === '--check') {
    const why = staleness();
    process.stdout.write(why ? `stale: ${why}; run \`npm run build\`\n` : 'dist/ matches src/\n');
    process.exitCode = why ? 1 : 0;
  } else {
    process.stderr.write('usage: node scripts/build-stamp.js --write | --check\n');
    process.exitCode = 1;
  }
}
