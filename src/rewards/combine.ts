/**
 * Several rewards as one: score = Σ_k w_k · r_k (TRL's `reward_weights`), and scoreDetailed also returns each
 * source's own scores by name, so a trainer logs `rewards/<name>/mean|std` (rewardStats) beside the total.
 * One source with weight 1 gives exactly that source's scores.
 *
 * Does NOT: normalise the rewards (a weight is the caller's scale), or own its sources beyond dispose(), which
 * disposes every one of them.
 */
import { checkAligned, RewardError, type CombinedRewardSource, type DetailedScores, type RewardSource } from './types';

/**
 * Example: combineRewards([rm, oracleReward], [1, 0.5]).scoreDetailed(p, c) ->
 *   {total: [r_rm + 0.5·r_oracle, ...], perSource: {'runs/rm': [...], oracle: [...]}}.
 * @param weights one per source, finite; @default all 1
 */
export function combineRewards(sources: readonly RewardSource[], weights?: readonly number[]): CombinedRewardSource {
  if (sources.length === 0) throw new RewardError('no reward given; pass at least one --reward SPEC');
  const w = weights ?? sources.map(() => 1);
  if (w.length !== sources.length) {
    throw new RewardError(`${w.length} reward weight${w.length === 1 ? '' : 's'} for ${sources.length} reward${sources.length === 1 ? '' : 's'} (${sources.map((s) => s.name).join(', ')}); give one weight per --reward, in the same order`);
  }
  const bad = w.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
  if (bad >= 0) throw new RewardError(`reward weight ${bad + 1} (${w[bad]}, for ${sources[bad].name}) is not a finite number`);
  const names = sources.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new RewardError(`reward ${dup} is given twice; give each reward once, with one weight`);
  const name = sources.length === 1 ? names[0] : names.map((n, i) => `${w[i]}*${n}`).join(' + ');

  async function scoreDetailed(prompts: readonly string[], completions: readonly string[], rows?: Parameters<RewardSource['score']>[2]): Promise<DetailedScores> {
    checkAligned(name, prompts, completions, rows);
    const perSource: Record<string, number[]> = {};
    // In turn, not at once: model sources share the CPU, and an fn: worker's timeout should time the call alone.
    for (const s of sources) {
      const v = await s.score(prompts, completions, rows);
      if (v.length !== prompts.length) throw new RewardError(`reward ${s.name} returned ${v.length} scores for ${prompts.length} pairs`);
      perSource[s.name] = v;
    }
    const total = prompts.map((_, i) => sources.reduce((acc, s, k) => acc + w[k] * perSource[s.name][i], 0));
    return { total, perSource };
  }

  return {
    name,
    sources,
    weights: w,
    scoreDetailed,
    score: async (p, c, rows) => (await scoreDetailed(p, c, rows)).total,
    dispose: () => sources.forEach((s) => s.dispose?.()),
    describe: () => ({ kind: 'combined', weights: w, sources: sources.map((s) => ({ name: s.name, ...(s.describe?.() ?? {}) })) }),
  };
}

/**
 * Mean and sample standard deviation (Bessel's n − 1, as TRL's nanstd logs `rewards/<name>/std`).
 * Empty -> NaN for both; one value -> std NaN.
 */
export function meanStd(v: readonly number[]): { mean: number; std: number } {
  if (v.length === 0) return { mean: NaN, std: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean, std: v.length < 2 ? NaN : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) };
}

/** `rewards/<name>/mean` and `rewards/<name>/std` for every source of a detailed score (TRL's metric names). */
export function rewardStats(d: DetailedScores): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, v] of Object.entries(d.perSource)) {
    const { mean, std } = meanStd(v);
    out[`rewards/${name}/mean`] = mean;
    out[`rewards/${name}/std`] = std;
  }
  return out;
}

/** "1,0.5" (a --reward-weights value) or numbers -> finite numbers; anything else is one line. */
export function parseWeights(v: string | readonly (string | number)[]): number[] {
  const parts = (typeof v === 'string' ? v.split(',') : v.flatMap((x) => String(x).split(','))).map((s) => s.trim());
  const ws = parts.map(Number);
  const bad = parts.findIndex((s, i) => s === '' || !Number.isFinite(ws[i]));
  if (bad >= 0) throw new RewardError(`--reward-weights ${parts.join(',')}: "${parts[bad]}" is not a number; write one weight per --reward, e.g. --reward-weights 1,0.5`);
  return ws;
}
