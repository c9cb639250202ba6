import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import {
  saveCheckpoint, loadCheckpoint, loadCheckpointMeta, loadTrainerState, pruneCheckpoints, recoverInterruptedSave,
  CheckpointError, CHECKPOINT_FORMAT, type SaveCheckpointOptions,
} from '../../src/io/checkpoint';
import { LanguageModel } from '../../src/model/language-model';
import { RewardModel } from '../../src/model/reward';
import { PRESETS } from '../../src/model/families';
import { parseLlamaConfig } from '../../src/model/families/llama';
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { loadTokenizer } from '../../src/tokenizer/load';
import type { Tokenizer } from '../../src/tokenizer/types';

const CFG = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 259, num_hidden_layers: 1, bos_token_id: 1, eos_token_id: 2 });
let tmp: string;
let policy: LanguageModel;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-test-'));
  policy = LanguageModel.random(CFG, 7);
});
afterAll(() => {
  policy.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const opts = (over: Partial<SaveCheckpointOptions> = {}): SaveCheckpointOptions => ({
  kind: 'policy', config: CFG, weights: policy.weights, tokenizer: new ByteTokenizer(), step: 3, ...over,
});
const listHidden = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('.'));

test('policy: save -> load gives the same weights, config and metadata', () => {
  const dir = path.join(tmp, 'policy');
  const before = tf.memory().numTensors;
  saveCheckpoint(dir, opts({ metrics: { loss: 0.5 }, recipe: { lr: 1e-3 }, parent: 'config:tiny' }));
  expect(tf.memory().numTensors).toBe(before);
  // byte_tokenizer.json is ours; tokenizer.json + tokenizer_config.json are the transformers copy. No README without `card`.
  expect(fs.readdirSync(dir).sort()).toEqual(['byte_tokenizer.json', 'config.json', 'model.safetensors', 'rlhf.json', 'tokenizer.json', 'tokenizer_config.json']);
  const { meta, model } = loadCheckpoint(dir);
  expect(meta).toMatchObject({
    format: CHECKPOINT_FORMAT, kind: 'policy', step: 3, metrics: { loss: 0.5 }, recipe: { lr: 1e-3 }, parent: 'config:tiny',
    tokenizer: { kind: 'byte', files: ['byte_tokenizer.json'], hf_files: ['tokenizer.json', 'tokenizer_config.json'] },
  });
  expect(Date.parse(meta.created)).not.toBeNaN();
  expect(model.bundle.config).toEqual(CFG);
  expect(model.head).toBe('causal_lm');
  expect([...model.bundle.tensors.keys()].sort()).toEqual([...policy.weights.keys()].sort());
  for (const [name, t] of model.bundle.tensors) expect(Array.from(t.dataSync())).toEqual(Array.from(policy.weights.get(name)!.dataSync()));
  tf.dispose([...model.bundle.tensors.values()]);
  expect(loadTokenizer(dir).kind).toBe('byte');
  expect(listHidden(tmp)).toEqual([]);
});

test('reward: sequence-classification config with 1 label and a pad id; loads back as a reward model', () => {
  const rm = RewardModel.random(CFG, 3);
  const dir = path.join(tmp, 'reward');
  saveCheckpoint(dir, opts({ kind: 'reward', weights: rm.weights }));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  expect(cfg.architectures).toEqual(['LlamaForSequenceClassification']);
  expect(cfg.id2label).toEqual({ 0: 'LABEL_0' });
  expect(cfg.pad_token_id).toBe(0);
  const { meta, model } = loadCheckpoint(dir);
  expect(meta.kind).toBe('reward');
  expect(model.head).toBe('sequence_classification');
  expect(model.numLabels).toBe(1);
  const back = RewardModel.fromWeights(model.bundle);
  expect(Array.from(back.score.dataSync())).toEqual(Array.from(rm.score.dataSync()));
  back.dispose();
  rm.dispose();
});

test('reward: refused when config.json\'s pad id is not a pad token of the tokenizer\'s own (transformers would score another token)', () => {
  const rm = RewardModel.random(CFG, 4);
  // A tokenizer whose padding borrows EOS, as GPT-2's does.
  const byte = new ByteTokenizer();
  const borrowed: Tokenizer = {
    kind: 'test', vocabSize: 259, bosId: null, eosId: 2, padId: 2, hasOwnPad: false,
    encode: (t) => byte.encode(t), decode: (i) => byte.decode(i), save: () => [],
  };
  expect(() => saveCheckpoint(path.join(tmp, 'reward-borrowed'), opts({ kind: 'reward', weights: rm.weights, tokenizer: borrowed })))
    .toThrow(/config.pad_token_id is 2 but the tokenizer has no pad token of its own \(padding borrows id 2, EOS\).*loadRewardModel/);
  expect(() => saveCheckpoint(path.join(tmp, 'reward-other-pad'), opts({ kind: 'reward', weights: rm.weights, config: { ...CFG, pad_token_id: 2 } })))
    .toThrow(/config.pad_token_id is 2 but the tokenizer's pad token is 0/);
  expect(fs.existsSync(path.join(tmp, 'reward-borrowed'))).toBe(false);
  // A policy is not read at a pad position: the same tokenizer is fine there.
  saveCheckpoint(path.join(tmp, 'policy-borrowed'), opts({ tokenizer: borrowed }));
  rm.dispose();
});

test('trainer state round trip', () => {
  const dir = path.join(tmp, 'with-state');
  const m = tf.tensor2d([[1, 2], [3, 4]]);
  saveCheckpoint(dir, opts({ trainerState: { state: { step: 3, rng: [1, 2, 3] }, tensors: new Map([['adam/m/x', m]]) } }));
  m.dispose();
  const st = loadTrainerState(dir)!;
  expect(st.state).toEqual({ step: 3, rng: [1, 2, 3] });
  expect(Array.from(st.tensors.get('adam/m/x')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
  expect(loadTrainerState(path.join(tmp, 'policy'))).toBeNull();
});

test('refuses to overwrite unless asked; overwrite replaces atomically', () => {
  const dir = path.join(tmp, 'ow');
  saveCheckpoint(dir, opts({ step: 1 }));
  expect(() => saveCheckpoint(dir, opts({ step: 2 }))).toThrow(/already exists; pass overwrite/);
  expect(loadCheckpointMeta(dir).step).toBe(1);
  saveCheckpoint(dir, opts({ step: 2, overwrite: true }));
  expect(loadCheckpointMeta(dir).step).toBe(2);
  expect(listHidden(tmp)).toEqual([]);
});

test('invalid weights are refused before anything is written', () => {
  const dir = path.join(tmp, 'badw');
  const extra = new Map(policy.weights as Map<string, tf.Tensor>);
  const x = tf.zeros([2]);
  extra.set('lm_head.weight', x);
  expect(() => saveCheckpoint(dir, opts({ weights: extra }))).toThrow(/"lm_head.weight" is not part of a policy model/);
  const missing = new Map(policy.weights as Map<string, tf.Tensor>);
  missing.delete('model.norm.weight');
  expect(() => saveCheckpoint(dir, opts({ weights: missing }))).toThrow(/"model.norm.weight" is missing/);
  x.dispose();
  expect(fs.existsSync(dir)).toBe(false);
  expect(listHidden(tmp)).toEqual([]);
});

describe('a failure mid-write leaves the previous checkpoint intact and no temp folder', () => {
  const failing = (code: string): Tokenizer => {
    const t = new ByteTokenizer();
    return Object.assign(Object.create(Object.getPrototypeOf(t)), t, {
      save: () => { throw Object.assign(new Error(`${code}: simulated`), { code, path: '/x/byte_tokenizer.json' }); },
    });
  };
  test.each([
    ['ENOSPC', /could not write the checkpoint files: no space left on the device \(\/x\/byte_tokenizer.json\); free some space/],
    ['EACCES', /permission denied .*; choose a writable --out/],
    ['EROFS', /read-only/],
  ])('%s', (code, pattern) => {
    const dir = path.join(tmp, `fail-${code}`);
    saveCheckpoint(dir, opts({ step: 5 }));
    let err: unknown;
    try { saveCheckpoint(dir, opts({ step: 6, overwrite: true, tokenizer: failing(code) })); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toContain(dir);
    expect((err as Error).message).toMatch(pattern);
    expect(loadCheckpointMeta(dir).step).toBe(5);
    expect(listHidden(tmp)).toEqual([]);
  });

  // Faults in a child process: a 64 KB file-size limit (ulimit -f; Node ignores SIGXFSZ so write() fails
  // with EFBIG inside the safetensors writer), or kill -9 at a chosen write or rename.
  const child = (dir: string, step: number, mode: string, limit = 'unlimited') => spawnSync('bash', ['-c', `ulimit -f ${limit}; exec node "$0" "$@"`,
    path.join(__dirname, 'helpers/save-child.js'), dir, String(step), mode], { encoding: 'utf8' });
  test('file size limit hit inside the safetensors writer (EFBIG)', () => {
    const dir = path.join(tmp, 'fail-efbig');
    saveCheckpoint(dir, opts({ step: 5 }));
    const r = child(dir, 6, 'none', '64');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/ERROR CheckpointError: checkpoint .*fail-efbig: could not write the checkpoint files: a file size limit was hit/);
    expect(loadCheckpointMeta(dir).step).toBe(5);
    expect(listHidden(tmp)).toEqual([]);
  });
  // writeSync 3 is inside model.safetensors' data; rename 1 sets the old checkpoint aside, rename 2 moves the new one in.
  // Leftovers: the dead child's temp folder and/or the set-aside previous version.
  test.each([['kill-write-3', 5, 1], ['kill-after-rename-1', 5, 2], ['kill-after-rename-2', 6, 1]])('kill -9 (%s): a complete checkpoint survives; leftovers are cleaned', (mode, expectStep, leftovers) => {
    const parent = path.join(tmp, `fail-${mode}`);
    const dir = path.join(parent, 'ckpt');
    saveCheckpoint(dir, opts({ step: 5 }));
    const r = child(dir, 6, mode);
    expect(r.signal).toBe('SIGKILL');
    expect(listHidden(parent).length).toBe(leftovers);
    expect(loadCheckpointMeta(dir).step).toBe(expectStep);
    const { model } = loadCheckpoint(dir);
    tf.dispose([...model.bundle.tensors.values()]);
    saveCheckpoint(dir, opts({ step: 7, overwrite: true })); // the next save clears any leftover
    expect(listHidden(parent)).toEqual([]);
    expect(loadCheckpointMeta(dir).step).toBe(7);
  });
});

test('recovery after a save killed between the two renames, and of a dead process\'s temp folder', () => {
  const parent = path.join(tmp, 'killed-parent');
  const dir = path.join(parent, 'killed');
  saveCheckpoint(dir, opts({ step: 9 }));
  // Simulate: previous version set aside by a dead process, new one never moved in; plus its temp folder.
  const deadPid = 2 ** 22 + 12345; // above Linux's pid_max default range
  fs.renameSync(dir, path.join(parent, `.killed.old-${deadPid}-abcd`));
  fs.mkdirSync(path.join(parent, `.killed.tmp-${deadPid}-beef`));
  expect(loadCheckpointMeta(dir).step).toBe(9); // load restores it
  expect(listHidden(parent)).toEqual([]);
  expect(recoverInterruptedSave(dir)).toEqual([]);
});

describe('rlhf.json validation', () => {
  const withMeta = (name: string, edit: (m: Record<string, unknown>) => void): string => {
    const dir = path.join(tmp, name);
    saveCheckpoint(dir, opts());
    const file = path.join(dir, 'rlhf.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(m);
    fs.writeFileSync(file, JSON.stringify(m));
    return dir;
  };
  test.each<[string, (m: Record<string, unknown>) => void, RegExp]>([
    ['older', (m) => { m.format = 'rlhf/v0'; }, /format "rlhf\/v0" is older than "rlhf\/v1"/],
    ['newer', (m) => { m.format = 'rlhf/v7'; }, /format "rlhf\/v7" is newer than "rlhf\/v1".*upgrade/],
    ['unknown', (m) => { m.format = 'something'; }, /format "something" is unknown/],
    ['bad kind', (m) => { m.kind = 'critic'; }, /"kind" must be "policy" or "reward"/],
    ['negative step', (m) => { m.step = -1; }, /"step" must be a non-negative integer/],
    ['escaping tokenizer file', (m) => { m.tokenizer = { kind: 'byte', files: ['../../etc/passwd'] }; }, /expected plain file names/],
    ['missing tokenizer file', (m) => { m.tokenizer = { kind: 'llama2c', files: ['tokenizer.bin'] }; }, /"tokenizer.bin" is missing/],
  ])('%s', (name, edit, pattern) => {
    expect(() => loadCheckpointMeta(withMeta(`meta-${name}`, edit))).toThrow(pattern);
  });
  test('kind disagreeing with config.json', () => {
    const before = tf.memory().numTensors;
    expect(() => loadCheckpoint(withMeta('meta-kind', (m) => { m.kind = 'reward'; }))).toThrow(/says kind "reward" but config.json describes LlamaForCausalLM/);
    expect(tf.memory().numTensors).toBe(before);
  });
  test('not a checkpoint / missing', () => {
    expect(() => loadCheckpointMeta(path.join(tmp, 'nope'))).toThrow(/folder does not exist/);
    const d = path.join(tmp, 'empty-dir');
    fs.mkdirSync(d);
    expect(() => loadCheckpointMeta(d)).toThrow(/has no rlhf.json/);
  });
});

test('pruneCheckpoints keeps the newest by step and ignores other folders', () => {
  const root = path.join(tmp, 'run');
  for (const s of [100, 20, 300]) saveCheckpoint(path.join(root, `checkpoint-${s}`), opts({ step: s }));
  fs.mkdirSync(path.join(root, 'checkpoint-5')); // no rlhf.json: not ours
  saveCheckpoint(path.join(root, 'final'), opts());
  expect(pruneCheckpoints(root, 2)).toEqual([path.join(root, 'checkpoint-20')]);
  expect(fs.readdirSync(root).sort()).toEqual(['checkpoint-100', 'checkpoint-300', 'checkpoint-5', 'final']);
  expect(pruneCheckpoints(root, 0).sort()).toEqual([path.join(root, 'checkpoint-100'), path.join(root, 'checkpoint-300')]);
  expect(() => pruneCheckpoints(root, -1)).toThrow(/non-negative/);
});
