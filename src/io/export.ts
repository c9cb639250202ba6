/**
 * exportModel: any model source (a llama2.c .bin, a Hugging Face folder, a checkpoint or run folder) written as a
 * checkpoint folder transformers loads (config.json, model.safetensors, the tokenizer, rlhf.json). A source whose
 * config describes a sequence classifier is exported as a reward model, anything else as a policy; the head is
 * read from the folder's config and safetensors headers, so the weights are loaded once.
 *
 * Does NOT: take the output folder's lock (the caller holds it: cli/export.ts) or convert dtypes (F32 in, F32 out).
 */
import { loadPolicy, loadRewardModel, resolveModelPath } from './load-model';
import { rewardCheckpointWeights, saveCheckpoint, type CheckpointKind } from './checkpoint';
import { planHfFolder } from './hf';
import { assertNoLiveLocksInside } from './lock';
import { resolveModelSource, type ModelSource } from './source';

export interface ExportOptions {
  /** Tokenizer to save with it. @default the model's own */
  tokenizer?: string;
  /** Replace an existing folder (never one a live run holds). @default false */
  overwrite?: boolean;
}

export interface ExportResult {
  out: string;
  kind: CheckpointKind;
  /** Where the weights came from (recorded as rlhf.json's parent). */
  parent: string;
}

/** Whether a source holds a reward model, from its config and headers only (no tensor data read). */
function isRewardModel(source: ModelSource): boolean {
  if (source.kind !== 'checkpoint' && source.kind !== 'hf') return false; // llama2.c files and presets are causal LMs
  return planHfFolder(source.path).head === 'sequence_classification';
}

export function exportModel(spec: string, out: string, o: ExportOptions = {}): ExportResult {
  if (o.overwrite) assertNoLiveLocksInside(out);
  const load = { tokenizer: o.tokenizer, trainable: false };
  const save = { step: 0, overwrite: o.overwrite ?? false };
  if (isRewardModel(resolveModelSource(resolveModelPath(spec)))) {
    const rm = loadRewardModel(spec, load);
    try {
      const weights = rewardCheckpointWeights(rm.model.weights);
      const dir = saveCheckpoint(out, { kind: 'reward', config: rm.model.config, weights, tokenizer: rm.tokenizer, parent: rm.source, ...save });
      return { out: dir, kind: 'reward', parent: rm.source };
    } finally {
      rm.model.dispose();
    }
  }
  const p = loadPolicy(spec, load);
  try {
    const dir = saveCheckpoint(out, { kind: 'policy', config: p.model.config, weights: p.model.weights, tokenizer: p.tokenizer, parent: p.source, ...save });
    return { out: dir, kind: 'policy', parent: p.source };
  } finally {
    p.model.dispose();
  }
}
