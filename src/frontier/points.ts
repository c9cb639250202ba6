/**
 * The frontier's numbers from scored samples, with no model in sight: best-of-n points per proxy from one
 * pool per prompt (bon.ts), RL/policy points from a policy's samples and its sampled KL (kl.ts), the headline
 * per proxy (gold peak and the KL it sits at), and the most over-optimised samples (what a proxy picks that the
 * gold reward scores low).
 *
 * Every reward is a mean over prompts first, then over samples within a prompt, so prompts weigh equally
 * whatever their pool size. Points carry `kl` in nats per completion; plots use √KL as in Gao et al. 2022.
 * Does NOT: sample, score or write files.
 */
import { bonEstimate, bonSizes, klBon } from './bon';
import type { KlEstimate } from './kl';

export type FrontierMethod = 'bon' | 'rl' | 'policy';

export interface FrontierPoint {
  /** The proxy reward's name (its spec). */
  proxy: string;
  method: FrontierMethod;
  /** Best-of-n size (bon points). */
  n?: number;
  /** Training step of an RL checkpoint (rl points). */
  step?: number;
  /** Which policy or run folder (rl and policy points). */
  label?: string;
  /** KL from the start policy, nats per completion: log n − (n−1)/n for bon, sampled for rl and policy. */
  kl: number;
  /** Standard error of a sampled KL. */
  kl_se?: number;
  proxy_reward: number;
  gold_reward: number;
  /**
   * Standard error of gold_reward over prompts (sd of the per-prompt values / √prompts; NaN for one prompt):
   * how much the point would move with other prompts, the noise the verdict weighs differences against.
   */
  gold_se: number;
}

/** One sample of a pool with every score: proxies[k] is proxy k's score, in the order of the proxy names. */
export interface ScoredSample {
  promptIndex: number;
  prompt: string;
  completion: string;
  proxies: number[];
  gold: number;
}

/** Mean of per-prompt values. */
function meanOf(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Standard error of the mean of per-prompt values: seOf([1, 3]) -> 1. */
function seOf(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = meanOf(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1) / xs.length);
}

/** Samples grouped by prompt, in prompt order (prompts with no sample are an error: nothing to estimate from). */
export function poolsByPrompt(samples: readonly ScoredSample[], prompts: number): ScoredSample[][] {
  const pools: ScoredSample[][] = Array.from({ length: prompts }, () => []);
  for (const s of samples) pools[s.promptIndex].push(s);
  const empty = pools.findIndex((p) => p.length === 0);
  if (empty >= 0) throw new RangeError(`frontier: prompt ${empty} has no samples; expected a pool for every prompt`);
  return pools;
}

/**
 * Best-of-n points for every proxy and n = 1, 2, 4, … ≤ nMax, from the pools (each of at least nMax samples).
 * Gold is the gold score of the proxy's pick (ties in the proxy: bon.ts).
 */
export function bonPoints(proxyNames: readonly string[], pools: readonly ScoredSample[][], nMax: number): FrontierPoint[] {
  const sizes = bonSizes(nMax);
  const out: FrontierPoint[] = [];
  proxyNames.forEach((proxy, k) => {
    for (const n of sizes) {
      const est = pools.map((pool) => bonEstimate(pool.map((s) => s.proxies[k]), pool.map((s) => s.gold), n));
      const gold = est.map((e) => e.gold);
      out.push({ proxy, method: 'bon', n, kl: klBon(n), proxy_reward: meanOf(est.map((e) => e.proxy)), gold_reward: meanOf(gold), gold_se: seOf(gold) });
    }
  });
  return out;
}

/** One point per proxy for a policy's samples (the same KL and gold, each proxy's own mean). */
export function policyPoints(
  proxyNames: readonly string[],
  samples: readonly ScoredSample[],
  prompts: number,
  kl: KlEstimate,
  where: { method: 'rl' | 'policy'; label: string; step?: number },
): FrontierPoint[] {
  const pools = poolsByPrompt(samples, prompts);
  const perPrompt = (f: (s: ScoredSample) => number) => meanOf(pools.map((pool) => meanOf(pool.map(f))));
  const goldPerPrompt = pools.map((pool) => meanOf(pool.map((s) => s.gold)));
  const gold = meanOf(goldPerPrompt);
  return proxyNames.map((proxy, k) => ({
    proxy, method: where.method, ...(where.step !== undefined ? { step: where.step } : {}), label: where.label,
    kl: kl.kl, kl_se: kl.se, proxy_reward: perPrompt((s) => s.proxies[k]), gold_reward: gold, gold_se: seOf(goldPerPrompt),
  }));
}

/** What optimising one proxy did to gold: where gold peaks along best-of-n and RL, and what is left at the end. */
export interface ProxyHeadline {
  /** Gold of the start policy (best-of-1). */
  start_gold: number;
  /** Its standard error over prompts. */
  start_gold_se: number;
  /** The lowest gold over the proxy's bon and rl points, its standard error, KL and point: below the start means optimising this proxy costs gold. */
  lowest_gold: number;
  lowest_gold_se: number;
  kl_at_lowest: number;
  lowest_at: string;
  /** The highest gold over the proxy's bon and rl points. */
  peak_gold: number;
  /** Its standard error over prompts (the maximum of noisy points also leans high: read small gains with care). */
  peak_gold_se: number;
  kl_at_peak: number;
  /** The point holding the peak: "bon n=8", "rl <label> step 40". */
  peak_at: string;
  proxy_at_peak: number;
  /** The point of largest KL among bon and rl, and its gold: below the peak means over-optimisation. */
  max_kl: number;
  gold_at_max_kl: number;
  gold_at_max_kl_se: number;
  /** peak_gold − gold_at_max_kl (0 when gold is still at its peak at the largest KL). */
  gold_drop_after_peak: number;
  /** The proxy's rise from start to the largest KL, to set beside the gold's. */
  proxy_gain: number;
}

const pointName = (p: FrontierPoint) =>
  p.method === 'bon' ? `bon n=${p.n}` : `${p.method} ${p.label ?? ''}${p.step !== undefined ? ` step ${p.step}` : ''}`.trim();

/** Per proxy: its gold peak over the optimisation points (bon, rl) and the KL there. Policy points are context, not optimisation of this proxy. */
export function headlines(points: readonly FrontierPoint[]): Record<string, ProxyHeadline> {
  const out: Record<string, ProxyHeadline> = {};
  const proxies = [...new Set(points.map((p) => p.proxy))];
  for (const proxy of proxies) {
    const opt = points.filter((p) => p.proxy === proxy && p.method !== 'policy');
    const start = opt.find((p) => p.method === 'bon' && p.n === 1);
    if (!start || opt.length === 0) continue;
    const peak = opt.reduce((a, b) => (b.gold_reward > a.gold_reward || (b.gold_reward === a.gold_reward && b.kl < a.kl) ? b : a));
    const far = opt.reduce((a, b) => (b.kl > a.kl ? b : a));
    const low = opt.reduce((a, b) => (b.gold_reward < a.gold_reward || (b.gold_reward === a.gold_reward && b.kl < a.kl) ? b : a));
    out[proxy] = {
      start_gold: start.gold_reward, start_gold_se: start.gold_se,
      lowest_gold: low.gold_reward, lowest_gold_se: low.gold_se, kl_at_lowest: low.kl, lowest_at: pointName(low),
      peak_gold: peak.gold_reward, peak_gold_se: peak.gold_se, kl_at_peak: peak.kl, peak_at: pointName(peak),
      proxy_at_peak: peak.proxy_reward, max_kl: far.kl, gold_at_max_kl: far.gold_reward, gold_at_max_kl_se: far.gold_se,
      gold_drop_after_peak: peak.gold_reward - far.gold_reward, proxy_gain: far.proxy_reward - start.proxy_reward,
    };
  }
  return out;
}

/** Gold differences closer than this are exact ties. */
const TIE = 1e-9;

/** Two standard errors (NaN counts as 0: one prompt gives no error estimate), the margin a difference must clear. */
const noise = (...ses: number[]) => 2 * Math.sqrt(ses.reduce((a, se) => a + (Number.isFinite(se) ? se * se : 0), 0)) + TIE;
/** Whether the proxy's gold peak clears its start by more than noise (two standard errors). */
export const goldGainIsReal = (x: ProxyHeadline): boolean => x.peak_gold - x.start_gold > noise(x.peak_gold_se);
/** Whether gold at the largest KL is below the peak by more than noise: over-optimisation, not a wobble. */
export const goldDropIsReal = (x: ProxyHeadline): boolean => x.gold_drop_after_peak > noise(x.peak_gold_se, x.gold_at_max_kl_se);
/** Whether gold somewhere along the proxy's points is below the start's by more than noise: optimising it costs gold. */
export const goldFallIsReal = (x: ProxyHeadline): boolean => x.start_gold - x.lowest_gold > noise(x.start_gold_se, x.lowest_gold_se);
const gains = goldGainIsReal;

/** One proxy's clause: how gold moved as the proxy was optimised. */
function proxyClause(name: string, x: ProxyHeadline): string {
  const f = (v: number) => v.toFixed(3);
  if (!gains(x)) {
    const peak = x.peak_gold > x.start_gold + TIE ? ` (peak ${f(x.peak_gold)} ± ${f(x.peak_gold_se)} at KL ${x.kl_at_peak.toFixed(2)}, within noise)` : '';
    const fell = goldFallIsReal(x) ? ` and fell to ${f(x.lowest_gold)} ± ${f(x.lowest_gold_se)} at KL ${x.kl_at_lowest.toFixed(2)} (${x.lowest_at})` : '';
    return `optimising ${name}: gold did not rise measurably above the start policy's ${f(x.start_gold)}${peak}${fell} up to KL ${x.max_kl.toFixed(2)}, while its own score rose by ${f(x.proxy_gain)}`;
  }
  const rise = `gold ${f(x.start_gold)} -> peak ${f(x.peak_gold)} ± ${f(x.peak_gold_se)} at KL ${x.kl_at_peak.toFixed(2)} nats (${x.peak_at})`;
  const after = goldDropIsReal(x)
    ? `, then down to ${f(x.gold_at_max_kl)} ± ${f(x.gold_at_max_kl_se)} at KL ${x.max_kl.toFixed(2)} while its own score rose by ${f(x.proxy_gain)}`
    : x.gold_drop_after_peak > TIE
      ? `, ${f(x.gold_at_max_kl)} ± ${f(x.gold_at_max_kl_se)} at the largest KL measured (${x.max_kl.toFixed(2)}): no measurable fall`
      : `, still at its peak at the largest KL measured (${x.max_kl.toFixed(2)})`;
  return `optimising ${name}: ${rise}${after}`;
}

/** The sentence that answers "which reward is safer to optimise here, and up to what KL", with numbers. */
export function headlineSentence(h: Record<string, ProxyHeadline>): string {
  const names = Object.keys(h);
  if (names.length === 0) return 'No proxy has best-of-n points: nothing to compare.';
  const f = (x: number) => x.toFixed(3);
  const clauses = names.map((n) => proxyClause(n, h[n])).join('; ');
  // Safer = the higher gold peak; on a tie, the smaller drop after it.
  const ranked = [...names].sort((a, b) => h[b].peak_gold - h[a].peak_gold || h[a].gold_drop_after_peak - h[b].gold_drop_after_peak);
  const best = ranked[0];
  const second = ranked[1];
  let verdict: string;
  if (!names.some((n) => gains(h[n]))) {
    verdict = `No proxy is safe to optimise here: gold did not rise measurably above the start policy's under any of them`;
    // Still a ranking worth stating: optimising some proxies costs gold measurably, others do not.
    const fell = names.filter((n) => goldFallIsReal(h[n]));
    const held = names.filter((n) => !goldFallIsReal(h[n]));
    if (fell.length > 0 && held.length > 0) verdict += `; the least harmful is ${held.join(', ')} (gold held within noise), while under ${fell.join(', ')} it fell measurably`;
  }
  else if (names.length === 1) verdict = `Optimising ${best} pays here up to KL ${h[best].kl_at_peak.toFixed(2)} nats`;
  else if (h[best].peak_gold - h[second].peak_gold <= noise(h[best].peak_gold_se, h[second].peak_gold_se)) {
    verdict = `Neither proxy is measurably safer here: gold peaks ${f(h[best].peak_gold)} ± ${f(h[best].peak_gold_se)} (${best}) and ${f(h[second].peak_gold)} ± ${f(h[second].peak_gold_se)} (${second}) are within two standard errors`;
  } else {
    const others = ranked.slice(1).map((n) => `${f(h[n].peak_gold)} for ${n}`).join(', ');
    verdict = `Safer to optimise here: ${best} (gold peak ${f(h[best].peak_gold)} vs ${others}), up to KL ${h[best].kl_at_peak.toFixed(2)} nats`;
  }
  return `${verdict}; ${clauses}.`;
}

/**
 * One clause per placed policy (the DPO policy, say), against the start policy's gold:
 * "Policy runs/dpo: KL 40.09 ± 0.36 nats, gold 0.011 ± 0.002 (start 0.018)."
 */
export function policySentence(points: readonly FrontierPoint[]): string {
  const start = points.find((p) => p.method === 'bon' && p.n === 1);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of points.filter((q) => q.method === 'policy')) {
    const label = p.label ?? 'policy';
    if (seen.has(label)) continue;
    seen.add(label);
    const kl = `KL ${p.kl.toFixed(2)}${p.kl_se !== undefined && Number.isFinite(p.kl_se) ? ` ± ${p.kl_se.toFixed(2)}` : ''} nats`;
    let vs = '';
    if (start) {
      const d = p.gold_reward - start.gold_reward;
      const call = Math.abs(d) > noise(p.gold_se, start.gold_se) ? (d > 0 ? 'above' : 'below') : 'not measurably different from';
      vs = `, ${call} the start policy's ${start.gold_reward.toFixed(3)}`;
    }
    out.push(`Policy ${label}: ${kl}, gold ${p.gold_reward.toFixed(3)} ± ${p.gold_se.toFixed(3)}${vs}.`);
  }
  return out.join(' ');
}

export interface OverOptimisedSample {
  proxy: string;
  prompt: string;
  completion: string;
  proxy_reward: number;
  gold_reward: number;
  /** Mean gold of the prompt's whole pool: what picking at random would have earned. */
  pool_gold: number;
}

/**
 * Per proxy, the samples it ranks first in their prompt's pool (best-of-N's pick) whose gold is below the
 * pool's mean gold, lowest gold first (then highest proxy): where the proxy and the gold disagree most.
 */
export function overOptimised(proxyNames: readonly string[], pools: readonly ScoredSample[][], k: number): OverOptimisedSample[] {
  const out: OverOptimisedSample[] = [];
  proxyNames.forEach((proxy, j) => {
    const picks: OverOptimisedSample[] = [];
    for (const pool of pools) {
      const top = pool.reduce((a, b) => (b.proxies[j] > a.proxies[j] ? b : a));
      const poolGold = meanOf(pool.map((s) => s.gold));
      if (top.gold < poolGold) {
        picks.push({ proxy, prompt: top.prompt, completion: top.completion, proxy_reward: top.proxies[j], gold_reward: top.gold, pool_gold: poolGold });
      }
    }
    picks.sort((a, b) => a.gold_reward - b.gold_reward || b.proxy_reward - a.proxy_reward);
    out.push(...picks.slice(0, k));
  });
  return out;
}
