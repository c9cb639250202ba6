/**
 * The checkpoint folder (README.md "Checkpoints and Hugging Face"), written atomically:
 *   config.json          HF config in the model family's spelling (LlamaForCausalLM / GPT2LMHeadModel, or the family's
 *                        …ForSequenceClassification with 1 label for rewards)
 *   model.safetensors    F32 weights with HF names
 *   <tokenizer files>    whatever Tokenizer.save(dir) writes (a reward model's HF tokenizer with its pad named)
 *   tokenizer.json + tokenizer_config.json   for byte/llama2.c tokenizers, the same tokenizer for transformers'
 *                        AutoTokenizer (tokenizer/hf-export.ts); our loader still reads the file rlhf.json names
 *   README.md            a Hugging Face model card (model-card.ts), when `card` is given (every final/ folder)
 *   rlhf.json            {format: "rlhf/v1", kind, created, step, recipe?, metrics?, parent?, stage?, tokenizer: {kind, files, hf_files?}}
 *   trainer_state.json + optimizer.safetensors   optional, opaque trainer state for exact resume
 *
 * Atomicity: everything goes into a hidden temp folder beside the target (same filesystem), every file and
 * the folder are fsynced, then the temp folder is renamed into place. An existing target is first renamed
 * aside and removed only once the new one is in place. A crash between those two renames leaves the old
 * folder aside; the next save or load of that target puts it back (recoverInterruptedSave).
 *
 * Does: save, read metadata, load weights (via hf.ts), prune old step checkpoints. Does NOT: build models,
 * load tokenizers (tokenizer/load.ts reads rlhf.json's tokenizer.kind), or interpret trainer state.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../model/config';
import { hfConfigJson, weightShapes } from '../model/families';
import type { Tokenizer } from '../tokenizer/types';
import { HfTokenizer, HF_TOKENIZER_FILE } from '../tokenizer/hf';
import { hfTokenizerExport } from '../tokenizer/hf-export';
import { CHECKPOINT_META_FILE } from '../tokenizer/load';
import { MODEL_CARD_FILE, renderModelCard, type ModelCardInfo } from './model-card';
import { IoError } from '../util/errors';
import { HF_CONFIG_FILE, loadHfFolder, SINGLE_FILE, type LoadedModel } from './hf';
import { describeValue, isPlainFileName, readJsonFile, readJsonObject } from '../util/json';
import { readSafetensors, writeSafetensors, type RawTensor } from './safetensors';

export class CheckpointError extends IoError {
  constructor(readonly dir: string, detail: string) {
    super(`checkpoint ${dir}: ${detail}`);
  }
}

export const CHECKPOINT_FORMAT = 'rlhf/v1';
/**
 * The names of the files in a checkpoint and in a run folder, for every module that reads or writes them.
 * rlhf.json's name is spelled in tokenizer/load.ts, the lowest layer that reads it (a checkpoint folder given as
 * --tokenizer names its tokenizer there); everything above takes it from here.
 */
export const META_FILE = CHECKPOINT_META_FILE;
export const CONFIG_FILE = HF_CONFIG_FILE;
export const WEIGHTS_FILE = SINGLE_FILE;
export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
/** A run folder (train/stages.ts): the trained model in final/, one metrics row per step, the stage summary. */
export const FINAL_DIR = 'final';
export const METRICS_FILE = 'metrics.jsonl';
export const SUMMARY_FILE = 'summary.json';
/** What `rlhf run` records of a stage's inputs in its folder, to skip or resume it next time. */
export const RUN_INPUTS_FILE = 'inputs.json';

export type CheckpointKind = 'policy' | 'reward';

export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  kind: CheckpointKind;
  /** ISO 8601 time of the save. */
  created: string;
  /** Optimizer steps taken when saved (0 for an import or a fresh model). */
  step: number;
  recipe?: unknown;
  metrics?: Record<string, number>;
  /** The checkpoint this one was trained from (path or description), if any. */
  parent?: string | null;
  /** The training stage that wrote it (sft, reward, dpo): its settings are `recipe.<stage>`. Absent for imports and exports. */
  stage?: string;
  /**
   * files: what the tokenizer's own save() wrote (what we load). hf_files: the transformers copy written beside
   * them ([] with hf_note saying why when there is none); absent for "hf" tokenizers, whose files are already that.
   */
  tokenizer: { kind: string; files: string[]; hf_files?: string[]; hf_note?: string };
}

/** A step checkpoint's trainer state as files: trainer_state.json (JSON) and optimizer.safetensors (tensors). */
export interface TrainerStateFiles {
  /** JSON-serialisable state (step, RNG, data order, schedule, ...); opaque to io/. */
  state: unknown;
  /** Named tensors (optimizer moments, ...), written F32/I32 to optimizer.safetensors. */
  tensors?: Map<string, tf.Tensor | RawTensor>;
}

export interface SaveCheckpointOptions {
  kind: CheckpointKind;
  config: ModelConfig;
  /** HF-named weights (model.weights / rewardModel.weights). Read, not disposed. */
  weights: Map<string, tf.Tensor>;
  tokenizer: Tokenizer;
  step: number;
  recipe?: unknown;
  metrics?: Record<string, number>;
  parent?: string | null;
  /** The training stage saving it (recorded in rlhf.json, see CheckpointMeta.stage). */
  stage?: string;
  trainerState?: TrainerStateFiles;
  /** Replace an existing checkpoint at `dir` (atomically). @default false */
  overwrite?: boolean;
  /** Write README.md, a Hugging Face model card, with these details (stages give it for final/). @default none */
  card?: ModelCardInfo;
}

/** A reward model's weights as its checkpoint holds them: the LlamaForSequenceClassification tensors, no LM head. */
export function rewardCheckpointWeights(weights: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  const out = new Map(weights);
  out.delete('lm_head.weight');
  return out;
}

/** Saves a checkpoint folder atomically; returns the absolute path. On failure nothing at `dir` changes. */
export function saveCheckpoint(dir: string, opts: SaveCheckpointOptions): string {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  checkSaveOptions(target, opts);
  fsStep(target, 'create the parent folder', () => fs.mkdirSync(parent, { recursive: true }));
  recoverInterruptedSave(target);
  const exists = fs.existsSync(target);
  if (exists && !opts.overwrite) throw new CheckpointError(target, 'already exists; pass overwrite (--overwrite) or choose another --out');
  if (exists && !fs.statSync(target).isDirectory()) throw new CheckpointError(target, 'exists and is not a folder; choose another --out');
  const tmp = path.join(parent, `.${path.basename(target)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  fsStep(target, 'create a temporary folder beside it', () => fs.mkdirSync(tmp));
  try {
    fsStep(target, 'write the checkpoint files', () => writeContents(tmp, opts, dir));
    fsStep(target, 'flush the files to disk', () => fsyncTree(tmp));
    if (exists) {
      const aside = path.join(parent, `.${path.basename(target)}.old-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
      fsStep(target, 'move the previous checkpoint aside', () => fs.renameSync(target, aside));
      try {
        fsStep(target, 'move the new checkpoint into place', () => fs.renameSync(tmp, target));
      } catch (e) {
        fs.renameSync(aside, target); // put the previous one back
        throw e;
      }
      fsyncDir(parent);
      fs.rmSync(aside, { recursive: true, force: true });
    } else {
      fsStep(target, 'move the new checkpoint into place', () => fs.renameSync(tmp, target));
      fsyncDir(parent);
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return target;
}

/** Everything that can be checked before touching the disk. */
function checkSaveOptions(target: string, o: SaveCheckpointOptions): void {
  if (o.kind !== 'policy' && o.kind !== 'reward') throw new CheckpointError(target, `kind must be "policy" or "reward"; got ${describeValue(o.kind)}`);
  if (!Number.isSafeInteger(o.step) || o.step < 0) throw new CheckpointError(target, `step must be a non-negative integer; got ${o.step}`);
  const expected = weightShapes(o.config, o.kind === 'reward' ? 'sequence_classification' : 'causal_lm', 1);
  for (const [name, shape] of expected) {
    const t = o.weights.get(name);
    if (!t) throw new CheckpointError(target, `weight "${name}" is missing from the ${o.kind} model being saved`);
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) throw new CheckpointError(target, `weight "${name}" has shape [${t.shape}] but the config implies [${shape}]`);
    if (t.dtype !== 'float32') throw new CheckpointError(target, `weight "${name}" is ${t.dtype}; expected float32`);
  }
  for (const name of o.weights.keys()) {
    if (!expected.has(name)) throw new CheckpointError(target, `weight "${name}" is not part of a ${o.kind} model with this config; it would not load back`);
  }
  const pad = o.config.pad_token_id ?? o.tokenizer.padId;
  if (o.kind === 'reward' && !(Number.isInteger(pad) && pad >= 0 && pad < o.config.vocab_size)) {
    throw new CheckpointError(target, `a reward model needs a pad token id inside the vocabulary (config.pad_token_id or the tokenizer's); got ${pad}`);
  }
  // transformers' sequence classifier reads the score at the last token that is not pad_token_id, and TRL pads
  // with the tokenizer's pad: both must be one token that marks padding only, or HF scores another position.
  if (o.kind === 'reward' && (!o.tokenizer.hasOwnPad || pad !== o.tokenizer.padId)) {
    const why = o.tokenizer.hasOwnPad
      ? `the tokenizer's pad token is ${o.tokenizer.padId}`
      : `the tokenizer has no pad token of its own (padding borrows id ${o.tokenizer.padId}${o.tokenizer.padId === o.tokenizer.eosId ? ', EOS' : ''})`;
    throw new CheckpointError(
      target,
      `config.pad_token_id is ${pad} but ${why}; transformers would read the reward at another token than this toolkit does. ` +
        'Create the reward model with loadRewardModel, which gives the tokenizer a pad of its own (tokenizer/pad.ts)',
    );
  }
}

/** The config.json a Hugging Face user loads: a sequence classifier with 1 label for reward models. */
export function checkpointConfigJson(kind: CheckpointKind, config: ModelConfig, tokenizer: Tokenizer): Record<string, unknown> {
  if (kind === 'policy') return hfConfigJson(config);
  return {
    ...hfConfigJson({ ...config, pad_token_id: config.pad_token_id ?? tokenizer.padId }, 'sequence_classification'),
    // transformers derives num_labels from id2label; HF's classifier pools at the last non-pad token.
    id2label: { 0: 'LABEL_0' },
    label2id: { LABEL_0: 0 },
  };
}

function writeContents(tmp: string, o: SaveCheckpointOptions, dir: string): void {
  writeJson(path.join(tmp, CONFIG_FILE), checkpointConfigJson(o.kind, o.config, o.tokenizer));
  writeSafetensors(path.join(tmp, WEIGHTS_FILE), o.weights, { format: 'pt' });
  // A reward model's tokenizer names its pad in tokenizer_config.json (TRL would otherwise pad with EOS and set
  // pad_token_id = EOS on the model, moving the score off the token read here).
  const tokenizer = o.kind === 'reward' && o.tokenizer instanceof HfTokenizer ? o.tokenizer.withNamedPad() : o.tokenizer;
  const tokFiles = tokenizer.save(tmp);
  for (const f of tokFiles) {
    if (!isPlainFileName(f) || [CONFIG_FILE, WEIGHTS_FILE, META_FILE, TRAINER_STATE_FILE, OPTIMIZER_FILE].includes(f)) {
      throw new Error(`tokenizer.save wrote "${f}", which is not a plain file name or clashes with a checkpoint file`);
    }
  }
  const hf = writeTransformersTokenizer(tmp, o, tokFiles);
  if (o.card) {
    const pad = o.config.pad_token_id ?? o.tokenizer.padId;
    const config = o.kind === 'reward' ? { ...o.config, pad_token_id: pad } : o.config;
    const t = o.tokenizer;
    const card = renderModelCard(
      { kind: o.kind, config, tokenizer: { kind: t.kind, vocabSize: t.vocabSize, bosId: t.bosId, eosId: t.eosId }, hfTokenizerFiles: hf?.hf_files ?? [], step: o.step, recipe: o.recipe, metrics: o.metrics, parent: o.parent, dir },
      o.card,
    );
    fs.writeFileSync(path.join(tmp, MODEL_CARD_FILE), card);
  }
  if (o.trainerState) {
    let json: string;
    try {
      json = JSON.stringify(o.trainerState.state, null, 2);
    } catch (e) {
      throw new Error(`trainer state is not JSON-serialisable (${(e as Error).message})`);
    }
    fs.writeFileSync(path.join(tmp, TRAINER_STATE_FILE), (json ?? 'null') + '\n');
    if (o.trainerState.tensors) writeSafetensors(path.join(tmp, OPTIMIZER_FILE), o.trainerState.tensors);
  }
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    kind: o.kind,
    created: new Date().toISOString(),
    step: o.step,
    ...(o.recipe !== undefined ? { recipe: o.recipe } : {}),
    ...(o.metrics !== undefined ? { metrics: o.metrics } : {}),
    ...(o.parent !== undefined ? { parent: o.parent } : {}),
    ...(o.stage !== undefined ? { stage: o.stage } : {}),
    tokenizer: { kind: o.tokenizer.kind, files: tokFiles, ...hf },
  };
  // Written last: a folder with rlhf.json is a complete checkpoint.
  writeJson(path.join(tmp, META_FILE), meta);
}

/**
 * tokenizer.json + tokenizer_config.json for transformers beside a byte or llama2.c tokenizer's own file, naming
 * the pad id config.json names. Returns rlhf.json's hf_files/hf_note, or undefined when save() wrote tokenizer.json.
 */
function writeTransformersTokenizer(tmp: string, o: SaveCheckpointOptions, tokFiles: string[]): { hf_files: string[]; hf_note?: string } | undefined {
  if (tokFiles.includes(HF_TOKENIZER_FILE)) return undefined;
  const opts = { padId: o.config.pad_token_id ?? o.tokenizer.padId, modelMaxLength: o.config.max_position_embeddings };
  const ex = hfTokenizerExport(o.tokenizer, opts);
  if ('unsupported' in ex) return { hf_files: [], hf_note: ex.unsupported };
  const clash = Object.keys(ex.files).find((f) => tokFiles.includes(f));
  if (clash) throw new Error(`tokenizer.save wrote "${clash}", which the transformers tokenizer export also writes`);
  for (const [name, text] of Object.entries(ex.files)) fs.writeFileSync(path.join(tmp, name), text);
  return { hf_files: Object.keys(ex.files) };
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

function fsyncTree(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fsyncTree(p);
    else if (e.isFile()) {
      const fd = fs.openSync(p, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  fsyncDir(dir);
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Runs a filesystem step; turns errno failures into a CheckpointError that says what failed and why. */
function fsStep<T>(target: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    const err = e as NodeJS.ErrnoException;
    const where = err.path ? ` (${err.path})` : '';
    const why: Record<string, string> = {
      ENOSPC: `no space left on the device${where}; free some space or choose another --out`,
      EDQUOT: `disk quota exceeded${where}; free some space or choose another --out`,
      EACCES: `permission denied${where}; choose a writable --out`,
      EPERM: `operation not permitted${where}; choose a writable --out`,
      EROFS: `the filesystem is read-only${where}; choose another --out`,
      ENOTDIR: `a path component is not a folder${where}`,
      EFBIG: `a file size limit was hit${where} (ulimit -f or the filesystem's maximum); raise it or choose another --out`,
    };
    const detail = (err.code && why[err.code]) || err.message;
    throw new CheckpointError(target, `could not ${what}: ${detail}. The previous checkpoint (if any) is unchanged`);
  }
}

/**
 * Cleans up after a save that was killed: removes dead processes' temp folders, and if the target is
 * missing but a previous version was set aside, renames it back. Returns what it did, one line each.
 */
export function recoverInterruptedSave(dir: string): string[] {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const done: string[] = [];
  const mine = (kind: string) => names
    .map((n) => ({ n, m: new RegExp(`^\\.${escapeRe(base)}\\.${kind}-(\\d+)-[0-9a-f]+$`).exec(n) }))
    .filter((x) => x.m !== null)
    .map((x) => ({ file: path.join(parent, x.n), pid: Number(x.m![1]) }));
  for (const t of mine('tmp')) {
    if (t.pid !== process.pid && !processAlive(t.pid)) {
      fs.rmSync(t.file, { recursive: true, force: true });
      done.push(`removed the unfinished save ${t.file}`);
    }
  }
  const asides = mine('old').filter((a) => a.pid === process.pid || !processAlive(a.pid));
  if (asides.length > 0 && !fs.existsSync(target)) {
    // Newest first: that is the version that was in place when the save was interrupted.
    asides.sort((a, b) => fs.statSync(b.file).mtimeMs - fs.statSync(a.file).mtimeMs);
    fs.renameSync(asides[0].file, target);
    done.push(`restored ${target} from ${asides[0].file} (a save was interrupted)`);
    asides.shift();
  }
  for (const a of asides) {
    fs.rmSync(a.file, { recursive: true, force: true });
    done.push(`removed the superseded copy ${a.file}`);
  }
  return done;
}

/** Whether a process with this pid exists (a leftover temp folder's owner may still be writing it). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Reads and validates rlhf.json. Messages say whether the format is older, newer or unknown. */
export function loadCheckpointMeta(dir: string): CheckpointMeta {
  const target = path.resolve(dir);
  if (!fs.existsSync(target)) recoverInterruptedSave(target);
  if (!fs.existsSync(target)) throw new CheckpointError(target, 'folder does not exist');
  const file = path.join(target, META_FILE);
  if (!fs.existsSync(file)) throw new CheckpointError(target, `has no ${META_FILE}; it is not a checkpoint saved by this toolkit (a Hugging Face folder loads with loadHfFolder)`);
  const o = readJsonObject(file, 16 * 1024 * 1024);
  const fail = (d: string): never => { throw new CheckpointError(target, `${META_FILE}: ${d}`); };
  const fmt = o.format;
  const m = typeof fmt === 'string' ? /^rlhf\/v(\d+)$/.exec(fmt) : null;
  if (!m) fail(`format ${describeValue(fmt)} is unknown; expected "${CHECKPOINT_FORMAT}" (is this rlhf.json from another tool?)`);
  const version = Number(m![1]);
  if (version < 1) fail(`format "${fmt}" is older than "${CHECKPOINT_FORMAT}" and cannot be read; re-export the model from its safetensors with this version`);
  if (version > 1) fail(`format "${fmt}" is newer than "${CHECKPOINT_FORMAT}", the newest this version reads; upgrade the toolkit`);
  if (o.kind !== 'policy' && o.kind !== 'reward') fail(`field "kind" must be "policy" or "reward"; got ${describeValue(o.kind)}`);
  if (typeof o.created !== 'string') fail('field "created" must be an ISO date string');
  if (typeof o.step !== 'number' || !Number.isSafeInteger(o.step) || o.step < 0) fail(`field "step" must be a non-negative integer; got ${describeValue(o.step)}`);
  if (o.metrics !== undefined && (typeof o.metrics !== 'object' || o.metrics === null || Array.isArray(o.metrics))) fail('field "metrics" must be an object');
  if (o.parent !== undefined && o.parent !== null && typeof o.parent !== 'string') fail('field "parent" must be a string or null');
  if (o.stage !== undefined && typeof o.stage !== 'string') fail(`field "stage" must be a string; got ${describeValue(o.stage)}`);
  const tok = o.tokenizer as Record<string, unknown> | undefined;
  if (typeof tok !== 'object' || tok === null || typeof tok.kind !== 'string' || !Array.isArray(tok.files)) {
    fail('field "tokenizer" must be {kind: string, files: [file names]}');
  }
  for (const f of tok!.files as unknown[]) {
    if (typeof f !== 'string' || !isPlainFileName(f)) fail(`tokenizer.files holds ${describeValue(f)}; expected plain file names inside the folder`);
    if (!fs.existsSync(path.join(target, f as string))) fail(`tokenizer file "${f}" is missing from the folder`);
  }
  return o as unknown as CheckpointMeta;
}

/** Loads a checkpoint's weights (and checks that its config.json agrees with rlhf.json's kind). */
export function loadCheckpoint(dir: string): { meta: CheckpointMeta; model: LoadedModel } {
  const meta = loadCheckpointMeta(dir);
  const model = loadHfFolder(path.resolve(dir));
  const want = meta.kind === 'reward' ? 'sequence_classification' : 'causal_lm';
  if (model.head !== want) {
    for (const t of model.bundle.tensors.values()) t.dispose();
    throw new CheckpointError(path.resolve(dir), `${META_FILE} says kind "${meta.kind}" but config.json describes ${model.architecture}`);
  }
  return { meta, model };
}

/** The trainer state saved beside the weights, or null when the checkpoint has none. */
export function loadTrainerState(dir: string): TrainerStateFiles & { tensors: Map<string, RawTensor> } | null {
  const target = path.resolve(dir);
  const file = path.join(target, TRAINER_STATE_FILE);
  if (!fs.existsSync(file)) return null;
  const state = readJsonFile(file);
  const opt = path.join(target, OPTIMIZER_FILE);
  const tensors = fs.existsSync(opt) ? readSafetensors(opt).tensors : new Map<string, RawTensor>();
  return { state, tensors };
}

/**
 * Keeps the `keepLast` step checkpoints with the highest step number in `parentDir` and removes the rest.
 * Only sub-folders named like `checkpoint-<step>` that hold rlhf.json are considered; anything else is left
 * alone. Example: checkpoint-100, checkpoint-200, checkpoint-300 with keepLast 2 -> removes checkpoint-100.
 */
export function pruneCheckpoints(parentDir: string, keepLast: number, pattern = /^checkpoint-(\d+)$/): string[] {
  if (!Number.isInteger(keepLast) || keepLast < 0) throw new CheckpointError(parentDir, `keepLast must be a non-negative integer; got ${keepLast}`);
  const root = path.resolve(parentDir);
  if (!fs.existsSync(root)) return [];
  const found = fs.readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && pattern.test(e.name) && fs.existsSync(path.join(root, e.name, META_FILE)))
    .map((e) => ({ name: e.name, step: Number(pattern.exec(e.name)![1]) }))
    .sort((a, b) => a.step - b.step || a.name.localeCompare(b.name));
  const doomed = found.slice(0, Math.max(0, found.length - keepLast));
  const removed: string[] = [];
  for (const d of doomed) {
    const p = path.join(root, d.name);
    // Rename first so a half-deleted folder never looks like a checkpoint.
    const trash = path.join(root, `.${d.name}.del-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    fsStep(p, 'remove an old checkpoint', () => fs.renameSync(p, trash));
    fs.rmSync(trash, { recursive: true, force: true });
    removed.push(p);
  }
  return removed;
}
