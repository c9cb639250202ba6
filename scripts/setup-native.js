#!/usr/bin/env node
/**
 * Makes the native TensorFlow backend (@tensorflow/tfjs-node) loadable without internet access to
 * TensorFlow's download servers. Runs as this package's `postinstall`; `npm run setup-native` (= --force)
 * redoes it.
 *
 * Why: tfjs-node's own install script downloads libtensorflow 2.9.1; where that fails npm removes the
 * optional dependency. Every TensorFlow Python wheel carries the same C API (libtensorflow_cc.so.2 exports
 * TF_* and TFE_*), so we build tfjs-node's addon against that instead (README.md "Backends" says how it is found).
 *
 * Does: (1) nothing when `require('@tensorflow/tfjs-node')` already works (unless --force);
 *       (2) find a TensorFlow C library: $RLHF_TENSORFLOW (folder or wheel), an installed `tensorflow`
 *           Python package, our cache, or `pip download --no-deps tensorflow_cpu==2.21.0`;
 *       (3) extract only the two libraries and the C API headers into a cache reused across installs;
 *       (4) unpack tfjs-node from `npm pack`, install its runtime deps inside it (minus @tensorflow/tfjs,
 *           so the root tfjs instance is the one it registers into), lay out deps/ and build with node-gyp;
 *       (5) check in a child process that it loads and computes.
 * Does NOT: fail the install (always exits 0; one summary line on stdout says which backend will be used
 *           and how to get native speed), build tfjs-node-gpu, or touch anything in node_modules besides
 *           @tensorflow/tfjs-node.
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const cp = require('child_process');
const { buildNativeOps, KERNEL_API_HEADER } = require('./build-native-ops');

const TFJS_NODE_VERSION = '4.22.0';
const TF_PIP_SPEC = 'tensorflow_cpu==2.21.0';
const ROOT = path.resolve(__dirname, '..');
const FORCE = process.argv.includes('--force');
const PYTHON = process.env.RLHF_PYTHON || 'python3';
const HOW_TO = 'for native speed: RLHF_TENSORFLOW=/path/to/tensorflow_cpu-2.21.0-*.whl (or a TensorFlow folder) npm run setup-native';

/** Header paths (inside a wheel's tensorflow/include/) that the C API headers reach. */
const HEADER_PREFIXES = ['tensorflow/c/', 'tensorflow/core/platform/', 'tsl/', 'xla/tsl/c/', 'xla/tsl/platform/',
  // the folder of the one header tensorflow/c/kernels.h (included by native/rlhf_ops.cc) reaches outside those;
  // caches extracted before it was listed lack that header, which is how fromCache tells them apart
  `${path.posix.dirname(KERNEL_API_HEADER)}/`];

class SetupError extends Error {}

const t0 = Date.now();
function log(msg) {
  process.stderr.write(`[rlhf setup-native ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}

function cacheRoot() {
  if (process.env.RLHF_CACHE_DIR) return process.env.RLHF_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'rlhf-tfjs');
}

/** Runs a command, capturing output; throws SetupError with the output's tail on failure. */
function run(cmd, args, opts = {}) {
  const res = cp.spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (res.error) throw new SetupError(`${cmd} could not be started: ${res.error.message}`);
  if (res.status !== 0) {
    const tail = `${res.stdout || ''}${res.stderr || ''}`.trim().split('\n').slice(-15).join('\n');
    throw new SetupError(`\`${cmd} ${args.join(' ')}\` exited with ${res.status}:\n${tail}`);
  }
  return res.stdout;
}

/**
 * The environment for nested npm / node-gyp: without the outer npm's per-project settings
 * (npm_config_local_prefix would make a nested `npm install` write into the root project).
 */
function cleanEnv() {
  const keep = /^npm_config_(cache|userconfig|globalconfig|registry|cafile|ca|proxy|https_proxy|noproxy|strict_ssl|nodedir|offline|prefer_offline)$/i;
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !keep.test(k)) continue;
    env[k] = v;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Probing: does tfjs-node load from the project root and compute on the tensorflow backend?

const PROBE_SRC = `
process.env.TF_CPP_MIN_LOG_LEVEL = process.env.TF_CPP_MIN_LOG_LEVEL || '2';
const root = process.argv[1];
const nodePkg = require.resolve('@tensorflow/tfjs-node', { paths: [root] });
const tf = require(nodePkg);
const rootTfjs = require.resolve('@tensorflow/tfjs', { paths: [root] });
const nodeTfjs = require.resolve('@tensorflow/tfjs', { paths: [require('path').dirname(nodePkg)] });
const y = Array.from(tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])).dataSync());
process.stdout.write(JSON.stringify({ backend: tf.getBackend(), tfVersion: tf.backend().binding.TF_Version,
  sameTfjs: rootTfjs === nodeTfjs, y }));
`;

/** Returns {ok, detail}; never throws. */
function probe() {
  const res = cp.spawnSync(process.execPath, ['-e', PROBE_SRC, ROOT], { encoding: 'utf8', timeout: 120000 });
  if (res.status !== 0) {
    const lines = `${res.stderr || ''}`.trim().split('\n');
    const err = lines.find((l) => /^\s*[A-Za-z]*Error: /.test(l)) || lines.find((l) => /error/i.test(l)) ||
      (res.error ? res.error.message : `exit ${res.status}`);
    return { ok: false, detail: err.slice(0, 300) };
  }
  try {
    const r = JSON.parse(res.stdout);
    if (r.backend !== 'tensorflow') return { ok: false, detail: `backend is "${r.backend}", not "tensorflow"` };
    if (!r.sameTfjs) return { ok: false, detail: 'tfjs-node resolves its own copy of @tensorflow/tfjs' };
    if (r.y[0] !== 17 || r.y[1] !== 39) return { ok: false, detail: `matmul check gave ${r.y}, expected 17,39` };
    return { ok: true, detail: `TensorFlow ${r.tfVersion}` };
  } catch (e) {
    return { ok: false, detail: `unexpected probe output: ${String(res.stdout).slice(0, 200)}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Locating a TensorFlow C library. A "source" is {lib, framework, include, version, origin}.

function exists(p) {
  try { fs.accessSync(p); return true; } catch { return false; }
}

/** Accepts a site-packages `tensorflow` dir, a folder holding one, a libtensorflow tarball layout, or our cache layout. */
function sourceFromDir(dir, origin) {
  const candidates = [
    { lib: 'libtensorflow_cc.so.2', fw: 'libtensorflow_framework.so.2', inc: 'include' }, // pip package dir
    { lib: 'tensorflow/libtensorflow_cc.so.2', fw: 'tensorflow/libtensorflow_framework.so.2', inc: 'tensorflow/include' },
    { lib: 'lib/libtensorflow_cc.so.2', fw: 'lib/libtensorflow_framework.so.2', inc: 'include' }, // our cache
    { lib: 'lib/libtensorflow.so.2', fw: 'lib/libtensorflow_framework.so.2', inc: 'include' }, // libtensorflow tarball
  ];
  for (const c of candidates) {
    const lib = path.join(dir, c.lib);
    const include = path.join(dir, c.inc);
    if (exists(lib) && exists(path.join(include, 'tensorflow/c/c_api.h'))) {
      const fw = path.join(dir, c.fw);
      return { lib, framework: exists(fw) ? fw : null, include, version: versionOf(dir), origin };
    }
  }
  return null;
}

function versionOf(dir) {
  const m = /tensorflow(?:_cpu)?-(\d+\.\d+\.\d+)/.exec(dir);
  if (m) return m[1];
  // An installed package: its dist-info sits beside it.
  try {
    const info = fs.readdirSync(path.dirname(dir)).find((n) => /^tensorflow(_cpu)?-[\d.]+\.dist-info$/.test(n));
    const m2 = info ? /-([\d.]+)\.dist-info/.exec(info) : null;
    if (m2) return m2[1];
  } catch { /* not a site-packages layout */ }
  return 'unknown';
}

/** Extracts the libraries and C API headers from a wheel into the cache (atomically: temp dir, then rename). */
function sourceFromWheel(wheel, origin) {
  const m = /(tensorflow(?:_cpu)?)-(\d+\.\d+\.\d+)/.exec(path.basename(wheel));
  if (!m) throw new SetupError(`${wheel}: not a tensorflow / tensorflow_cpu wheel (expected a name like tensorflow_cpu-2.21.0-*.whl)`);
  const dest = path.join(cacheRoot(), `tensorflow-${m[2]}`);
  const cached = sourceFromDir(dest, `cache ${dest}`);
  if (cached && exists(path.join(dest, '.complete')) && exists(path.join(dest, 'include', KERNEL_API_HEADER))) return { ...cached, origin: `${origin} (cached in ${dest})` };
  log(`extracting libtensorflow_cc.so.2, libtensorflow_framework.so.2 and C API headers from ${path.basename(wheel)}`);
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  // Python's zipfile streams members (the C library alone is ~790 MB) and is there wherever pip is.
  const py = `
import sys, zipfile, shutil, os
whl, out, prefixes = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
libs = {'tensorflow/libtensorflow_cc.so.2': 'lib', 'tensorflow/libtensorflow_framework.so.2': 'lib'}
n = 0
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith('/'):
            continue
        if name in libs:
            target = os.path.join(out, 'lib', os.path.basename(name))
        elif name.startswith('tensorflow/include/') and any(name[len('tensorflow/include/'):].startswith(p) for p in prefixes):
            target = os.path.join(out, 'include', name[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        n += 1
print(n)
`;
  try {
    run(PYTHON, ['-c', py, wheel, tmp, HEADER_PREFIXES.join(',')]);
  } catch (e) {
    // No Python: fall back to unzip if present.
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(path.join(tmp, 'lib'), { recursive: true });
    const globs = HEADER_PREFIXES.map((p) => `tensorflow/include/${p}*`);
    run('unzip', ['-q', '-o', wheel, 'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2', ...globs, '-d', tmp]);
    fs.renameSync(path.join(tmp, 'tensorflow/include'), path.join(tmp, 'include'));
    for (const lib of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) {
      fs.renameSync(path.join(tmp, 'tensorflow', lib), path.join(tmp, 'lib', lib));
    }
    fs.rmSync(path.join(tmp, 'tensorflow'), { recursive: true, force: true });
  }
  fs.writeFileSync(path.join(tmp, '.complete'), `${path.basename(wheel)}\n`);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.renameSync(tmp, dest);
  const src = sourceFromDir(dest, origin);
  if (!src) throw new SetupError(`${wheel}: holds no tensorflow/libtensorflow_cc.so.2 with tensorflow/include/tensorflow/c/c_api.h`);
  return { ...src, version: m[2] };
}

function fromEnv() {
  const p = process.env.RLHF_TENSORFLOW;
  if (!p) return null;
  if (!exists(p)) throw new SetupError(`RLHF_TENSORFLOW=${p}: no such file or folder`);
  if (fs.statSync(p).isFile()) return sourceFromWheel(path.resolve(p), `RLHF_TENSORFLOW wheel ${p}`);
  const dir = sourceFromDir(path.resolve(p), `RLHF_TENSORFLOW folder ${p}`);
  if (dir) return dir;
  const wheels = fs.readdirSync(p).filter((n) => /^tensorflow(_cpu)?-.*\.whl$/.test(n)).sort();
  if (wheels.length) return sourceFromWheel(path.resolve(p, wheels[wheels.length - 1]), `RLHF_TENSORFLOW wheel ${wheels[wheels.length - 1]}`);
  throw new SetupError(`RLHF_TENSORFLOW=${p}: expected a tensorflow wheel, or a folder with libtensorflow_cc.so.2 ` +
    'and include/tensorflow/c/c_api.h (e.g. site-packages/tensorflow), or lib/ + include/ as in a libtensorflow tarball');
}

/** An installed tensorflow (or tensorflow_cpu) Python package, found without importing it (import takes seconds). */
function fromPythonPackage() {
  const res = cp.spawnSync(PYTHON, ['-c',
    'import importlib.util as u; s = u.find_spec("tensorflow"); print(s.submodule_search_locations[0] if s and s.submodule_search_locations else "")'],
  { encoding: 'utf8', timeout: 30000 });
  const dir = res.status === 0 ? res.stdout.trim() : '';
  return dir ? sourceFromDir(dir, `installed Python package ${dir}`) : null;
}

function fromCache() {
  const dir = path.join(cacheRoot(), `tensorflow-${TF_PIP_SPEC.split('==')[1]}`);
  const complete = exists(path.join(dir, '.complete')) && exists(path.join(dir, 'include', KERNEL_API_HEADER));
  return complete ? sourceFromDir(dir, `cache ${dir}`) : null;
}

function fromPipDownload() {
  const dir = path.join(cacheRoot(), 'wheels');
  fs.mkdirSync(dir, { recursive: true });
  log(`fetching ${TF_PIP_SPEC} with pip (wheel only, no dependencies)`);
  run(PYTHON, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', TF_PIP_SPEC, '-d', dir], { timeout: 600000 });
  const ver = TF_PIP_SPEC.split('==')[1];
  const wheel = fs.readdirSync(dir).find((n) => n.startsWith(`tensorflow_cpu-${ver}-`) && n.endsWith('.whl'));
  if (!wheel) throw new SetupError(`pip download ${TF_PIP_SPEC} left no wheel in ${dir}`);
  const src = sourceFromWheel(path.join(dir, wheel), `pip download ${TF_PIP_SPEC}`);
  fs.rmSync(path.join(dir, wheel), { force: true }); // the extracted cache is what we reuse; the wheel is 274 MB
  return src;
}

function locateTensorFlow() {
  const src = fromEnv() || fromPythonPackage() || fromCache() || fromPipDownload();
  if (!src.framework) throw new SetupError(`${src.origin}: libtensorflow_framework.so.2 is missing beside ${src.lib}`);
  return src;
}

// ---------------------------------------------------------------------------------------------
// tfjs-node: unpack, install its runtime deps, lay out deps/, build the addon.

function npmCli() {
  const candidates = [process.env.npm_execpath, path.resolve(process.execPath, '../../lib/node_modules/npm/bin/npm-cli.js')];
  const cli = candidates.find((c) => c && /npm-cli\.js$/.test(c) && exists(c));
  return cli ? { cmd: process.execPath, pre: [cli] } : { cmd: 'npm', pre: [] };
}

function nodeGypJs() {
  const cli = npmCli();
  const dirs = cli.pre.length ? [path.resolve(path.dirname(cli.pre[0]), '..')] : [];
  for (const c of [process.env.npm_config_node_gyp]) if (c && exists(c)) return c;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [...dirs, ROOT] });
  } catch {
    throw new SetupError('node-gyp was not found (npm ships one); install it with `npm install -g node-gyp`');
  }
}

/** Unpacks tfjs-node from `npm pack` into `dir` (created) and installs its runtime deps inside it. */
function installPackage(dir) {
  const npm = npmCli();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-tfjs-node-'));
  try {
    log(`fetching @tensorflow/tfjs-node@${TFJS_NODE_VERSION} (npm pack)`);
    const out = run(npm.cmd, [...npm.pre, 'pack', `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`, '--silent'], { cwd: tmp, env: cleanEnv() });
    const tarball = out.trim().split('\n').pop();
    if (!tarball) throw new SetupError(`npm pack @tensorflow/tfjs-node@${TFJS_NODE_VERSION} printed no file name`);
    fs.mkdirSync(dir, { recursive: true });
    run('tar', ['xzf', path.join(tmp, tarball), '-C', dir, '--strip-components=1']);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  // The root @tensorflow/tfjs must be the instance tfjs-node registers its backend into.
  delete pkg.dependencies['@tensorflow/tfjs'];
  fs.writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  log('installing its runtime dependencies inside it');
  run(npm.cmd, [...npm.pre, 'install', '--omit=dev', '--ignore-scripts', '--no-package-lock', '--no-save',
    '--no-audit', '--no-fund', '--prefix', dir], { cwd: dir, env: cleanEnv() });
}

/** Whether `dir` holds our patched tfjs-node with its runtime deps (so a rebuild can reuse it). */
function reusablePackage(dir) {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    return pkg.version === TFJS_NODE_VERSION && !pkg.dependencies['@tensorflow/tfjs'] &&
      exists(path.join(dir, 'node_modules', '@mapbox', 'node-pre-gyp'));
  } catch {
    return false;
  }
}

function layOutDeps(nodeDir, src) {
  const deps = path.join(nodeDir, 'deps');
  fs.rmSync(deps, { recursive: true, force: true });
  fs.mkdirSync(path.join(deps, 'lib'), { recursive: true });
  fs.symlinkSync(src.include, path.join(deps, 'include'));
  const link = (target, name) => fs.symlinkSync(target, path.join(deps, 'lib', name));
  // The addon links -ltensorflow; the linker records the library's own soname (libtensorflow_cc.so.2),
  // which the loader then finds here through the addon's rpath $ORIGIN/../../deps/lib.
  const libName = path.basename(src.lib);
  link(src.lib, libName);
  link(src.framework, 'libtensorflow_framework.so.2');
  if (libName !== 'libtensorflow.so') link(src.lib, 'libtensorflow.so');
  link(src.lib, 'libtensorflow.so.2.9.1'); // tfjs-node's install script skips its download when this exists
  link(src.framework, 'libtensorflow_framework.so');
}

function buildAddon(nodeDir) {
  // The path tfjs-node will load the addon from, as its own loader (node-pre-gyp) computes it.
  const pregyp = require.resolve('@mapbox/node-pre-gyp', { paths: [nodeDir] });
  const target = require(pregyp).find(path.join(nodeDir, 'package.json'));
  const napi = /napi-v(\d+)/.exec(target);
  if (!napi) throw new SetupError(`unexpected addon path ${target}`);
  const args = [nodeGypJs(), 'rebuild', `--jobs=${Math.max(1, os.cpus().length)}`,
    '--module_name=tfjs_binding', `--module_path=${path.dirname(target)}`, `--napi_build_version=${napi[1]}`];
  // Node's own headers avoid a header download (npm passes nodedir when it runs us; direct runs look beside node).
  const nodedir = process.env.npm_config_nodedir || path.resolve(process.execPath, '../..');
  if (exists(path.join(nodedir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodedir}`);
  log('building the tfjs-node addon with node-gyp');
  const logFile = path.join(cacheRoot(), 'node-gyp-build.log');
  fs.mkdirSync(cacheRoot(), { recursive: true });
  try {
    const out = run(process.execPath, args, { cwd: nodeDir, env: cleanEnv() });
    fs.writeFileSync(logFile, out);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    fs.writeFileSync(logFile, msg);
    throw new SetupError(`node-gyp build failed (log: ${logFile}): ${msg.split('\n').slice(-3).join(' | ')}`);
  }
  if (!exists(target)) throw new SetupError(`node-gyp finished but ${target} is missing`);
}

// ---------------------------------------------------------------------------------------------

function fallbackBackend() {
  try {
    require.resolve('@tensorflow/tfjs-backend-wasm', { paths: [ROOT] });
    return 'wasm';
  } catch {
    return 'cpu';
  }
}

function main() {
  let tfjsDir;
  try {
    tfjsDir = path.dirname(require.resolve('@tensorflow/tfjs/package.json', { paths: [ROOT] }));
  } catch {
    throw new SetupError('@tensorflow/tfjs is not installed; run `npm install` first');
  }
  const nodeDir = path.join(path.dirname(tfjsDir), 'tfjs-node');
  if (!FORCE) {
    const before = probe();
    if (before.ok) {
      log(`@tensorflow/tfjs-node already loads (${before.detail}); not rebuilding it (--force does)`);
      const ops = nativeOps(nodeDir);
      return ops.built ? `[rlhf] native backend ready; ${ops.line}` : null;
    }
    log(`@tensorflow/tfjs-node does not load (${before.detail}); building it against a local TensorFlow`);
  }
  const src = locateTensorFlow();
  log(`TensorFlow ${src.version} C library from ${src.origin}`);
  // Build in a staging folder beside the target and swap it in only once it loads, so a failed rebuild
  // leaves a working install as it was. Dot-names are ignored by npm; the addon's rpath is relative.
  const parent = path.dirname(nodeDir);
  for (const n of fs.readdirSync(parent)) if (n.startsWith('.tfjs-node-')) fs.rmSync(path.join(parent, n), { recursive: true, force: true });
  const staging = path.join(parent, `.tfjs-node-staging-${process.pid}`);
  const previous = path.join(parent, `.tfjs-node-previous-${process.pid}`);
  try {
    if (!FORCE && reusablePackage(nodeDir)) {
      // Everything but the old build outputs (top-level build/, deps/, lib/napi-v*).
      const skip = (p) => /^(build|deps|lib[\\/]napi-v\d+)$/.test(path.relative(nodeDir, p));
      fs.cpSync(nodeDir, staging, { recursive: true, filter: (p) => !skip(p) });
    } else {
      installPackage(staging);
    }
    layOutDeps(staging, src);
    buildAddon(staging);
    if (exists(nodeDir)) fs.renameSync(nodeDir, previous);
    fs.renameSync(staging, nodeDir);
    const after = probe();
    if (!after.ok) {
      fs.rmSync(nodeDir, { recursive: true, force: true });
      if (exists(previous)) fs.renameSync(previous, nodeDir);
      throw new SetupError(`the built addon does not work: ${after.detail}`);
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
    fs.rmSync(previous, { recursive: true, force: true });
  }
  const ops = nativeOps(nodeDir);
  return `[rlhf] native backend ready: tensorflow via @tensorflow/tfjs-node ${TFJS_NODE_VERSION} ` +
    `built against TensorFlow ${src.version} (${src.origin}); ${ops.line}; ${((Date.now() - t0) / 1000).toFixed(0)} s`;
}

/**
 * The fused-op addon (scripts/build-native-ops.js) on top of a working tfjs-node. Never throws: without it
 * the tensorflow backend runs plain TF.js ops instead, slower, the same numbers up to float rounding. `built`: something was (re)built.
 */
function nativeOps(nodeDir) {
  try {
    const line = buildNativeOps({ nodeDir, force: FORCE, locateHeaders: () => locateTensorFlow().include, log });
    return { built: line !== 'fused ops up to date', line };
  } catch (e) {
    const why = `${e instanceof Error ? e.message : e}`.split('\n')[0].slice(0, 300);
    log(`fused ops not built: ${why}`);
    return { built: true, line: `fused ops not built (${why}); the tensorflow backend uses plain TF.js ops instead` };
  }
}

try {
  const line = main();
  if (line) process.stdout.write(`${line}\n`);
} catch (e) {
  const why = e instanceof SetupError ? e.message : `unexpected error: ${e instanceof Error && e.stack ? e.stack : e}`;
  log(why);
  const reason = why.split('\n')[0].slice(0, 200);
  if (FORCE && probe().ok) {
    // A failed rebuild swaps nothing in: the earlier working build stays.
    process.stdout.write(`[rlhf] native rebuild failed (${reason}); the existing tensorflow backend is kept\n`);
  } else {
    process.stdout.write(`[rlhf] native TensorFlow backend not available (${reason}); the ${fallbackBackend()} ` +
      `backend will be used; ${HOW_TO}\n`);
  }
}
process.exitCode = 0;
