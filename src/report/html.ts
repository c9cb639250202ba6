/**
 * report.html: one self-contained page (inline CSS, inline SVG, a few lines of inline JS; nothing
 * is fetched, no web fonts) showing the comparison summary and, when given, training curves.
 * Every plot is an <svg data-plot="NAME"> whose data marks have class "mark".
 * Does NOT compute statistics (compare/summary.ts) or read/write files (report.ts).
 */
import type { Rate } from '../compare/analyses';
import { FIELD_DOCS } from '../compare/fields';
import {
  calibrationSentence, ci, correlationSentence, lengthSentence, num, pct, positionBiasSentence, PROBE_READING, probeSentences, probeSetLabel, reportRewards, strength, threeWaySentence, verdict,
  type RewardKey,
} from './format';
import { mean, sd } from '../compare/stats';
import type { ComparisonSummary } from '../compare/summary';
import { axes, bands, esc, extent, frame, legend, linearScale, r, svg, type Frame } from './svg';
import type { MetricsLog } from '../compare/types';

export const COLOURS = {
  explicit: '#2563eb',
  implicit: '#d55e00',
  judge: '#059669',
  /** Scatter: explicit and implicit agree but the judge prefers the other response. */
  judgeDissents: '#059669',
  agree: '#94a3b8',
  disagree: '#c026d3',
  runs: ['#2563eb', '#d55e00', '#059669', '#7c3aed', '#0891b2', '#b45309'],
};

export interface HtmlOptions {
  /** Page title. @default "Explicit vs implicit reward" */
  title?: string;
  /** Training metrics logs to plot (TRL metric names). */
  metricsLogs?: MetricsLog[];
  /** Free text under the title (e.g. which checkpoints were compared). */
  subtitle?: string;
}

/** A figure: the plot, a heading and a plain-language reading of it. */
function figure(title: string, plot: string, note: string): string {
  return `<figure><figcaption>${esc(title)}</figcaption>${plot}<p class="note">${esc(note)}</p></figure>`;
}

// ---- headline -------------------------------------------------------------------------------

function card(label: string, big: string, small: string, colour?: string): string {
  const style = colour ? ` style="border-top: 4px solid ${colour}"` : '';
  return `<div class="card"${style}><div class="label">${esc(label)}</div><div class="big">${esc(big)}</div><div class="small">${esc(small)}</div></div>`;
}

function headline(s: ComparisonSummary): string {
  const c = s.correlation;
  const j = s.judge;
  const judgeCards = j
    ? card('Judge accuracy (generative)', pct(j.accuracy), `95% ${ci(j.accuracy_ci, true)} · position bias ${pct(j.position_bias.rate, 0)}`, COLOURS.judge) +
      card('All three agree', pct(s.three_way!.all_agree_rate), `95% ${ci(s.three_way!.all_agree_ci, true)} · majority right ${pct(s.three_way!.majority_accuracy, 0)}`)
    : '';
  const judgeNotes = j ? `<p class="note">${esc(threeWaySentence(s))} ${esc(positionBiasSentence(s))}</p>` : '';
  return (
    `<div class="cards${j ? ' six' : ''}">` +
    card('Explicit accuracy (reward model)', pct(s.explicit.accuracy), `95% ${ci(s.explicit.accuracy_ci, true)} · ${s.explicit.ties} ties`, COLOURS.explicit) +
    card('Implicit accuracy (DPO)', pct(s.implicit.accuracy), `95% ${ci(s.implicit.accuracy_ci, true)} · ${s.implicit.ties} ties`, COLOURS.implicit) +
    judgeCards +
    card(j ? 'Explicit–implicit agreement' : 'Agreement', pct(s.agreement), `95% ${ci(s.agreement_ci, true)} · ${s.n_agree} of ${s.n_pairs} pairs`) +
    card('Margin correlation', `ρ ${num(c.spearman, 2)}`, `Spearman · Kendall τb ${num(c.kendall, 2)} · Pearson r ${num(c.pearson, 2)}`) +
    `</div><p class="verdict">${esc(verdict(s))}</p><p class="note">${esc(correlationSentence(s))}</p>${judgeNotes}`
  );
}

// ---- plots --------------------------------------------------------------------------------

function scatter(s: ComparisonSummary): string {
  const rows = s.per_pair ?? [];
  const f = frame(600, 520, { bottom: 56 });
  const x = linearScale(extent(rows.map((p) => p.explicit_margin), 0.04), [f.left, f.width - f.right]);
  const y = linearScale(extent(rows.map((p) => p.implicit_margin), 0.04), [f.height - f.bottom, f.top]);
  const agrees = (p: (typeof rows)[0]) => p.explicit_margin !== 0 && Math.sign(p.explicit_margin) === Math.sign(p.implicit_margin);
  // With a judge, a pair the two agree on but the judge does not is drawn in the judge's colour.
  const judged = s.judge !== undefined;
  const dissents = (p: (typeof rows)[0]) => judged && agrees(p) && Math.sign(p.judge_margin ?? 0) !== Math.sign(p.explicit_margin);
  const kind = (p: (typeof rows)[0]) => (!agrees(p) ? 'disagree' : dissents(p) ? 'judge-dissents' : 'agree');
  // Disagreements last so they sit on top.
  const order = { agree: 0, 'judge-dissents': 1, disagree: 2 };
  const ordered = [...rows].sort((a, b) => order[kind(a)] - order[kind(b)]);
  const fill = { agree: COLOURS.agree, 'judge-dissents': COLOURS.judgeDissents, disagree: COLOURS.disagree };
  const rad = rows.length > 2000 ? 2 : rows.length > 300 ? 3 : 4.5;
  const dots = ordered
    .map((p) => {
      const k = kind(p);
      const judgeText = judged ? `, judge ${num(p.judge_margin)}` : '';
      return (
        `<circle class="mark ${k === 'disagree' ? 'disagree' : k}" data-id="${esc(p.id)}" cx="${r(x(p.explicit_margin))}" cy="${r(y(p.implicit_margin))}" r="${rad}" fill="${fill[k]}">` +
        `<title>${esc(`${p.id}${p.subset ? ` (${p.subset})` : ''}: explicit ${num(p.explicit_margin)}, implicit ${num(p.implicit_margin)}${judgeText}`)}</title></circle>`
      );
    })
    .join('');
  const nDissent = rows.filter(dissents).length;
  const zero =
    `<line class="ref" x1="${r(x(0))}" x2="${r(x(0))}" y1="${f.top}" y2="${f.height - f.bottom}"/>` +
    `<line class="ref" x1="${f.left}" x2="${f.width - f.right}" y1="${r(y(0))}" y2="${r(y(0))}"/>`;
  const body =
    axes(f, x, y, 'explicit margin r(x, chosen) − r(x, rejected)', 'implicit margin β·Δlog-ratio') +
    zero +
    dots +
    legend(f.left, 14, [
      { label: judged ? `all agree (${s.n_agree - nDissent})` : `agree (${s.n_agree})`, colour: COLOURS.agree },
      ...(judged ? [{ label: `judge dissents (${nDissent})`, colour: COLOURS.judgeDissents }] : []),
      { label: `explicit and implicit disagree (${s.n_disagreements})`, colour: COLOURS.disagree },
    ]);
  const note =
    `Each dot is one held-out pair. Top-right: both prefer the chosen response; bottom-left: both prefer the rejected one; ` +
    `the two off-diagonal quadrants are disagreements. ${judged ? 'Green dots are pairs where the two agree but the generative judge prefers the other response. ' : ''}${correlationSentence(s)} Click a highlighted dot to jump to its text if it is among the top disagreements.`;
  return figure('Explicit vs implicit margins', svg('scatter', f, 'scatter of explicit vs implicit margins', body), note);
}

function histogramPlot(name: string, title: string, h: ComparisonSummary['explicit']['histogram'], colour: string, xLabel: string): string {
  const f = frame(400, 250, { top: 12 });
  const x = linearScale([h.edges[0], h.edges[h.edges.length - 1]], [f.left, f.width - f.right]);
  const y = linearScale([0, Math.max(1, ...h.counts)], [f.height - f.bottom, f.top]);
  const bars = h.counts
    .map((c, k) => {
      const [x0, x1] = [x(h.edges[k]), x(h.edges[k + 1])];
      return `<rect class="mark" x="${r(x0 + 0.5)}" y="${r(y(c))}" width="${r(Math.max(0.5, x1 - x0 - 1))}" height="${r(y(0) - y(c))}" fill="${colour}"><title>${esc(`${num(h.edges[k], 2)} to ${num(h.edges[k + 1], 2)}: ${c}`)}</title></rect>`;
    })
    .join('');
  const zero = x.domain[0] < 0 && x.domain[1] > 0 ? `<line class="ref" x1="${r(x(0))}" x2="${r(x(0))}" y1="${f.top}" y2="${f.height - f.bottom}"/>` : '';
  return `<div><div class="subhead" style="color:${colour}">${esc(title)}</div>${svg(name, f, title, axes(f, x, y, xLabel, 'pairs') + bars + zero)}</div>`;
}

function histograms(s: ComparisonSummary): string {
  const fracPos = (rw: { correct: number }) => pct(rw.correct / s.n_pairs);
  const judge = s.judge
    ? ` The judge's margin is its order-averaged log-odds that the chosen answer is better (mean ${num(s.judge.margin.mean)}, sd ${num(s.judge.margin.sd)}); ${fracPos(s.judge)} of pairs are ranked correctly by it.`
    : '';
  const note =
    `Margins to the right of 0 favour the chosen response. The explicit reward's margins have mean ${num(s.explicit.margin.mean)} (sd ${num(s.explicit.margin.sd)}); ` +
    `the implicit reward's mean ${num(s.implicit.margin.mean)} (sd ${num(s.implicit.margin.sd)}). Their scales differ by construction, so compare shapes, not widths: ` +
    `a distribution piled up near 0 means the reward barely separates the responses. ${fracPos(s.explicit)} and ${fracPos(s.implicit)} of pairs are ranked correctly.${judge}`;
  const plots =
    histogramPlot('hist-explicit', 'Explicit margin', s.explicit.histogram, COLOURS.explicit, 'r(x, chosen) − r(x, rejected)') +
    histogramPlot('hist-implicit', 'Implicit margin', s.implicit.histogram, COLOURS.implicit, 'β·(Δ log π − Δ log π_ref)') +
    (s.judge ? histogramPlot('hist-judge', 'Judge margin', s.judge.histogram, COLOURS.judge, '½ (log-odds A|chosen first − A|rejected first)') : '');
  return `<figure><figcaption>Margin distributions</figcaption>${plots}<p class="note">${esc(note)}</p></figure>`;
}

function calibrationPlot(s: ComparisonSummary): string {
  const f = frame(600, 440, { bottom: 56 });
  const x = linearScale([0, 1], [f.left, f.width - f.right]);
  const y = linearScale([0, 1], [f.height - f.bottom, f.top]);
  const rw = reportRewards(s);
  const maxN = Math.max(1, ...rw.flatMap((x) => x.summary.calibration.bins.map((b) => b.n)));
  const curve = (c: ComparisonSummary['explicit']['calibration'], colour: string, who: string) => {
    const pts = c.bins.filter((b) => b.n > 0);
    const d = pts.map((b, k) => `${k ? 'L' : 'M'}${r(x(b.mean_predicted))},${r(y(b.observed))}`).join('');
    return (
      (pts.length > 1 ? `<path class="mark line" d="${d}" fill="none" stroke="${colour}" stroke-width="2.2"/>` : '') +
      pts
        .map(
          (b) =>
            `<circle class="mark" cx="${r(x(b.mean_predicted))}" cy="${r(y(b.observed))}" r="${r(3 + 6 * Math.sqrt(b.n / maxN))}" fill="${colour}" fill-opacity="0.8" stroke="#fff">` +
            `<title>${esc(`${who} ${b.lo.toFixed(1)}–${b.hi.toFixed(1)}: predicted ${pct(b.mean_predicted)}, observed ${pct(b.observed)}, n=${b.n}`)}</title></circle>`,
        )
        .join('')
    );
  };
  const body =
    axes(f, x, y, 'predicted P(better) = sigmoid(margin)', 'observed fraction better', (v) => `${Math.round(v * 100)}%`) +
    `<line class="ref" x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}"/>` +
    rw.map((x) => curve(x.summary.calibration, COLOURS[x.key], x.name)).join('') +
    legend(f.left, 14, [
      ...rw.map((x) => ({ label: `${x.name} (ECE ${num(x.summary.calibration.ece)})`, colour: COLOURS[x.key] })),
      { label: 'perfect calibration', colour: '#94a3b8', shape: 'line' as const },
    ]);
  const note = `${calibrationSentence(s)} Dot size shows how many responses fall in each bucket; each pair is counted in both presentation orders.`;
  return `<figure><figcaption>Calibration</figcaption><div class="side">${svg('calibration', f, 'calibration curves', body)}<p class="note">${esc(note)}</p></div></figure>`;
}

/** One row of grouped bars: a rate per reward present (the judge's only with a judge). */
interface BarRow {
  label: string;
  explicit: Rate;
  implicit: Rate;
  judge?: Rate;
}

/** Horizontal grouped bars of two or three rates per row, with interval whiskers and a 50% reference line. */
function rateBars(name: string, rows: BarRow[], xLabel: string): string {
  const who: RewardKey[] = rows.some((row) => row.judge) ? ['explicit', 'implicit', 'judge'] : ['explicit', 'implicit'];
  const rowH = 23 * who.length;
  const f = frame(490, 36 + rows.length * rowH + 56, { left: 150, bottom: 56, right: 48 });
  const x = linearScale([0, 1], [f.left, f.width - f.right], { ticks: 5 });
  const y = bands(rows.length, [f.top, f.height - f.bottom], 0.2);
  const barH = y.width / who.length;
  const parts: string[] = [];
  rows.forEach((row, k) => {
    parts.push(`<text class="cat" x="${f.left - 10}" y="${r(y.centre(k) + 4)}" text-anchor="end">${esc(row.label)}</text>`);
    const top0 = y.centre(k) - y.width / 2;
    who.forEach((w, j) => {
      const rt = row[w];
      if (!rt) return;
      const yy = top0 + j * barH;
      const wd = Number.isFinite(rt.rate) ? x(rt.rate) - x(0) : 0;
      parts.push(
        `<rect class="mark" x="${x(0)}" y="${r(yy + 1)}" width="${r(Math.max(0, wd))}" height="${r(barH - 2)}" rx="2" fill="${COLOURS[w]}" fill-opacity="0.85">` +
          `<title>${esc(`${row.label}, ${w}: ${pct(rt.rate)} ${ci(rt.ci, true)} n=${rt.n}`)}</title></rect>`,
      );
      if (Number.isFinite(rt.ci[0]))
        parts.push(
          `<line class="whisker" x1="${r(x(rt.ci[0]))}" x2="${r(x(rt.ci[1]))}" y1="${r(yy + barH / 2)}" y2="${r(yy + barH / 2)}"/>` +
            `<line class="whisker" x1="${r(x(rt.ci[0]))}" x2="${r(x(rt.ci[0]))}" y1="${r(yy + 4)}" y2="${r(yy + barH - 4)}"/>` +
            `<line class="whisker" x1="${r(x(rt.ci[1]))}" x2="${r(x(rt.ci[1]))}" y1="${r(yy + 4)}" y2="${r(yy + barH - 4)}"/>`,
        );
      parts.push(`<text class="value" x="${r(Math.max(x(rt.ci[1]) || 0, x(rt.rate) || 0, x(0)) + 6)}" y="${r(yy + barH / 2 + 4)}">${esc(pct(rt.rate, 0))}</text>`);
    });
  });
  const body =
    axes(f, x, linearScale([0, 1], [f.height - f.bottom, f.top]), xLabel, '', (v) => `${Math.round(v * 100)}%`, { yAxis: false }) +
    `<line class="ref half" x1="${x(0.5)}" x2="${x(0.5)}" y1="${f.top}" y2="${f.height - f.bottom}"/>` +
    parts.join('') +
    legend(f.left, 14, [
      ...who.map((w) => ({ label: w, colour: COLOURS[w], shape: 'box' as const })),
      { label: '95% interval', colour: '#334155', shape: 'line' as const },
    ]);
  return svg(name, f, xLabel, body);
}

/** Mean standardised margin per length-difference bin (quantile bins), for both rewards. */
function lengthCurve(s: ComparisonSummary): string {
  const rows = s.per_pair ?? [];
  const nb = Math.min(8, Math.max(2, Math.floor(rows.length / 10)));
  const sorted = [...rows].sort((a, b) => a.length_diff - b.length_diff);
  const z = (k: 'explicit_margin' | 'implicit_margin' | 'judge_margin') => {
    const [m, d] = [mean(rows.map((p) => p[k] ?? NaN)), sd(rows.map((p) => p[k] ?? NaN))];
    return (v: number | undefined) => (v !== undefined && d > 0 ? (v - m) / d : 0);
  };
  const [ze, zi, zj] = [z('explicit_margin'), z('implicit_margin'), z('judge_margin')];
  const judged = s.judge !== undefined;
  const bins = Array.from({ length: nb }, (_, b) => sorted.slice(Math.floor((b * rows.length) / nb), Math.floor(((b + 1) * rows.length) / nb))).filter((g) => g.length > 0);
  const pts = bins.map((g) => ({
    x: mean(g.map((p) => p.length_diff)),
    e: mean(g.map((p) => ze(p.explicit_margin))),
    i: mean(g.map((p) => zi(p.implicit_margin))),
    j: judged ? mean(g.map((p) => zj(p.judge_margin))) : NaN,
    n: g.length,
  }));
  const f = frame(490, 380, { bottom: 56 });
  const x = linearScale(extent(pts.map((p) => p.x), 0.05), [f.left, f.width - f.right]);
  const y = linearScale(extent([...pts.map((p) => p.e), ...pts.map((p) => p.i), ...(judged ? pts.map((p) => p.j) : []), 0], 0.1), [f.height - f.bottom, f.top]);
  const series = (key: 'e' | 'i' | 'j', colour: string, who: string) =>
    `<path class="mark line" d="${pts.map((p, k) => `${k ? 'L' : 'M'}${r(x(p.x))},${r(y(p[key]))}`).join('')}" fill="none" stroke="${colour}" stroke-width="2.2"/>` +
    pts
      .map((p) => `<circle class="mark" cx="${r(x(p.x))}" cy="${r(y(p[key]))}" r="4.5" fill="${colour}"><title>${esc(`${who}: mean z ${num(p[key], 2)} at length difference ≈ ${Math.round(p.x)} chars (n=${p.n})`)}</title></circle>`)
      .join('');
  const body =
    axes(f, x, y, 'length difference, characters (chosen − rejected)', 'mean standardised margin (z)') +
    `<line class="ref" x1="${f.left}" x2="${f.width - f.right}" y1="${r(y(0))}" y2="${r(y(0))}"/>` +
    series('e', COLOURS.explicit, 'explicit') +
    series('i', COLOURS.implicit, 'implicit') +
    (judged ? series('j', COLOURS.judge, 'judge') : '') +
    legend(f.left, 14, [
      { label: 'explicit', colour: COLOURS.explicit },
      { label: 'implicit', colour: COLOURS.implicit },
      ...(judged ? [{ label: 'judge', colour: COLOURS.judge }] : []),
    ]);
  return svg('length-curve', f, 'margin by length difference', body);
}

function lengthSection(s: ComparisonSummary): string {
  const e = s.explicit.length_bias;
  const i = s.implicit.length_bias;
  const j = s.judge?.length_bias;
  const bars = rateBars(
    'length-accuracy',
    [
      { label: 'better is longer', explicit: e.longer_chosen, implicit: i.longer_chosen, ...(j ? { judge: j.longer_chosen } : {}) },
      { label: 'better is shorter', explicit: e.longer_rejected, implicit: i.longer_rejected, ...(j ? { judge: j.longer_rejected } : {}) },
    ],
    'accuracy (Wilson 95% interval)',
  );
  const curve = s.per_pair?.length ? lengthCurve(s) : '';
  const note =
    `${lengthSentence('Explicit', e)} ${lengthSentence('Implicit', i)} ${j ? `${lengthSentence('Judge', j)} ` : ''}` +
    `A reward that rises with the length difference (left plot, pairs grouped into equal-count bins) and is more accurate when the better answer happens to be longer (right) is rewarding length, not quality.`;
  return `<figure><figcaption>Length bias</figcaption><div class="grid2"><div>${curve}</div><div>${bars}</div></div><p class="note">${esc(note)}</p></figure>`;
}

/** The spread of the judge's per-subset accuracy. */
function spread3(s: ComparisonSummary): number {
  const v = s.subsets.map((r) => r.judge_accuracy?.rate ?? NaN).filter(Number.isFinite);
  return v.length ? Math.max(...v) - Math.min(...v) : NaN;
}

function subsetSection(s: ComparisonSummary): string {
  const rows = s.subsets.map((r) => ({ label: `${r.subset} (${r.n})`, explicit: r.explicit_accuracy, implicit: r.implicit_accuracy, ...(r.judge_accuracy ? { judge: r.judge_accuracy } : {}) }));
  const spread = (k: 'explicit_accuracy' | 'implicit_accuracy') => {
    const v = s.subsets.map((r) => r[k].rate).filter(Number.isFinite);
    return v.length ? Math.max(...v) - Math.min(...v) : NaN;
  };
  const worst = [...s.subsets].sort((a, b) => a.explicit_accuracy.rate + a.implicit_accuracy.rate - (b.explicit_accuracy.rate + b.implicit_accuracy.rate))[0];
  const note =
    s.subsets.length > 1
      ? `Accuracy per subset, with Wilson intervals. Across subsets explicit accuracy spans ${pct(spread('explicit_accuracy'))} and implicit ${pct(spread('implicit_accuracy'))}; ` +
        `${s.judge ? `the judge's ${pct(spread3(s))}; ` : ''}the hardest subset for explicit and implicit together is "${worst.subset}". Overlapping intervals mean the data cannot tell the rewards apart there.`
      : 'The pairs carry no subset labels, so there is a single row. Subset labels in the data (field "subset") break this down.';
  return figure('Per subset', rateBars('subsets', rows, 'accuracy (Wilson 95% interval)'), note);
}

/** Probe sets: each reward's rate of preferring the attribute's first value (probe-stats.ts), the finding per set. */
function probeSection(s: ComparisonSummary): string {
  if (!s.probe_sets.length) return '';
  const asRate = (r: ComparisonSummary['probe_sets'][0]['rewards'][0] | undefined): Rate | undefined => (r ? { rate: r.rate, ci: r.ci, n: r.decided } : undefined);
  const rows = s.probe_sets.map((p) => {
    const of = (name: string) => asRate(p.rewards.find((r) => r.reward === name));
    const nan: Rate = { rate: NaN, ci: [NaN, NaN], n: 0 };
    const j = of('judge');
    return { label: `${p.probe}: ${p.values[0]}`, explicit: of('explicit') ?? nan, implicit: of('implicit') ?? nan, ...(j ? { judge: j } : {}) };
  });
  const list = `<ul class="note">${probeSentences(s).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`;
  return `<figure><figcaption>Probes</figcaption>${rateBars('probes', rows, 'prefers the first value (Wilson 95% interval)')}<p class="note">${esc(PROBE_READING)} The dashed line is 50%, indifference.</p>${list}</figure>`;
}

// ---- training curves ------------------------------------------------------------------------

/** Metrics plotted when present, in this order (TRL names; eval_ variants go with their train metric). */
export const TRAINING_METRICS = ['loss', 'rewards/accuracies', 'accuracy', 'rewards/margins', 'margin'];

function stepOf(row: Record<string, unknown>, k: number): number {
  for (const key of ['step', 'global_step']) if (typeof row[key] === 'number') return row[key] as number;
  return k + 1;
}

function trainingSection(logs: MetricsLog[]): string {
  const figs: string[] = [];
  for (const metric of TRAINING_METRICS) {
    const series: Array<{ label: string; colour: string; pts: Array<[number, number]>; dashed: boolean }> = [];
    logs.forEach((log, li) => {
      for (const key of [metric, `eval_${metric}`]) {
        const pts = log.rows.flatMap((row, k) => (typeof row[key] === 'number' && Number.isFinite(row[key]) ? [[stepOf(row, k), row[key] as number] as [number, number]] : []));
        if (pts.length) series.push({ label: `${log.name} ${key}`, colour: COLOURS.runs[li % COLOURS.runs.length], pts, dashed: key.startsWith('eval_') });
      }
    });
    if (!series.length) continue;
    const f = frame(490, 300, { bottom: 56 });
    const all = series.flatMap((sr) => sr.pts);
    const x = linearScale(extent(all.map((p) => p[0])), [f.left, f.width - f.right]);
    let [lo, hi] = extent(all.map((p) => p[1]), 0.05);
    if (all.every((p) => p[1] >= 0)) lo = Math.max(0, lo); // losses and accuracies never go below 0
    const y = linearScale([lo, hi], [f.height - f.bottom, f.top]);
    const lines = series
      .map(
        (sr) =>
          `<path class="mark line" d="${sr.pts.map((p, k) => `${k ? 'L' : 'M'}${r(x(p[0]))},${r(y(p[1]))}`).join('')}" fill="none" stroke="${sr.colour}" stroke-width="2"${sr.dashed ? ' stroke-dasharray="5 3"' : ''}><title>${esc(sr.label)}</title></path>` +
          (sr.pts.length <= 40 ? sr.pts.map((p) => `<circle class="mark" cx="${r(x(p[0]))}" cy="${r(y(p[1]))}" r="2.8" fill="${sr.colour}"><title>${esc(`${sr.label} step ${p[0]}: ${num(p[1], 4)}`)}</title></circle>`).join('') : ''),
      )
      .join('');
    const runs = [...new Map(series.map((sr) => [sr.label.split(' ')[0], sr.colour])).entries()].map(([label, colour]) => ({ label, colour, shape: 'line' as const }));
    const items = series.some((sr) => sr.dashed) ? [...runs, { label: 'eval (dashed)', colour: '#64748b', shape: 'line' as const }] : runs;
    const body = axes(f, x, y, 'step', metric) + lines + legend(f.left, 14, items);
    figs.push(`<div>${svg(`training-${metric.replace(/[^a-z0-9]+/gi, '-')}`, f, `training ${metric}`, body)}</div>`);
  }
  if (!figs.length) return '';
  const note = `Training logs as written by the trainers (TRL metric names; dashed lines are evaluation). A falling loss with a flat eval loss, or eval accuracy far below train accuracy, points to over-fitting; that would also show up as poor held-out accuracy above.`;
  return `<section id="training"><h2>Training curves</h2><figure><div class="grid2">${figs.join('')}</div><p class="note">${esc(note)}</p></figure></section>`;
}

// ---- disagreements ----------------------------------------------------------------------------

function clip(s: string, n = 1200): string {
  return s.length > n ? `${s.slice(0, n)}… [${s.length - n} more characters]` : s;
}

function disagreements(s: ComparisonSummary): string {
  if (!s.top_disagreements.length) return `<p class="note">The ${s.judge ? 'three' : 'two'} rewards never disagree on these pairs.</p>`;
  const items = s.top_disagreements
    .map((d, k) => {
      const tag = (who: RewardKey, prefers: string, m: number, z: number) =>
        `<span class="tag" style="border-color:${COLOURS[who]};color:${COLOURS[who]}">${prefers === d.ground_truth ? '✓' : '✗'} ${who} prefers ${esc(prefers)} · margin ${esc(num(m))} · z ${esc(num(z, 2))}</span>`;
      const resp = (which: 'chosen' | 'rejected', text: string) =>
        `<div class="resp${d.ground_truth === which ? ' truth' : ''}"><div class="resp-head">${which}${d.ground_truth === which ? ' · truly better' : ''}</div><pre>${esc(clip(text))}</pre></div>`;
      return (
        `<article class="dis" id="d-${esc(d.id)}"><header><b>#${k + 1}</b> <code>${esc(d.id)}</code>${d.subset ? ` <span class="muted">${esc(d.subset)}</span>` : ''} <span class="muted">${esc(d.source)}</span></header>` +
        `<div class="tags">${tag('explicit', d.explicit_prefers, d.explicit_margin, d.explicit_z)}${tag('implicit', d.implicit_prefers, d.implicit_margin, d.implicit_z)}` +
        `${d.judge_prefers !== undefined ? tag('judge', d.judge_prefers, d.judge_margin ?? NaN, d.judge_z ?? NaN) : ''}</div>` +
        `<div class="prompt"><div class="resp-head">prompt</div><pre>${esc(clip(d.prompt, 600))}</pre></div>` +
        `<div class="grid2">${resp('chosen', d.chosen)}${resp('rejected', d.rejected)}</div></article>`
      );
    })
    .join('');
  const note = s.three_way
    ? `The ${s.top_disagreements.length} pairs (of ${s.three_way.n_disagreements} where the three rewards do not all agree) where their standardised margins are furthest apart (largest z minus smallest). Read them for patterns: length, refusals, formatting, or label noise.`
    : `The ${s.top_disagreements.length} pairs (of ${s.n_disagreements} disagreements) where the two rewards' standardised margins are furthest apart. Read them for patterns: length, refusals, formatting, or label noise.`;
  return `<p class="note">${esc(note)}</p>${items}`;
}

// ---- page -------------------------------------------------------------------------------------

export const CSS = `
:root{--explicit:${COLOURS.explicit};--implicit:${COLOURS.implicit};--judge:${COLOURS.judge};--ink:#0f172a;--muted:#64748b;--rule:#e2e8f0;--bg:#f4f6f9}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Liberation Sans",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:36px 28px 80px}
h1{font-size:28px;margin:0 0 4px;letter-spacing:-.01em}
h2{font-size:19px;margin:0 0 14px}
.sub{color:var(--muted);margin:0 0 22px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:14px}
.cards.six{grid-template-columns:repeat(3,1fr)}
.card{background:#fff;border:1px solid var(--rule);border-radius:12px;padding:14px 16px;border-top:4px solid #cbd5e1}
.card .label{font-size:12.5px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .big{font-size:32px;font-weight:650;font-variant-numeric:tabular-nums;margin:2px 0}
.card .small{font-size:13px;color:var(--muted)}
.verdict{font-size:16.5px;margin:18px 0 4px;max-width:80ch}
section{background:#fff;border:1px solid var(--rule);border-radius:14px;padding:22px 26px;margin-top:24px}
figure{margin:0 0 26px}
figure:last-child{margin-bottom:0}
figcaption{font-weight:600;font-size:16px;margin-bottom:6px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:22px;align-items:start}
.split{display:grid;grid-template-columns:600px 1fr;gap:26px;align-items:start}
.side{display:grid;grid-template-columns:600px 1fr;gap:26px;align-items:center}
.subhead{font-weight:600;font-size:14px;margin:0 0 0 64px}
p.note,ul.note{color:#475569;font-size:14px;max-width:85ch;margin:8px 0 0}
ul.note{padding-left:20px}
svg{display:block;max-width:100%;height:auto;overflow:visible}
svg text{font-family:inherit}
svg .tick{font-size:11px;fill:var(--muted);font-variant-numeric:tabular-nums}
svg .axis-label{font-size:12.5px;fill:#334155}
svg .legend,svg .cat,svg .value{font-size:12px;fill:#334155}
svg .value{font-variant-numeric:tabular-nums}
svg .grid{stroke:#edf1f5}
svg .axis{stroke:#94a3b8}
svg .ref{stroke:#94a3b8;stroke-dasharray:4 4}
svg .whisker{stroke:#334155;stroke-width:1.4}
svg circle.mark{cursor:default}
svg circle.disagree{cursor:pointer}
table{border-collapse:collapse;font-size:13.5px;font-variant-numeric:tabular-nums;margin-top:8px}
td,th{border-bottom:1px solid var(--rule);padding:5px 10px;text-align:left;vertical-align:top;white-space:nowrap}
details td{white-space:normal}
th{color:var(--muted);font-weight:600}
.dis{border:1px solid var(--rule);border-radius:10px;padding:12px 14px;margin-top:14px}
.dis.flash{box-shadow:0 0 0 3px #f0abfc}
.dis header{font-size:14px}
.muted{color:var(--muted)}
.tags{margin:8px 0}
.tag{display:inline-block;border:1.5px solid;border-radius:999px;padding:1px 10px;font-size:12.5px;margin-right:6px}
.resp-head{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);margin-bottom:3px}
.resp{border-left:3px solid var(--rule);padding-left:10px}
.resp.truth{border-left-color:#059669}
pre{white-space:pre-wrap;word-break:break-word;font:13px/1.45 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;margin:0;max-height:220px;overflow:auto;background:#f8fafc;padding:8px;border-radius:6px}
.prompt{margin-bottom:10px}
details summary{cursor:pointer;color:#334155}
code{font:12.5px ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
@media (max-width:1060px){.split,.side{grid-template-columns:1fr}}
@media (max-width:820px){.cards{grid-template-columns:1fr 1fr}.grid2{grid-template-columns:1fr}}
`;

// Clicking a disagreement dot scrolls to its text when it is listed below.
const JS = `
document.querySelectorAll('svg[data-plot="scatter"] circle.disagree').forEach(function (c) {
  c.addEventListener('click', function () {
    var el = document.getElementById('d-' + c.getAttribute('data-id'));
    if (!el) return;
    el.scrollIntoView({ behavior: 'smooth', block: 'center' });
    el.classList.add('flash');
    setTimeout(function () { el.classList.remove('flash'); }, 1500);
  });
});
`;

/** Every two rewards' agreement and which rewards get which pairs right (with a judge). */
function threeWayTable(s: ComparisonSummary): string {
  const t = s.three_way;
  if (!t || !s.reward_pairs) return '';
  const row = (cells: string[]) => `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  return (
    `<div class="grid2"><table><tr><th>agreement</th><th>rate</th><th>pairs</th></tr>` +
    s.reward_pairs.map((p) => row([`${p.rewards[0]}–${p.rewards[1]}`, `${pct(p.agreement)} ${ci(p.agreement_ci, true)}`, String(p.n_agree)])).join('') +
    row(['all three', `${pct(t.all_agree_rate)} ${ci(t.all_agree_ci, true)}`, String(t.all_agree)]) +
    `</table><table><tr><th>right on the pair</th><th>pairs</th></tr>` +
    Object.entries(t.correct_by).sort((a, b) => b[1] - a[1]).map(([k, n]) => row([k, String(n)])).join('') +
    row(['majority vote accuracy', `${pct(t.majority_accuracy)} ${ci(t.majority_accuracy_ci, true)}`]) +
    `</table></div>`
  );
}

function moreNumbers(s: ComparisonSummary): string {
  const row = (cells: string[]) => `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  const corr = (name: string, c: ComparisonSummary['correlation']) =>
    row([name, String(c.n), `${num(c.pearson)} ${ci(c.pearson_ci)}`, `${num(c.spearman)} ${ci(c.spearman_ci)}`, `${num(c.kendall)} ${ci(c.kendall_ci)}`]);
  const h = s.head_to_head;
  return (
    `<h2>More numbers</h2><div><table><tr><th>correlation</th><th>n</th><th>Pearson</th><th>Spearman</th><th>Kendall τb</th></tr>` +
    corr('margins', s.correlation) +
    corr('scores', s.score_correlation) +
    (s.reward_pairs ? s.reward_pairs.slice(1).map((p) => corr(`margins, ${p.rewards[0]}–${p.rewards[1]}`, p.correlation)).join('') : '') +
    `</table><p class="note">Per-response scores show ${strength(s.score_correlation.spearman)} rank correlation (Spearman ${num(s.score_correlation.spearman)}); margins remove each prompt's baseline, scores do not.${s.judge ? ' The judge scores pairs, not responses, so it has margins only.' : ''}</p></div>` +
    threeWayTable(s) +
    `<div class="grid2"><table><tr><th>implicit variant</th><th>accuracy</th></tr>` +
    row(['β·log-ratio (DPO)', `${pct(s.implicit.accuracy)} ${ci(s.implicit.accuracy_ci, true)}`]) +
    row(['log π, sum (reference-free)', `${pct(s.reference_free.sum.accuracy)} ${ci(s.reference_free.sum.accuracy_ci, true)}`]) +
    row(['log π, mean per token', `${pct(s.reference_free.mean.accuracy)} ${ci(s.reference_free.mean.accuracy_ci, true)}`]) +
    `</table><table><tr><th>head to head</th><th>pairs</th></tr>` +
    row(['both right', String(h.both_correct)]) +
    row(['only explicit right', String(h.explicit_only)]) +
    row(['only implicit right', String(h.implicit_only)]) +
    row(['both wrong', String(h.both_wrong)]) +
    `</table></div>` +
    `<details><summary>What each field of comparison.json means</summary><table><tr><th>field</th><th>meaning</th></tr>` +
    FIELD_DOCS.map(([p, d]) => `<tr><td><code>${esc(p)}</code></td><td>${esc(d)}</td></tr>`).join('') +
    `</table></details>`
  );
}

/** The whole report page. */
export function renderHtml(s: ComparisonSummary, opts: HtmlOptions = {}): string {
  const title = opts.title ?? (s.judge ? 'Explicit vs implicit reward vs generative judge' : 'Explicit vs implicit reward');
  const sub =
    opts.subtitle ??
    `${s.n_pairs} held-out pairs${s.n_probes ? `, ${s.n_probes} probe pairs` : ''} · ${s.settings.level * 100}% intervals from ${s.settings.bootstrap} bootstrap resamples (seed ${s.settings.seed})` +
      (s.settings.beta !== null ? ` · β = ${s.settings.beta}` : '');
  const scatterFig = s.per_pair?.length ? scatter(s) : `<p class="note">Per-pair margins were not kept (perPair: false), so there is no scatter plot.</p>`;
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title><style>${CSS}</style></head><body><main>`,
    `<h1>${esc(title)}</h1><p class="sub">${esc(sub)}</p>`,
    headline(s),
    `<section id="relate"><h2>How the ${s.judge ? 'three' : 'two'} rewards relate</h2><div class="split">${scatterFig}${histograms(s)}</div></section>`,
    `<section id="calibration"><h2>Can the scores be trusted as probabilities?</h2>${calibrationPlot(s)}</section>`,
    `<section id="length"><h2>Does length buy reward?</h2>${lengthSection(s)}</section>`,
    `<section id="differ"><h2>Where they differ</h2><div class="grid2">${subsetSection(s)}${probeSection(s)}</div></section>`,
    `<section id="disagreements"><h2>Top disagreements</h2>${disagreements(s)}</section>`,
    trainingSection(opts.metricsLogs ?? []),
    `<section id="numbers">${moreNumbers(s)}</section>`,
    `</main><script>${JS}</script></body></html>`,
  ].join('\n');
}
