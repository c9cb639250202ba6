/**
 * Child process for fault-injection tests: saves a tiny policy checkpoint (overwrite) at argv[2] with
 * step argv[3]. argv[4] picks the fault:
 *   kill-write-N        SIGKILL itself at the N-th fs.writeSync (inside a file write)
 *   kill-after-rename-K SIGKILL itself right after the K-th fs.renameSync (1 = old checkpoint just set aside)
 *   anything else       no fault (a file-size limit from the parent's ulimit -f then shows as EFBIG:
 *                       Node ignores SIGXFSZ)
 * Loads the TypeScript sources through typescript's transpiler (the repo has no ts-node).
 */
const ts = require('typescript');
const fs = require('fs');
require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: filename,
  });
  module._compile(out.outputText, filename);
};
const fault = /^kill-(write|after-rename)-(\d+)$/.exec(process.argv[4] || '');
if (fault) {
  const name = fault[1] === 'write' ? 'writeSync' : 'renameSync';
  /** @type {(...args: unknown[]) => unknown} */
  const orig = /** @type {any} */ (fs)[name];
  let calls = 0;
  /** @type {any} */ (fs)[name] = function (/** @type {unknown[]} */ ...args) {
    calls += 1;
    if (name === 'writeSync' && calls === Number(fault[2])) process.kill(process.pid, 'SIGKILL');
    const r = orig.apply(this, args);
    if (name === 'renameSync' && calls === Number(fault[2])) process.kill(process.pid, 'SIGKILL');
    return r;
  };
}
const path = require('path');
const src = path.resolve(__dirname, '../../../src');
const { saveCheckpoint } = require(path.join(src, 'io/checkpoint.ts'));
const { LanguageModel } = require(path.join(src, 'model/language-model.ts'));
const { parseLlamaConfig, LLAMA_PRESETS: PRESETS } = require(path.join(src, 'model/families/llama/index.ts'));
const { ByteTokenizer } = require(path.join(src, 'tokenizer/byte.ts'));
const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 259, num_hidden_layers: 1 });
const model = LanguageModel.random(cfg, Number(process.argv[3]));
try {
  saveCheckpoint(process.argv[2], { kind: 'policy', config: cfg, weights: model.weights, tokenizer: new ByteTokenizer(), step: Number(process.argv[3]), overwrite: true });
  console.log('saved');
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  console.log(`ERROR ${err.name}: ${err.message}`);
  process.exitCode = 1;
}
