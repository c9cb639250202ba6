/**
 * The DPO loss settings, their defaults and every cross-field check, in one place.
 *
 * Does: name the loss types, document each field (meaning, default, range), fill defaults, list what is wrong
 * with a settings object. recipes/schema.ts builds the recipe's `dpo` fields from these tables and reports
 * dpoConfigProblems under `dpo.<field>`, so a new loss type or setting is added here (and its formula in
 * dpo.ts) and nowhere else.
 * Does NOT: compute losses (dpo.ts) or parse recipe files (recipes/).
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

/** Settings as a person writes them (recipe `dpo` section); each field is documented in DPO_LOSS_DOCS. */
export interface DpoLossConfigInput {
  beta?: number;
  loss_type?: string | readonly string[];
  loss_weights?: readonly number[] | null;
  label_smoothing?: number;
  reference_free?: boolean;
  discopop_tau?: number;
}

/**
 * A number's allowed range; a bound left out is open. Example: {gte: 0, lt: 1} is [0, 1).
 * recipes/schema.ts turns these into the recipe's zod checks, so the recipe and the losses accept the same values.
 */
export interface NumberRange {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

/** Defaults, TRL 1.13's DPOConfig. */
export const DPO_LOSS_DEFAULTS = { beta: 0.1, loss_type: 'sigmoid', label_smoothing: 0, reference_free: false, discopop_tau: 0.05 } as const;

/** The range of every numeric field before any cross-field rule (the rules are in dpoConfigProblems). */
export const DPO_LOSS_RANGES = {
  beta: { gt: 0 },
  loss_weights: { gte: 0 },
  label_smoothing: { gte: 0, lt: 1 },
  discopop_tau: { gt: 0 },
} as const satisfies Record<string, NumberRange>;

/** Every field once: meaning, range, paper. `rlhf recipe explain dpo` and the recipe schema print this text. */
export const DPO_LOSS_DOCS: Record<keyof DpoLossConfigInput, string> = {
  beta: 'β, the strength of the KL-style tie to the reference (DPO, Rafailov et al. 2023; τ for ipo); also scales the implicit reward β·(log πθ − log πref). > 0.',
  loss_type: `DPO loss, or a list of them summed with loss_weights (e.g. MPO: ["sigmoid", "bco_pair", "sft"]). One of: ${DPO_LOSS_TYPES.join(', ')}.`,
  loss_weights: 'One weight (>= 0) per loss_type entry; default 1 each.',
  label_smoothing:
    'ε, the assumed probability that a preference label is flipped: cDPO for sigmoid (Mitchell 2023), robust (Chowdhury et al. 2024; needs ε < 0.5), ' +
    'exo_pair (Ji et al. 2024; needs ε > 0, the paper uses 1e-3), aot. Other loss types ignore it. Range [0, 1).',
  reference_free: 'Treat the reference as uniform: its log-probs are 0 and no reference model is loaded.',
  discopop_tau: 'τ of DiscoPOP\'s log-ratio modulation (Chris Lu et al. 2024). > 0.',
};

/** Whether x lies in r. Example: inRange(1, {gte: 0, lt: 1}) -> false. */
function inRange(x: number, r: NumberRange): boolean {
  return (r.gt === undefined || x > r.gt) && (r.gte === undefined || x >= r.gte) && (r.lt === undefined || x < r.lt) && (r.lte === undefined || x <= r.lte);
}

/** A range for messages. Example: {gte: 0, lt: 1} -> "in [0, 1)"; {gt: 0} -> "> 0". */
function rangeText(r: NumberRange): string {
  const lo = r.gt ?? r.gte;
  const hi = r.lt ?? r.lte;
  if (lo !== undefined && hi !== undefined) return `in ${r.gt !== undefined ? '(' : '['}${lo}, ${hi}${r.lt !== undefined ? ')' : ']'}`;
  if (lo !== undefined) return `${r.gt !== undefined ? '>' : '>='} ${lo}`;
  if (hi !== undefined) return `${r.lt !== undefined ? '<' : '<='} ${hi}`;
  return 'any number';
}

/** One problem with a settings object: the field it is about and a readable sentence. */
export interface DpoConfigProblem {
  field: keyof DpoLossConfigInput;
  message: string;
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

const isDpoLossType = (s: string): s is DpoLossType => (DPO_LOSS_TYPES as readonly string[]).includes(s);

/**
 * Everything wrong with a settings object, one readable sentence each with its field (empty when it is fine).
 * The one place DPO settings are checked: resolveDpoConfig throws these, recipes/ reports them under `dpo.<field>`.
 * Example: {loss_type: ['sigmoid', 'sft'], loss_weights: [1, 1, 1]} -> [{field: 'loss_weights', message:
 *   'got 3 loss_weights for 2 loss types (sigmoid, sft); give one weight per loss type, or omit loss_weights for 1 each'}]
 */
export function dpoConfigProblems(cfg: DpoLossConfigInput): DpoConfigProblem[] {
  const problems: DpoConfigProblem[] = [];
  const add = (field: DpoConfigProblem['field'], message: string) => problems.push({ field, message });
  const number = (field: 'beta' | 'label_smoothing' | 'discopop_tau', why: string): number | null => {
    const x = cfg[field] ?? DPO_LOSS_DEFAULTS[field];
    if (typeof x === 'number' && Number.isFinite(x) && inRange(x, DPO_LOSS_RANGES[field])) return x;
    add(field, `${field} must be a finite number ${rangeText(DPO_LOSS_RANGES[field])}${why}; got ${x}`);
    return null;
  };
  number('beta', " (TRL's default is 0.1)");
  const raw = cfg.loss_type ?? DPO_LOSS_DEFAULTS.loss_type;
  const types: string[] = typeof raw === 'string' ? [raw] : [...raw];
  if (types.length === 0) add('loss_type', `loss_type is an empty list; give at least one of: ${DPO_LOSS_TYPES.join(', ')}`);
  for (const t of types) {
    if (!isDpoLossType(t)) add('loss_type', `unknown loss_type "${t}"; known loss types: ${DPO_LOSS_TYPES.join(', ')}`);
  }
  if (cfg.loss_weights !== undefined && cfg.loss_weights !== null) {
    const w = cfg.loss_weights;
    if (w.length !== types.length) {
      add('loss_weights', `got ${w.length} loss_weights for ${types.length} loss types (${types.join(', ')}); give one weight per loss type, or omit loss_weights for 1 each`);
    }
    w.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x) || !inRange(x, DPO_LOSS_RANGES.loss_weights)) {
        add('loss_weights', `loss_weights[${i}] must be a finite number ${rangeText(DPO_LOSS_RANGES.loss_weights)}; got ${x}`);
      }
    });
  }
  const eps = number('label_smoothing', '');
  if (eps !== null && types.includes('robust') && eps >= 0.5) {
    add('label_smoothing', `label_smoothing must be in [0, 0.5) for loss_type "robust" (it divides by 1 − 2ε); got ${eps}`);
  }
  if (eps !== null && types.includes('exo_pair') && eps === 0) {
    add('label_smoothing', 'label_smoothing must be > 0 for loss_type "exo_pair" (it takes log ε); the EXO paper uses 1e-3');
  }
  number('discopop_tau', " (the paper's value is 0.05)");
  if (cfg.reference_free !== undefined && typeof cfg.reference_free !== 'boolean') {
    add('reference_free', `reference_free must be true or false; got ${JSON.stringify(cfg.reference_free)}`);
  }
  return problems;
}

/** Validates and fills defaults; throws LossConfigError listing every problem ("DPO settings: ...; ..."). */
export function resolveDpoConfig(cfg: DpoLossConfigInput = {}): DpoLossConfig {
  const problems = dpoConfigProblems(cfg);
  if (problems.length > 0) throw new LossConfigError(`DPO settings: ${problems.map((p) => p.message).join('; ')}`);
  const raw = cfg.loss_type ?? DPO_LOSS_DEFAULTS.loss_type;
  const types = (typeof raw === 'string' ? [raw] : [...raw]) as DpoLossType[];
  return {
    beta: cfg.beta ?? DPO_LOSS_DEFAULTS.beta,
    loss_type: types,
    loss_weights: cfg.loss_weights ? [...cfg.loss_weights] : types.map(() => 1),
    label_smoothing: cfg.label_smoothing ?? DPO_LOSS_DEFAULTS.label_smoothing,
    reference_free: cfg.reference_free ?? DPO_LOSS_DEFAULTS.reference_free,
    discopop_tau: cfg.discopop_tau ?? DPO_LOSS_DEFAULTS.discopop_tau,
  };
}

