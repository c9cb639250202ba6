/**
 * The one shape every reward has: a value `{name, score(prompts, completions)}`, not a class. The
 * oracle (oracle.ts) is the first; reward models (explicit.ts), DPO's implicit reward (implicit.ts), user
 * functions (fn.ts) and judges come behind the same shape, so compare, best-of-n, the online trainers and the
 * frontier take any of them. spec.ts turns a spec string into one; combine.ts makes one of several.
 *
 * Does NOT: parse reward specs (spec.ts) or combine several rewards (combine.ts).
 */

/**
 * What a caller knows of each pair beyond its two texts (a prompts file's other columns, such as a reference
 * answer), passed to user functions as their `row` argument (fn.ts). Sources that do not need it ignore it.
 */
export type RewardRow = Readonly<Record<string, unknown>>;

export interface RewardSource {
  /** Short name for logs and reports: "oracle", the spec as given ("runs/rm", "implicit:runs/dpo"). */
  readonly name: string;
  /**
   * One score per (prompt, completion) pair, in order; prompts[i] goes with completions[i]. Higher is better.
   * `rows[i]`, when given, is what the caller knows of pair i (see RewardRow).
   */
  score(prompts: readonly string[], completions: readonly string[], rows?: readonly RewardRow[]): Promise<number[]>;
  /** Frees what the source holds (model weights, a worker thread). A source without it holds nothing. */
  dispose?(): void;
  /** What the source is and the settings it scores with, for a run's record (bon.json, summary.json). */
  readonly describe?: () => Record<string, unknown>;
}

/** The scores of several sources and their weighted sum (combine.ts). */
export interface DetailedScores {
  /** Σ_k weights[k] · perSource[name_k][i], per pair. */
  total: number[];
  /** Each source's own scores, by its name, in the order the sources were given. */
  perSource: Record<string, number[]>;
}

/** A reward that also returns each part's scores, so trainers can log `rewards/<name>/mean|std`. */
export interface CombinedRewardSource extends RewardSource {
  readonly sources: readonly RewardSource[];
  readonly weights: readonly number[];
  scoreDetailed(prompts: readonly string[], completions: readonly string[], rows?: readonly RewardRow[]): Promise<DetailedScores>;
}

/** A bad reward spec, a reward that failed on a row, or inputs that do not line up: one line, naming the cause. */
export class RewardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Throws unless there is one completion per prompt (and one row per pair when rows are given). */
export function checkAligned(name: string, prompts: readonly string[], completions: readonly string[], rows?: readonly RewardRow[]): void {
  if (prompts.length !== completions.length) {
    throw new RewardError(`reward ${name}: ${prompts.length} prompts but ${completions.length} completions; pass one completion per prompt, in the same order`);
  }
  if (rows !== undefined && rows.length !== prompts.length) {
    throw new RewardError(`reward ${name}: ${rows.length} rows for ${prompts.length} pairs; pass one row per pair, or none`);
  }
}
