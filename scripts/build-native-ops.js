/**
 * Builds native/rlhf_ops.cc (fused TensorFlow kernels, see that file) into native/build/rlhf_ops.node,
 * a Node-API addon that registers its ops with the TensorFlow library tfjs-node has loaded.
 * Called by scripts/setup-native.js once tfjs-node works; `node scripts/build-native-ops.js [--force]` runs it alone.
 *
 * Does: compile with the system C++ compiler (g++ ~2 s) against the TensorFlow C headers and
 *       libtensorflow_framework.so.2 that tfjs-node was built with; check in a child process that the
 *       result loads and computes a small attention correctly; only then move it into place. Skips all of
 *       that when the stamp (source, flags, library) matches the last build.
 * Does NOT: fail an install (throws; the caller reports one line and the TS side falls back to plain
 *       TF.js ops when the addon is missing), or build for wasm/cpu (those backends have no such hook).
 */
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const cp = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const SOURCE = path.join(ROOT, 'native', 'rlhf_ops.cc');
/** The decoder session (included by SOURCE): part of what the stamp covers. */
const DECODER_HEADER = path.join(ROOT, 'native', 'decoder.h');
const OUT_DIR = path.join(ROOT, 'native', 'build');
const TARGET = path.join(OUT_DIR, 'rlhf_ops.node');
const STAMP = path.join(OUT_DIR, 'rlhf_ops.stamp');
const KERNEL_HEADER = 'tensorflow/c/kernels.h';
/** A header kernels.h reaches outside tensorflow/c/: include folders made for the C API alone lack it. */
const KERNEL_API_HEADER = 'tensorflow/core/common_runtime/next_pluggable_device/c/tf_rendezvous_c_api.h';

// No -ffast-math: NaN and Inf must propagate (the trainers stop on a non-finite loss). These let sums and
// maxima vectorise; the kernels pick AVX-512 / AVX2 / baseline code at run time (target_clones).
const FLAGS = ['-std=c++17', '-O3', '-fPIC', '-shared', '-fvisibility=hidden', '-fno-math-errno', '-fno-trapping-math',
  '-fassociative-math', '-fno-signed-zeros', '-DNODE_GYP_MODULE_NAME=rlhf_ops'];

class BuildError extends Error {}

function exists(p) {
  try { fs.accessSync(p); return true; } catch { return false; }
}

function nodeIncludeDir() {
  const candidates = [process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    path.resolve(process.execPath, '../../include/node'), '/usr/include/node', '/usr/local/include/node'];
  const dir = candidates.find((d) => d && exists(path.join(d, 'node_api.h')));
  if (!dir) throw new BuildError(`node_api.h not found (looked in ${candidates.filter(Boolean).join(', ')})`);
  return dir;
}

/**
 * A child process loads tfjs-node and the candidate addon and runs one small grouped attention
 * (B 1, T 3, 2 query heads on 1 kv head, d 2, RoPE by angle 0) against the same sums written out in JS.
 */
const PROBE_SRC = `
process.env.TF_CPP_MIN_LOG_LEVEL = '2';
const [root, addon] = process.argv.slice(1);
const tf = require(require.resolve('@tensorflow/tfjs-node', { paths: [root] }));
const m = require(addon);
if (m.error) throw new Error(m.error);
const T = 3, H = 2, d = 2, scale = 0.5;
const q = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, 0.8, -0.9, 1.0, 0.2, -0.1];
const k = [0.3, 0.1, -0.4, 0.2, 0.5, -0.6];
const v = [1, 2, 3, 4, 5, 6];
const be = tf.engine().backend;
const [o] = be.executeMultipleOutputs('RlhfCausalAttention', [{ name: 'scale', type: be.binding.TF_ATTR_FLOAT, value: scale }],
  [tf.tensor4d(q, [1, T, H, d]), tf.tensor4d(k, [1, T, 1, d]), tf.tensor4d(v, [1, T, 1, d]),
    tf.ones([T, d / 2]), tf.zeros([T, d / 2])], 2); // cos 1, sin 0: RoPE by angle 0, so the sums below hold as written
const got = o.dataSync();
let worst = 0;
for (let i = 0; i < T; i++) for (let h = 0; h < H; h++) {
  const s = [];
  for (let j = 0; j <= i; j++) s.push(scale * (q[(i * H + h) * d] * k[j * d] + q[(i * H + h) * d + 1] * k[j * d + 1]));
  const mx = Math.max(...s), e = s.map((x) => Math.exp(x - mx)), z = e.reduce((a, b) => a + b, 0);
  for (let c = 0; c < d; c++) {
    const want = e.reduce((acc, w, j) => acc + (w / z) * v[j * d + c], 0);
    worst = Math.max(worst, Math.abs(got[(i * H + h) * d + c] - want));
  }
}
process.stdout.write(JSON.stringify({ abi: m.abi, threads: m.threads, worst }));
`;

function probe(addon) {
  const res = cp.spawnSync(process.execPath, ['-e', PROBE_SRC, ROOT, addon], { encoding: 'utf8', timeout: 120000 });
  if (res.status !== 0) {
    const lines = `${res.stderr || ''}`.trim().split('\n');
    throw new BuildError(`the built addon does not run: ${(lines.find((l) => /Error/.test(l)) || lines.pop() || `exit ${res.status}`).slice(0, 300)}`);
  }
  const r = JSON.parse(res.stdout);
  if (!(r.worst < 1e-5)) throw new BuildError(`the built addon computes attention wrongly (max error ${r.worst})`);
  return r;
}

/**
 * Builds unless up to date. `nodeDir` is the tfjs-node package folder (its deps/ holds the TensorFlow
 * library and headers); `locateHeaders` returns another include folder when deps/include lacks the
 * kernel API headers. Returns a short description of what happened.
 * @param {{ nodeDir: string, locateHeaders: () => string, force?: boolean, log?: (message: string) => void }} options
 * @returns {string}
 */
function buildNativeOps({ nodeDir, locateHeaders, force = false, log = () => {} }) {
  const libDir = path.join(nodeDir, 'deps', 'lib');
  const framework = path.join(libDir, 'libtensorflow_framework.so.2');
  if (!exists(framework)) throw new BuildError(`${framework} is missing (tfjs-node was not built by setup-native)`);
  let include = path.join(nodeDir, 'deps', 'include');
  if (!exists(path.join(include, KERNEL_HEADER)) || !exists(path.join(include, KERNEL_API_HEADER))) {
    include = locateHeaders();
  }
  const cxx = process.env.CXX || 'g++';
  const args = [...FLAGS, `-I${nodeIncludeDir()}`, `-I${include}`, SOURCE, '-o', '', `-L${libDir}`,
    '-l:libtensorflow_framework.so.2', `-Wl,-rpath,${fs.realpathSync(libDir)}`];
  const stamp = crypto.createHash('sha256').update(fs.readFileSync(SOURCE)).update(fs.readFileSync(DECODER_HEADER))
    .update(JSON.stringify([cxx, FLAGS, fs.realpathSync(framework)])).digest('hex');
  if (!force && exists(TARGET) && exists(STAMP) && fs.readFileSync(STAMP, 'utf8').trim() === stamp) return 'fused ops up to date';
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const tmp = path.join(OUT_DIR, `rlhf_ops.${process.pid}.node`);
  args[args.indexOf('')] = tmp;
  log(`compiling native/rlhf_ops.cc with ${cxx}`);
  try {
    const res = cp.spawnSync(cxx, args, { encoding: 'utf8' });
    if (res.error) throw new BuildError(`${cxx} could not be started: ${res.error.message}`);
    if (res.status !== 0) throw new BuildError(`${cxx} failed: ${`${res.stderr}`.trim().split('\n').slice(-5).join(' | ')}`);
    const r = probe(tmp);
    fs.renameSync(tmp, TARGET);
    fs.writeFileSync(STAMP, `${stamp}\n`);
    return `fused ops built (abi ${r.abi}, ${r.threads} threads)`;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

module.exports = { buildNativeOps, BuildError, TARGET, KERNEL_API_HEADER };

if (require.main === module) {
  const nodeDir = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json', { paths: [ROOT] }));
  try {
    const msg = buildNativeOps({
      nodeDir,
      force: process.argv.includes('--force'),
      locateHeaders: () => { throw new BuildError('TensorFlow kernel headers missing; run `npm run setup-native`'); },
      log: (m) => process.stderr.write(`[rlhf build-native-ops] ${m}\n`),
    });
    process.stdout.write(`[rlhf] ${msg}\n`);
  } catch (e) {
    process.stdout.write(`[rlhf] fused ops not built (${e instanceof Error ? e.message : String(e)}); the tensorflow backend uses plain TF.js ops instead\n`);
    process.exitCode = e instanceof BuildError ? 1 : 2;
  }
}
