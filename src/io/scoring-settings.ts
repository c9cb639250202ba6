/**
 * The settings a model is scored with, resolved once: β (the implicit reward's scale), max_length,
 * max_prompt_length and truncation_mode. Scoring must tokenise and cut pairs as training did, or it scores
 * other tokens than the model was trained on; so each value comes, in this order, from
 *   1) an override (a flag such as --beta, a compare recipe field), else
 *   2) what the checkpoint's rlhf.json recorded of the stage that trained it (its `recipe.<stage>` section), else
 *   3) the training defaults (losses/dpo-config.ts for β, data/collate.ts for the lengths),
 * and comes back with where it came from, so a report can say which values it used and why.
 * compare/ (rlhf compare, rlhf score) resolves through here; rewards/ (implicit:POLICY) is meant to as well.
 *
 * Does: pick values and name their sources; read the reference a policy was trained against. Does NOT: load
 * models or read files other than rlhf.json (readCheckpointMeta), nor validate ranges (the recipe schema did,
 * for recorded values; callers' flags are checked where they are parsed).
 */
import * as fs from 'fs';
import * as path from 'path';
import { LENGTH_DEFAULTS, TRUNCATION_MODES, type TruncationMode } from '../data/collate';
import { DPO_LOSS_DEFAULTS } from '../losses/dpo-config';
import { loadCheckpointMeta, META_FILE, type CheckpointMeta } from './checkpoint';

export interface ScoringSettings {
  /** β of the implicit reward β·(log πθ − log πref). */
  beta: number;
  /** Longest prompt + response, in tokens. */
  max_length: number;
  /** Longest prompt, in tokens (cut first); null = only max_length applies. */
  max_prompt_length: number | null;
  truncation_mode: TruncationMode;
}

export type ScoringField = keyof ScoringSettings;

/** Each value with where it came from: "--beta", "policy rlhf.json (dpo.beta)", "default", ... */
export interface ResolvedScoring {
  values: ScoringSettings;
  sources: Record<ScoringField, string>;
}

/** Values set by the caller, each with its source label. */
export type ScoringOverrides = Partial<{ [K in ScoringField]: { value: ScoringSettings[K]; source: string } }>;

const FIELDS: ScoringField[] = ['beta', 'max_length', 'max_prompt_length', 'truncation_mode'];

const DEFAULTS: ScoringSettings = {
  beta: DPO_LOSS_DEFAULTS.beta,
  max_length: LENGTH_DEFAULTS.max_length,
  max_prompt_length: LENGTH_DEFAULTS.max_prompt_length,
  truncation_mode: LENGTH_DEFAULTS.truncation_mode,
};

/**
 * Overrides from plain values, leaving out the undefined ones; `source` names each field's origin.
 * Example: overridesFrom({beta: 0.3, max_length: undefined}, (f) => `--${f}`) -> {beta: {value: 0.3, source: '--beta'}}.
 */
export function overridesFrom(values: Partial<ScoringSettings>, source: (field: ScoringField) => string): ScoringOverrides {
  const out: Record<string, { value: unknown; source: string }> = {};
  for (const f of FIELDS) if (values[f] !== undefined) out[f] = { value: values[f], source: source(f) };
  return out as ScoringOverrides;
}

/**
 * The stage section of a checkpoint's recorded inputs that holds its training settings, with its name:
 * the stage rlhf.json names, else (checkpoints saved before it named one) `reward` for a reward model and `dpo`
 * for a policy. Null when nothing was recorded (an import, a model from elsewhere).
 */
function trainedSection(meta: CheckpointMeta): { stage: string; section: Record<string, unknown> } | null {
  const recipe = meta.recipe;
  if (typeof recipe !== 'object' || recipe === null) return null;
  const stage = meta.stage ?? (meta.kind === 'reward' ? 'reward' : 'dpo');
  const section = (recipe as Record<string, unknown>)[stage];
  return typeof section === 'object' && section !== null && !Array.isArray(section) ? { stage, section: section as Record<string, unknown> } : null;
}

/** A recorded value, when it has the right type (a damaged or foreign rlhf.json falls through to the default). */
function recorded(field: ScoringField, v: unknown): ScoringSettings[ScoringField] | undefined {
  switch (field) {
    case 'beta':
    case 'max_length':
      return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
    case 'max_prompt_length':
      return v === null || (typeof v === 'number' && Number.isInteger(v) && v > 0) ? (v as number | null) : undefined;
    case 'truncation_mode':
      return typeof v === 'string' && (TRUNCATION_MODES as readonly string[]).includes(v) ? (v as TruncationMode) : undefined;
  }
}

/**
 * Resolves the scoring settings of one model. `meta` is its rlhf.json (null when it has none), `label` names it
 * in the sources ("policy", "reward model"). β is read only from a DPO stage's record (SFT and reward stages have
 * none: it then comes from an override or the default).
 * Example: a policy trained with dpo {beta: 0.5, truncation_mode: 'keep_start'} and overrides {} ->
 *   values {beta: 0.5, ..., truncation_mode: 'keep_start'}, sources {beta: 'policy rlhf.json (dpo.beta)', ...}.
 */
export function scoringSettings(meta: CheckpointMeta | null, overrides: ScoringOverrides = {}, label = 'model'): ResolvedScoring {
  const trained = meta ? trainedSection(meta) : null;
  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const f of FIELDS) {
    const o = overrides[f];
    const fromCheckpoint = trained && (f !== 'beta' || trained.stage === 'dpo') ? recorded(f, trained.section[f]) : undefined;
    if (o !== undefined) {
      values[f] = o.value;
      sources[f] = o.source;
    } else if (fromCheckpoint !== undefined) {
      values[f] = fromCheckpoint;
      sources[f] = `${label} ${META_FILE} (${trained!.stage}.${f})`;
    } else {
      values[f] = DEFAULTS[f];
      sources[f] = 'default';
    }
  }
  return { values: values as unknown as ScoringSettings, sources: sources as ResolvedScoring['sources'] };
}

/** A checkpoint folder's rlhf.json, or null when the folder has none (an HF folder, a llama2.c file, config:NAME). */
export function readCheckpointMeta(dir: string): CheckpointMeta | null {
  if (dir.startsWith('config:') || !fs.existsSync(path.join(dir, META_FILE))) return null;
  return loadCheckpointMeta(dir);
}

/**
 * The reference a DPO policy was trained against, as its rlhf.json records it: the stage's `dpo.reference` when
 * one was named, else its parent (the model DPO started from, which is the reference unless named). Null when
 * neither is recorded or the recorded path no longer exists.
 */
export function recordedReference(meta: CheckpointMeta | null): string | null {
  if (!meta) return null;
  const trained = trainedSection(meta);
  const named = trained?.stage === 'dpo' ? trained.section.reference : undefined;
  const p = typeof named === 'string' ? named : meta.parent;
  return typeof p === 'string' && (p.startsWith('config:') || fs.existsSync(p)) ? p : null;
}
