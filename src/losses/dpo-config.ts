/**
 * The DPO loss settings, their defaults and every cross-field check, in one place.
 *
 * Does: name the loss types, fill defaults, list what is wrong with a settings object.
 * Does NOT: compute losses (dpo.ts) or parse recipe files (recipes/ calls dpoConfigProblems from its schema).
 *
 * Field names are TRL's DPOConfig names (snake_case) so a recipe's `dpo` section maps onto this 1:1.
 */
import { LossConfigError } from './errors';

/** Every loss_type TRL 1.13's DPOTrainer accepts, in TRL's order of documentation. */
export const DPO_LOSS_TYPES = [
  'sigmoid',
  'hinge',
  'ipo',
  'exo_pair',
  'nca_pair',
  'robust',
  'bco_pair',
  'sppo_hard',
  'aot',
  'aot_unpaired',
  'apo_zero',
  'apo_down',
  'discopop',
  'sft',
  'sigmoid_norm',
] as const;
export type DpoLossType = (typeof DPO_LOSS_TYPES)[number];

/** Loss types that divide by completion token counts, so need chosenTokens / rejectedTokens as inputs. */
export const DPO_LOSS_TYPES_NEEDING_TOKEN_COUNTS: readonly DpoLossType[] = ['ipo', 'sigmoid_norm', 'sft'];

/** Settings as a person writes them (recipe `dpo` section); defaults follow TRL 1.13's DPOConfig. */
export interface DpoLossConfigInput {
  /** β: strength of the KL-style tie to the reference (for ipo it is τ). Must be > 0. @default 0.1 */
  beta?: number;
  /** One loss type or several to sum with loss_weights (e.g. MPO: ['sigmoid', 'bco_pair', 'sft']). @default ['sigmoid'] */
  loss_type?: string | readonly string[];
  /** One weight per loss type. @default 1 for each */
  loss_weights?: readonly number[] | null;
  /**
   * ε, the assumed probability that a preference label is flipped: cDPO for sigmoid (Mitchell 2023), robust
   * (Chowdhury et al. 2024, needs ε in [0, 0.5)), exo_pair (Ji et al. 2024, needs ε > 0; paper uses 1e-3), aot.
   * Other loss types ignore it. @default 0
   */
  label_smoothing?: number;
  /** Treat the reference as uniform: reference log-probs are 0 and none are needed. @default false */
  reference_free?: boolean;
  /** τ of DiscoPOP's log-ratio modulation (Chris Lu et al. 2024). @default 0.05 */
  discopop_tau?: number;
}

/** Settings after validation, every field filled. */
export interface DpoLossConfig {
  beta: number;
  loss_type: DpoLossType[];
  loss_weights: number[];
  label_smoothing: number;
  reference_free: boolean;
  discopop_tau: number;
}

export const DPO_LOSS_DEFAULTS = { beta: 0.1, loss_type: 'sigmoid', label_smoothing: 0, discopop_tau: 0.05 } as const;

const isDpoLossType = (s: string): s is DpoLossType => (DPO_LOSS_TYPES as readonly string[]).includes(s);

/**
 * Everything wrong with a settings object, one readable sentence each (empty when it is fine).
 * Example: {loss_type: ['sigmoid', 'sft'], loss_weights: [1, 1, 1]} ->
 *   ['got 3 loss_weights for 2 loss types (sigmoid, sft); give one weight per loss type, or omit loss_weights for 1 each']
 */
export function dpoConfigProblems(cfg: DpoLossConfigInput): string[] {
  const problems: string[] = [];
  const beta = cfg.beta ?? DPO_LOSS_DEFAULTS.beta;
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta <= 0) {
    problems.push(`beta must be a finite number > 0 (TRL's default is 0.1); got ${beta}`);
  }
  const raw = cfg.loss_type ?? DPO_LOSS_DEFAULTS.loss_type;
  const types: string[] = typeof raw === 'string' ? [raw] : [...raw];
  if (types.length === 0) problems.push(`loss_type is an empty list; give at least one of: ${DPO_LOSS_TYPES.join(', ')}`);
  for (const t of types) {
    if (!isDpoLossType(t)) problems.push(`unknown loss_type "${t}"; known loss types: ${DPO_LOSS_TYPES.join(', ')}`);
  }
  if (cfg.loss_weights !== undefined && cfg.loss_weights !== null) {
    const w = cfg.loss_weights;
    if (w.length !== types.length) {
      problems.push(
        `got ${w.length} loss_weights for ${types.length} loss types (${types.join(', ')}); ` +
          'give one weight per loss type, or omit loss_weights for 1 each',
      );
    }
    w.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) problems.push(`loss_weights[${i}] must be a finite number; got ${x}`);
    });
  }
  const eps = cfg.label_smoothing ?? DPO_LOSS_DEFAULTS.label_smoothing;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0 || eps >= 1) {
    problems.push(`label_smoothing must be in [0, 1); got ${eps}`);
  } else {
    if (types.includes('robust') && eps >= 0.5) {
      problems.push(`label_smoothing must be in [0, 0.5) for loss_type "robust" (it divides by 1 − 2ε); got ${eps}`);
    }
    if (types.includes('exo_pair') && eps === 0) {
      problems.push('label_smoothing must be > 0 for loss_type "exo_pair" (it takes log ε); the EXO paper uses 1e-3');
    }
  }
  const tau = cfg.discopop_tau ?? DPO_LOSS_DEFAULTS.discopop_tau;
  if (typeof tau !== 'number' || !Number.isFinite(tau) || tau <= 0) {
    problems.push(`discopop_tau must be a finite number > 0 (the paper's value is 0.05); got ${tau}`);
  }
  if (cfg.reference_free !== undefined && typeof cfg.reference_free !== 'boolean') {
    problems.push(`reference_free must be true or false; got ${JSON.stringify(cfg.reference_free)}`);
  }
  return problems;
}

/** Validates and fills defaults; throws LossConfigError listing every problem ("DPO settings: ...; ..."). */
export function resolveDpoConfig(cfg: DpoLossConfigInput = {}): DpoLossConfig {
  const problems = dpoConfigProblems(cfg);
  if (problems.length > 0) throw new LossConfigError(`DPO settings: ${problems.join('; ')}`);
  const raw = cfg.loss_type ?? DPO_LOSS_DEFAULTS.loss_type;
  const types = (typeof raw === 'string' ? [raw] : [...raw]) as DpoLossType[];
  return {
    beta: cfg.beta ?? DPO_LOSS_DEFAULTS.beta,
    loss_type: types,
    loss_weights: cfg.loss_weights ? [...cfg.loss_weights] : types.map(() => 1),
    label_smoothing: cfg.label_smoothing ?? DPO_LOSS_DEFAULTS.label_smoothing,
    reference_free: cfg.reference_free ?? false,
    discopop_tau: cfg.discopop_tau ?? DPO_LOSS_DEFAULTS.discopop_tau,
  };
}

/** Whether these settings need completion token counts among the loss inputs. */
export function dpoNeedsTokenCounts(cfg: DpoLossConfig): boolean {
  return cfg.loss_type.some((t) => DPO_LOSS_TYPES_NEEDING_TOKEN_COUNTS.includes(t));
}
