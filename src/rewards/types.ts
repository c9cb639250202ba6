/**
 * The one shape every reward has: a value `{name, score(prompts, completions)}`, not a class. The
 * oracle (oracle.ts) is the first; reward models, DPO's implicit reward, judges and user functions come
 * behind the same shape, so compare, best-of-n, the online trainers and the frontier take any of them.
 *
 * Does NOT: parse reward specs or combine several rewards (the loop's spec parser will).
 */

export interface RewardSource {
  /** Short name for logs and reports: "oracle", a checkpoint folder, "implicit:...". */
  readonly name: string;
  /** One score per (prompt, completion) pair, in order; prompts[i] goes with completions[i]. Higher is better. */
  score(prompts: readonly string[], completions: readonly string[]): Promise<number[]>;
}
