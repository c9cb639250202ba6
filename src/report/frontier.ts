/**
 * The frontier's outputs: frontier.json (points, headline per proxy, the verdict, settings), frontier.md and
 * report.html, whose chapter "What optimising against each reward does" plots gold vs √KL and proxy vs √KL per
 * proxy, with best-of-n lines, RL checkpoints and placed policies (the DPO policy) as points, each gold peak
 * marked with its KL, and the most over-optimised samples (high proxy, low gold) with their text.
 *
 * Every plot is an <svg data-plot="NAME"> whose data marks carry class "mark" (the Chromium test counts them).
 * Everything is rendered before anything is written, and each file is written through a temporary name and a
 * rename, so a failure leaves no half-written output.
 * Does NOT: sample, score or compute points (frontier/ does).
 */
import * as fs from 'fs';
import * as path from 'path';
import { goldDropIsReal, goldGainIsReal, type FrontierPoint, type FrontierResult, type OverOptimisedSample, type ProxyHeadline } from '../frontier';
import { CSS } from './html';
import { axes, esc, extent, frame, legend, linearScale, r, svg } from './svg';

export const FRONTIER_FILE = 'frontier.json';
export const FRONTIER_FORMAT = 'rlhf-frontier/v1';

/** What the run was given, recorded in frontier.json and shown under the title. */
export interface FrontierSettings {
  policy: string;
  prompts: string;
  n_max: number;
  seed: number;
  max_new_tokens: number;
  samples_per_policy: number;
  rl_runs: string[];
  policy_points: string[];
}

export interface FrontierPaths {
  json: string;
  markdown: string;
  html: string;
  samples: string;
}

const METHOD_COLOURS = { bon: '#2563eb', rl: '#059669', policy: '#d55e00' } as const;
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
/** √KL for plotting; a sampled KL can come out slightly negative (noise), plotted at 0. */
const sqrtKl = (kl: number) => Math.sqrt(Math.max(0, kl));

/** frontier.json's object: format tag, settings, points, headline per proxy, verdict, over-optimised samples, counts. */
export function frontierJson(res: FrontierResult, settings: FrontierSettings, wallS: number): Record<string, unknown> {
  return {
    format: FRONTIER_FORMAT, proxies: res.proxies, gold: res.gold, settings, points: res.points, headline: res.headline,
    verdict: res.sentence, over_optimised: res.over_optimised, counts: res.counts, wall_s: wallS,
  };
}

// ---- plots ------------------------------------------------------------------------------------

function pointLabel(p: FrontierPoint): string {
  if (p.method === 'bon') return `best-of-${p.n}`;
  return `${p.method === 'rl' ? 'RL' : 'policy'} ${p.label ?? ''}${p.step !== undefined ? ` step ${p.step}` : ''}`.trim();
}

/** One plot: `value` (gold or proxy) vs √KL for one proxy's points; bon as a line, rl as a line of dots, policies as diamonds. */
function frontierPlot(name: string, proxy: string, pts: FrontierPoint[], value: 'gold_reward' | 'proxy_reward', peak: ProxyHeadline | undefined): string {
  const f = frame(520, 340, { top: 40 });
  const x = linearScale([0, Math.max(...pts.map((p) => sqrtKl(p.kl)), 0.1)], [f.left, f.width - f.right]);
  const spread = value === 'gold_reward' ? pts.flatMap((p) => (Number.isFinite(p.gold_se) ? [p.gold_reward - p.gold_se, p.gold_reward + p.gold_se] : [p.gold_reward])) : pts.map((p) => p[value]);
  const y = linearScale(extent(spread, 0.08), [f.height - f.bottom, f.top]);
  const at = (p: FrontierPoint) => `${r(x(sqrtKl(p.kl)))},${r(y(p[value]))}`;
  const tip = (p: FrontierPoint) =>
    `<title>${esc(`${pointLabel(p)}: KL ${f3(p.kl)}, ${value === 'gold_reward' ? `gold ${f3(p.gold_reward)} ± ${f3(p.gold_se)}` : `proxy ${f3(p.proxy_reward)}`}`)}</title>`;
  const parts: string[] = [];
  // ±1 standard error over prompts under every gold point (behind the marks).
  if (value === 'gold_reward') {
    for (const p of pts.filter((q) => Number.isFinite(q.gold_se) && q.gold_se > 0)) {
      const cx = r(x(sqrtKl(p.kl)));
      parts.push(`<line class="whisker" x1="${cx}" x2="${cx}" y1="${r(y(p.gold_reward - p.gold_se))}" y2="${r(y(p.gold_reward + p.gold_se))}"/>`);
    }
  }
  const bon = pts.filter((p) => p.method === 'bon').sort((a, b) => a.kl - b.kl);
  if (bon.length > 1) parts.push(`<polyline fill="none" stroke="${METHOD_COLOURS.bon}" stroke-width="2" points="${bon.map(at).join(' ')}"/>`);
  for (const p of bon) parts.push(`<circle class="mark bon" cx="${r(x(sqrtKl(p.kl)))}" cy="${r(y(p[value]))}" r="4" fill="${METHOD_COLOURS.bon}">${tip(p)}</circle>`);
  const runs = new Map<string, FrontierPoint[]>();
  for (const p of pts.filter((q) => q.method === 'rl')) runs.set(p.label ?? '', [...(runs.get(p.label ?? '') ?? []), p]);
  for (const run of runs.values()) {
    const sorted = run.sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
    if (sorted.length > 1) parts.push(`<polyline fill="none" stroke="${METHOD_COLOURS.rl}" stroke-width="1.6" stroke-dasharray="5 3" points="${sorted.map(at).join(' ')}"/>`);
    for (const p of sorted) parts.push(`<circle class="mark rl" cx="${r(x(sqrtKl(p.kl)))}" cy="${r(y(p[value]))}" r="4" fill="${METHOD_COLOURS.rl}">${tip(p)}</circle>`);
  }
  for (const p of pts.filter((q) => q.method === 'policy')) {
    const [cx, cy] = [x(sqrtKl(p.kl)), y(p[value])];
    parts.push(
      `<path class="mark policy" d="M${r(cx)} ${r(cy - 7)}L${r(cx + 7)} ${r(cy)}L${r(cx)} ${r(cy + 7)}L${r(cx - 7)} ${r(cy)}Z" fill="${METHOD_COLOURS.policy}">${tip(p)}</path>`,
      // The label sits right of the diamond, or left of it near the plot's right edge.
      cx + 10 + 6.6 * (p.label ?? 'policy').length > f.width
        ? `<text class="value" x="${r(cx - 10)}" y="${r(cy - 8)}" text-anchor="end">${esc(p.label ?? 'policy')}</text>`
        : `<text class="value" x="${r(cx + 10)}" y="${r(cy - 8)}">${esc(p.label ?? 'policy')}</text>`,
    );
  }
  if (peak && value === 'gold_reward') {
    const [cx, cy] = [x(sqrtKl(peak.kl_at_peak)), y(peak.peak_gold)];
    parts.push(
      `<circle class="peak" cx="${r(cx)}" cy="${r(cy)}" r="9" fill="none" stroke="#0f172a" stroke-width="1.5"/>`,
      `<text class="value" x="${r(Math.min(cx + 12, f.width - f.right - 190))}" y="${r(Math.max(cy - 12, f.top + 10))}">${esc(`peak ${f3(peak.peak_gold)} ± ${f3(peak.peak_gold_se)} at KL ${f2(peak.kl_at_peak)}`)}</text>`,
    );
  }
  const items: Array<{ label: string; colour: string }> = [{ label: 'best-of-n', colour: METHOD_COLOURS.bon }];
  if (runs.size) items.push({ label: 'RL checkpoints', colour: METHOD_COLOURS.rl });
  if (pts.some((p) => p.method === 'policy')) items.push({ label: 'policies', colour: METHOD_COLOURS.policy });
  const yLabel = value === 'gold_reward' ? 'gold reward' : `proxy reward (${proxy})`;
  const body = axes(f, x, y, '√KL from the start policy (√nats)', yLabel) + parts.join('') + legend(f.left, 16, items);
  return svg(name, f, `${yLabel} vs square root of KL for ${proxy}`, body);
}

// ---- chapter ------------------------------------------------------------------------------------

function card(label: string, big: string, small: string): string {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="big">${esc(big)}</div><div class="small">${esc(small)}</div></div>`;
}

function proxyReading(proxy: string, h: ProxyHeadline | undefined): string {
  if (!h) return `No best-of-n points for ${proxy}.`;
  const start = `Gold starts at ${f3(h.start_gold)} (the start policy)`;
  const peak = `${f3(h.peak_gold)} ± ${f3(h.peak_gold_se)} at KL ${f2(h.kl_at_peak)} nats (${h.peak_at})`;
  const rise = goldGainIsReal(h) ? `${start} and peaks at ${peak}.` : `${start}; its highest point, ${peak}, is within two standard errors of it: no measurable gain.`;
  const fall = goldDropIsReal(h)
    ? `Past the peak, gold falls to ${f3(h.gold_at_max_kl)} ± ${f3(h.gold_at_max_kl_se)} by KL ${f2(h.max_kl)} while the proxy keeps rising (+${f3(h.proxy_gain)} over the start): over-optimisation.`
    : `At the largest KL measured (${f2(h.max_kl)}) gold is ${f3(h.gold_at_max_kl)} ± ${f3(h.gold_at_max_kl_se)}, not measurably below the peak, while the proxy rose by ${f3(h.proxy_gain)}.`;
  return `${rise} ${fall}`;
}

function samplesSection(xs: OverOptimisedSample[]): string {
  if (xs.length === 0) return '<p class="note">No proxy picked a sample whose gold was below its pool\'s mean: nothing over-optimised to show.</p>';
  return xs
    .map((s) =>
      `<div class="dis"><header><b>${esc(s.proxy)}</b> <span class="muted">proxy ${f3(s.proxy_reward)} · gold ${f3(s.gold_reward)} · pool mean gold ${f3(s.pool_gold)}</span></header>` +
      `<div class="prompt"><div class="resp-head">prompt</div><pre>${esc(s.prompt)}</pre></div>` +
      `<div class="resp"><div class="resp-head">the proxy's pick among the pool</div><pre>${esc(s.completion)}</pre></div></div>`)
    .join('');
}

function pointsTable(points: FrontierPoint[]): string {
  const rows = points.map((p) =>
    `<tr><td>${esc(p.proxy)}</td><td>${esc(pointLabel(p))}</td><td>${f3(p.kl)}${p.kl_se !== undefined ? ` ± ${f3(p.kl_se)}` : ''}</td><td>${f3(p.proxy_reward)}</td><td>${f3(p.gold_reward)} ± ${f3(p.gold_se)}</td></tr>`);
  return `<details><summary>Every point (frontier.json)</summary><table><tr><th>proxy</th><th>point</th><th>KL (nats)</th><th>proxy</th><th>gold ± se</th></tr>${rows.join('')}</table></details>`;
}

/** The chapter as one <section> (also embeddable in another report page). */
export function frontierChapter(res: FrontierResult): string {
  const cards = res.proxies.map((p) => {
    const h = res.headline[p];
    return h ? card(`gold peak · ${p}`, f3(h.peak_gold), `at KL ${f2(h.kl_at_peak)} nats (${h.peak_at}) · start ${f3(h.start_gold)}`) : '';
  }).join('');
  const figures = res.proxies.map((proxy, k) => {
    const pts = res.points.filter((p) => p.proxy === proxy);
    const h = res.headline[proxy];
    return `<figure><figcaption>Optimising ${esc(proxy)}</figcaption><div class="grid2">` +
      `<div><div class="subhead">gold (${esc(res.gold)})</div>${frontierPlot(`gold-${k}`, proxy, pts, 'gold_reward', h)}</div>` +
      `<div><div class="subhead">proxy (${esc(proxy)})</div>${frontierPlot(`proxy-${k}`, proxy, pts, 'proxy_reward', h)}</div>` +
      `</div><p class="note">${esc(proxyReading(proxy, h))}</p></figure>`;
  }).join('');
  const about =
    `Best-of-n picks, among n samples of the start policy, the one the proxy scores highest; its KL from the start policy is log n − (n−1)/n, and its ` +
    `expected proxy and gold come from one pool of ${res.counts.pool_samples / Math.max(1, res.counts.prompts)} samples per prompt (the unbiased order-statistics estimator). ` +
    `RL checkpoints and placed policies are sampled, their KL estimated from the samples. Gold is ${res.gold}: the reward we trust, which no method optimised.`;
  return `<section id="frontier"><h2>What optimising against each reward does</h2><div class="cards">${cards}</div>` +
    `<p class="verdict">${esc(res.sentence)}</p><p class="note">${esc(about)}</p>${figures}` +
    `<h2>Over-optimised samples: high proxy, low gold</h2><p class="note">Per proxy, the samples it ranked first in their prompt's pool whose gold is below that pool's mean, lowest gold first.</p>` +
    `${samplesSection(res.over_optimised)}${pointsTable(res.points)}</section>`;
}

/** report.html: the frontier chapter on its own page, in the comparison report's style. */
export function renderFrontierHtml(res: FrontierResult, settings: FrontierSettings): string {
  const title = 'Reward–KL frontier';
  const sub = `start policy ${settings.policy} · ${res.counts.prompts} prompts from ${settings.prompts} · n up to ${settings.n_max} · seed ${settings.seed} · gold ${res.gold}`;
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title><style>${CSS}</style></head><body><main>`,
    `<h1>${esc(title)}</h1><p class="sub">${esc(sub)}</p>`,
    frontierChapter(res),
    '</main></body></html>',
  ].join('\n');
}

/** frontier.md: the verdict, the headline per proxy, every point, and the over-optimised samples. */
export function renderFrontierMarkdown(res: FrontierResult, settings: FrontierSettings): string {
  const lines = [
    '# Reward–KL frontier', '',
    `Start policy \`${settings.policy}\`, ${res.counts.prompts} prompts from \`${settings.prompts}\`, n up to ${settings.n_max}, seed ${settings.seed}, gold \`${res.gold}\`.`, '',
    res.sentence, '',
    '| proxy | start gold | peak gold | KL at peak | at | gold at max KL (KL) |', '|---|---|---|---|---|---|',
    ...res.proxies.filter((p) => res.headline[p]).map((p) => {
      const h = res.headline[p];
      return `| ${p} | ${f3(h.start_gold)} | ${f3(h.peak_gold)} ± ${f3(h.peak_gold_se)} | ${f2(h.kl_at_peak)} | ${h.peak_at} | ${f3(h.gold_at_max_kl)} (${f2(h.max_kl)}) |`;
    }), '',
    '## Points', '', 'Gold ± its standard error over prompts.', '', '| proxy | point | KL (nats) | √KL | proxy reward | gold reward |', '|---|---|---|---|---|---|',
    ...res.points.map((p) => `| ${p.proxy} | ${pointLabel(p)} | ${f3(p.kl)}${p.kl_se !== undefined ? ` ± ${f3(p.kl_se)}` : ''} | ${f3(sqrtKl(p.kl))} | ${f3(p.proxy_reward)} | ${f3(p.gold_reward)} ± ${f3(p.gold_se)} |`), '',
    '## Over-optimised samples (high proxy, low gold)', '',
    ...(res.over_optimised.length === 0 ? ['None: every proxy pick had gold at or above its pool mean.'] : res.over_optimised.flatMap((s) => [
      `- **${s.proxy}** proxy ${f3(s.proxy_reward)}, gold ${f3(s.gold_reward)} (pool mean ${f3(s.pool_gold)})`,
      `  - prompt: ${JSON.stringify(s.prompt)}`, `  - completion: ${JSON.stringify(s.completion)}`,
    ])), '',
  ];
  return lines.join('\n');
}

/** JSON with NaN/Infinity as null and a trailing newline. */
const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), 2) + '\n';

/** Writes frontier.json, frontier.md, report.html and samples.jsonl (the pool with its scores) into outDir. */
export function writeFrontierReport(outDir: string, res: FrontierResult, settings: FrontierSettings, wallS: number): FrontierPaths {
  const files: Array<[keyof FrontierPaths, string, string]> = [
    ['json', FRONTIER_FILE, json(frontierJson(res, settings, wallS))],
    ['markdown', 'frontier.md', renderFrontierMarkdown(res, settings)],
    ['html', 'report.html', renderFrontierHtml(res, settings)],
    ['samples', 'samples.jsonl', res.pool.map((s) => JSON.stringify({
      prompt_index: s.promptIndex, prompt: s.prompt, completion: s.completion,
      proxies: Object.fromEntries(res.proxies.map((p, k) => [p, s.proxies[k]])), gold: s.gold,
    })).join('\n') + '\n'],
  ];
  fs.mkdirSync(outDir, { recursive: true });
  const paths = {} as FrontierPaths;
  for (const [key, name, text] of files) {
    const file = path.join(outDir, name);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
    paths[key] = file;
  }
  return paths;
}
