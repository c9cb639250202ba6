/**
 * What a `--model` argument names, decided by content: a checkpoint folder (has rlhf.json), a Hugging
 * Face folder (config.json + safetensors), a llama2.c `.bin`, or `config:NAME` (a preset, trained from
 * scratch). Examples: `config:tiny` -> {kind: 'config', name: 'tiny'}; `../shared/models/stories260K/hf`
 * -> {kind: 'hf'}; a typo'd `checkpoints/dpo-tinny` -> error "does not exist; did you mean dpo-tiny?".
 *
 * Does: classify and load weights for the file kinds. Does NOT: build models (model/) or tokenizers.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PRESETS } from '../model/families';
import { META_FILE, loadCheckpoint } from './checkpoint';
import { IoError } from '../util/errors';
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
    const hasConfig = fs.existsSync(path.join(abs, 'config.json'));
    const hasWeights = fs.existsSync(path.join(abs, SINGLE_FILE)) || fs.existsSync(path.join(abs, INDEX_FILE));
    if (hasConfig && hasWeights) return { kind: 'hf', path: abs };
    const missing = [!hasConfig && 'config.json', !hasWeights && `${SINGLE_FILE} (or ${INDEX_FILE})`].filter(Boolean).join(' and ');
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

/** "; did you mean NAME?" when a sibling's name is a small edit away, else "". */
function suggestSibling(abs: string): string {
  const parent = path.dirname(abs);
  const base = path.basename(abs);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return `, nor does its folder ${parent}`;
  }
  let best: { name: string; d: number } | null = null;
  for (const n of names) {
    const d = editDistance(base.toLowerCase(), n.toLowerCase());
    if (d <= Math.max(2, Math.floor(base.length / 4)) && (!best || d < best.d)) best = { name: n, d };
  }
  return best ? `; did you mean ${path.join(path.dirname(abs), best.name)}?` : '';
}

/** Levenshtein distance. Example: editDistance("dpo-tinny", "dpo-tiny") -> 1. */
export function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return Math.abs(a.length - b.length);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
