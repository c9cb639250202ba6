/**
 * What a `--model` argument names, decided by content: a checkpoint folder (has rlhf.json), a Hugging
 * Face folder (config.json + safetensors), a llama2.c `.bin`, or `config:NAME` (a preset, trained from
 * scratch). Examples: `config:tiny` -> {kind: 'config', name: 'tiny'}; `../shared/models/stories260K/hf`
 * -> {kind: 'hf'}; a typo'd `checkpoints/dpo-tinny` -> error "does not exist; did you mean dpo-tiny?".
 * TRL's output folders (output_dir and its checkpoint-N, which hold transformers' own trainer_state.json,
 * optimizer.pt, ...) have no rlhf.json: they are Hugging Face folders; only config.json and the weights count here.
 *
 * Does: classify and load weights for the file kinds. Does NOT: build models (model/) or tokenizers.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PRESETS } from '../model/families';
import { CONFIG_FILE, META_FILE, loadCheckpoint } from './checkpoint';
import { IoError } from '../util/errors';
import { closestSibling } from '../util/suggest';
import { INDEX_FILE, SINGLE_FILE, loadHfFolder, type LoadedModel } from './hf';
import { loadLlama2c } from './llama2c';

export class ModelSourceError extends IoError {}

export type ModelSource =
  | { kind: 'checkpoint'; path: string }
  | { kind: 'hf'; path: string }
  | { kind: 'llama2c'; path: string }
  | { kind: 'config'; name: string };

const EXPECTED = 'expected a checkpoint folder (with rlhf.json), a Hugging Face folder (config.json + model.safetensors), a llama2.c .bin file, or config:NAME';

/** Classifies a `--model` argument; paths come back absolute. */
export function resolveModelSource(spec: string): ModelSource {
  if (typeof spec !== 'string' || spec.trim() === '') throw new ModelSourceError(`--model is empty; ${EXPECTED}`);
  if (spec.startsWith('config:')) {
    const name = spec.slice('config:'.length);
    if (!Object.prototype.hasOwnProperty.call(PRESETS, name)) {
      throw new ModelSourceError(`--model ${spec}: no preset named "${name}"; available: ${Object.keys(PRESETS).map((n) => `config:${n}`).join(', ')}`);
    }
    return { kind: 'config', name };
  }
  const abs = path.resolve(spec);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new ModelSourceError(`--model ${spec}: ${abs} does not exist${suggestSibling(abs)}; ${EXPECTED}`);
  }
  if (st.isDirectory()) {
    if (fs.existsSync(path.join(abs, META_FILE))) return { kind: 'checkpoint', path: abs };
    const hasConfig = fs.existsSync(path.join(abs, CONFIG_FILE));
    const hasWeights = fs.existsSync(path.join(abs, SINGLE_FILE)) || fs.existsSync(path.join(abs, INDEX_FILE));
    if (hasConfig && hasWeights) return { kind: 'hf', path: abs };
    const missing = [!hasConfig && CONFIG_FILE, !hasWeights && `${SINGLE_FILE} (or ${INDEX_FILE})`].filter(Boolean).join(' and ');
    const inside = fs.readdirSync(abs).filter((n) => !n.startsWith('.')).slice(0, 8);
    const hint = inside.some((n) => /^checkpoint-\d+$/.test(n)) ? `; it holds step checkpoints: pass one of them, e.g. ${path.join(spec, inside.find((n) => /^checkpoint-\d+$/.test(n))!)}` : '';
    throw new ModelSourceError(`--model ${spec}: the folder has no ${missing} (it holds ${inside.length ? inside.join(', ') : 'nothing'})${hint}; ${EXPECTED}`);
  }
  if (st.isFile() && abs.endsWith('.bin')) return { kind: 'llama2c', path: abs };
  if (st.isFile() && abs.endsWith('.safetensors')) {
    throw new ModelSourceError(`--model ${spec}: a bare .safetensors file has no config; pass the folder that holds it with its config.json`);
  }
  throw new ModelSourceError(`--model ${spec}: not a folder or a .bin file; ${EXPECTED}`);
}

/** Loads the weights a source names. `config:` sources have none: build them with LanguageModel.random. */
export function loadModelWeights(source: ModelSource): LoadedModel & { meta?: ReturnType<typeof loadCheckpoint>['meta'] } {
  switch (source.kind) {
    case 'checkpoint': {
      const { meta, model } = loadCheckpoint(source.path);
      return { ...model, meta };
    }
    case 'hf':
      return loadHfFolder(source.path);
    case 'llama2c':
      return { bundle: loadLlama2c(source.path), head: 'causal_lm', numLabels: 0, architecture: 'LlamaForCausalLM', warnings: [], rawConfig: {} };
    case 'config':
      throw new ModelSourceError(`config:${source.name} names a preset, not weights; initialise it with LanguageModel.random(presetConfig(name, vocabulary), seed)`);
  }
}

/** "; did you mean NAME?" when a sibling's name is a small edit away (util/suggest.ts), else "". */
function suggestSibling(abs: string): string {
  if (!fs.existsSync(path.dirname(abs))) return `, nor does its folder ${path.dirname(abs)}`;
  const near = closestSibling(abs);
  return near ? `; did you mean ${near}?` : '';
}
