/**
 * report.html: one self-contained page (inline CSS, inline SVG, a few lines of inline JS; nothing
 * is fetched, no web fonts) showing the comparison summary and, when given, training curves.
 * Every plot is an <svg data-plot="NAME"> whose data marks have class "mark".
 * Does NOT compute statistics (compare/summary.ts) or read/write files (report.ts).
 */
import type { Rate } from '../compare/analyses';
import { FIELD_DOCS } from '../compare/fields';
import { calibrationSentence, ci, correlationSentence, lengthSentence, num, pct, probeSentences, strength, verdict } from './format';
import { mean, sd } from '../compare/stats';
import type { ComparisonSummary } from '../compare/summary';
import { axes, bands, esc, extent, frame, legend, linearScale, r, svg, type Frame } from './svg';
import type { MetricsLog } from '../compare/types';

export const COLOURS = {
  explicit: '#2563eb',
  implicit: '#d55e00',
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
  return (
    `<div class="cards">` +
    card('Explicit accuracy (reward model)', pct(s.explicit.accuracy), `95% ${ci(s.explicit.accuracy_ci, true)} · ${s.explicit.ties} ties`, COLOURS.explicit) +
    card('Implicit accuracy (DPO)', pct(s.implicit.accuracy), `95% ${ci(s.implicit.accuracy_ci, true)} · ${s.implicit.ties} ties`, COLOURS.implicit) +
    card('Agreement', pct(s.agreement), `95% ${ci(s.agreement_ci, true)} · ${s.n_agree} of ${s.n_pairs} pairs`) +
    card('Margin correlation', `ρ ${num(c.spearman, 2)}`, `Spearman · Kendall τb ${num(c.kendall, 2)} · Pearson r ${num(c.pearson, 2)}`) +
    `</div><p class="verdict">${esc(verdict(s))}</p><p class="note">${esc(correlationSentence(s))}</p>`
  );
}

// ---- plots --------------------------------------------------------------------------------

function scatter(s: ComparisonSummary): string {
  const rows = s.per_pair ?? [];
  const f = frame(600, 520, { bottom: 56 });
  const x = linearScale(extent(rows.map((p) => p.explicit_margin), 0.04), [f.left, f.width - f.right]);
  const y = linearScale(extent(rows.map((p) => p.implicit_margin), 0.04), [f.height - f.bottom, f.top]);
  const agrees = (p: (typeof rows)[0]) => p.explicit_margin !== 0 && Math.sign(p.explicit_margin) === Math.sign(p.implicit_margin);
  // Disagreements last so they sit on top.
  const ordered = [...rows.filter(agrees), ...rows.filter((p) => !agrees(p))];
  const rad = rows.length > 2000 ? 2 : rows.length > 300 ? 3 : 4.5;
  const dots = ordered
    .map((p) => {
      const a = agrees(p);
      return (
        `<circle class="mark ${a ? 'agree' : 'disagree'}" data-id="${esc(p.id)}" cx="${r(x(p.explicit_margin))}" cy="${r(y(p.implicit_margin))}" r="${rad}" fill="${a ? COLOURS.agree : COLOURS.disagree}">` +
        `<title>${esc(`${p.id}${p.subset ? ` (${p.subset})` : ''}: explicit ${num(p.explicit_margin)}, implicit ${num(p.implicit_margin)}`)}</title></circle>`
      );
    })
    .join('');
  const zero =
    `<line class="ref" x1="${r(x(0))}" x2="${r(x(0))}" y1="${f.top}" y2="${f.height - f.bottom}"/>` +
    `<line class="ref" x1="${f.left}" x2="${f.width - f.right}" y1="${r(y(0))}" y2="${r(y(0))}"/>`;
  const body =
    axes(f, x, y, 'explicit margin r(x, chosen) − r(x, rejected)', 'implicit margin β·Δlog-ratio') +
    zero +
    dots +
    legend(f.left, 14, [
      { label: `agree (${s.n_agree})`, colour: COLOURS.agree },
      { label: `disagree (${s.n_disagreements})`, colour: COLOURS.disagree },
    ]);
  const note =
    `Each dot is one held-out pair. Top-right: both prefer the chosen response; bottom-left: both prefer the rejected one; ` +
    `the two off-diagonal quadrants are disagreements. ${correlationSentence(s)} Click a highlighted dot to jump to its text if it is among the top disagreements.`;
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
  const fracPos = (rw: ComparisonSummary['explicit']) => pct(rw.correct / s.n_pairs);
  const note =
    `Margins to the right of 0 favour the chosen response. The explicit reward's margins have mean ${num(s.explicit.margin.mean)} (sd ${num(s.explicit.margin.sd)}); ` +
    `the implicit reward's mean ${num(s.implicit.margin.mean)} (sd ${num(s.implicit.margin.sd)}). Their scales differ by construction, so compare shapes, not widths: ` +
    `a distribution piled up near 0 means the reward barely separates the responses. ${fracPos(s.explicit)} and ${fracPos(s.implicit)} of pairs are ranked correctly.`;
  const plots =
    histogramPlot('hist-explicit', 'Explicit margin', s.explicit.histogram, COLOURS.explicit, 'r(x, chosen) − r(x, rejected)') +
    histogramPlot('hist-implicit', 'Implicit margin', s.implicit.histogram, COLOURS.implicit, 'β·(Δ log π − Δ log π_ref)');
  return `<figure><figcaption>Margin distributions</figcaption>${plots}<p class="note">${esc(note)}</p></figure>`;
}

function calibrationPlot(s: ComparisonSummary): string {
  const f = frame(600, 440, { bottom: 56 });
  const x = linearScale([0, 1], [f.left, f.width - f.right]);
  const y = linearScale([0, 1], [f.height - f.bottom, f.top]);
  const maxN = Math.max(1, ...s.explicit.calibration.bins.map((b) => b.n), ...s.implicit.calibration.bins.map((b) => b.n));
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
    curve(s.explicit.calibration, COLOURS.explicit, 'explicit') +
    curve(s.implicit.calibration, COLOURS.implicit, 'implicit') +
    legend(f.left, 14, [
      { label: `explicit (ECE ${num(s.explicit.calibration.ece)})`, colour: COLOURS.explicit },
      { label: `implicit (ECE ${num(s.implicit.calibration.ece)})`, colour: COLOURS.implicit },
      { label: 'perfect calibration', colour: '#94a3b8', shape: 'line' },
    ]);
  const note = `${calibrationSentence(s)} Dot size shows how many responses fall in each bucket; each pair is counted in both presentation orders.`;
  return `<figure><figcaption>Calibration</figcaption><div class="side">${svg('calibration', f, 'calibration curves', body)}<p class="note">${esc(note)}</p></div></figure>`;
}

interface BarRow {
  label: string;
  explicit: Rate;
  implicit: Rate;
}

/** Horizontal grouped bars of two rates per row, with interval whiskers and a 50% reference line. */
function rateBars(name: string, rows: BarRow[], xLabel: string): string {
  const rowH = 46;
  const f = frame(490, 36 + rows.length * rowH + 56, { left: 150, bottom: 56, right: 48 });
  const x = linearScale([0, 1], [f.left, f.width - f.right], { ticks: 5 });
  const y = bands(rows.length, [f.top, f.height - f.bottom], 0.2);
  const barH = y.width / 2;
  const parts: string[] = [];
  rows.forEach((row, k) => {
    const top = y.centre(k) - barH;
    parts.push(`<text class="cat" x="${f.left - 10}" y="${r(y.centre(k) + 4)}" text-anchor="end">${esc(row.label)}</text>`);
    (['explicit', 'implicit'] as const).forEach((who, j) => {
      const rt = row[who];
      const yy = top + j * barH;
      const w = Number.isFinite(rt.rate) ? x(rt.rate) - x(0) : 0;
      parts.push(
        `<rect class="mark" x="${x(0)}" y="${r(yy + 1)}" width="${r(Math.max(0, w))}" height="${r(barH - 2)}" rx="2" fill="${COLOURS[who]}" fill-opacity="0.85">` +
          `<title>${esc(`${row.label}, ${who}: ${pct(rt.rate)} ${ci(rt.ci, true)} n=${rt.n}`)}</title></rect>`,
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
      { label: 'explicit', colour: COLOURS.explicit, shape: 'box' },
      { label: 'implicit', colour: COLOURS.implicit, shape: 'box' },
      { label: '95% interval', colour: '#334155', shape: 'line' },
    ]);
  return svg(name, f, xLabel, body);
}

/** Mean standardised margin per length-difference bin (quantile bins), for both rewards. */
function lengthCurve(s: ComparisonSummary): string {
  const rows = s.per_pair ?? [];
  const nb = Math.min(8, Math.max(2, Math.floor(rows.length / 10)));
  const sorted = [...rows].sort((a, b) => a.length_diff - b.length_diff);
  const z = (k: 'explicit_margin' | 'implicit_margin') => {
    const [m, d] = [mean(rows.map((p) => p[k])), sd(rows.map((p) => p[k]))];
    return (v: number) => (d > 0 ? (v - m) / d : 0);
  };
  const [ze, zi] = [z('explicit_margin'), z('implicit_margin')];
  const bins = Array.from({ length: nb }, (_, b) => sorted.slice(Math.floor((b * rows.length) / nb), Math.floor(((b + 1) * rows.length) / nb))).filter((g) => g.length > 0);
  const pts = bins.map((g) => ({
    x: mean(g.map((p) => p.length_diff)),
    e: mean(g.map((p) => ze(p.explicit_margin))),
    i: mean(g.map((p) => zi(p.implicit_margin))),
    n: g.length,
  }));
  const f = frame(490, 380, { bottom: 56 });
  const x = linearScale(extent(pts.map((p) => p.x), 0.05), [f.left, f.width - f.right]);
  const y = linearScale(extent([...pts.map((p) => p.e), ...pts.map((p) => p.i), 0], 0.1), [f.height - f.bottom, f.top]);
  const series = (key: 'e' | 'i', colour: string, who: string) =>
    `<path class="mark line" d="${pts.map((p, k) => `${k ? 'L' : 'M'}${r(x(p.x))},${r(y(p[key]))}`).join('')}" fill="none" stroke="${colour}" stroke-width="2.2"/>` +
    pts
      .map((p) => `<circle class="mark" cx="${r(x(p.x))}" cy="${r(y(p[key]))}" r="4.5" fill="${colour}"><title>${esc(`${who}: mean z ${num(p[key], 2)} at length difference ≈ ${Math.round(p.x)} chars (n=${p.n})`)}</title></circle>`)
      .join('');
  const body =
    axes(f, x, y, 'length difference, characters (chosen − rejected)', 'mean standardised margin (z)') +
    `<line class="ref" x1="${f.left}" x2="${f.width - f.right}" y1="${r(y(0))}" y2="${r(y(0))}"/>` +
    series('e', COLOURS.explicit, 'explicit') +
    series('i', COLOURS.implicit, 'implicit') +
    legend(f.left, 14, [
      { label: 'explicit', colour: COLOURS.explicit },
      { label: 'implicit', colour: COLOURS.implicit },
    ]);
  return svg('length-curve', f, 'margin by length difference', body);
}

function lengthSection(s: ComparisonSummary): string {
  const e = s.explicit.length_bias;
  const i = s.implicit.length_bias;
  const bars = rateBars(
    'length-accuracy',
    [
      { label: 'better is longer', explicit: e.longer_chosen, implicit: i.longer_chosen },
      { label: 'better is shorter', explicit: e.longer_rejected, implicit: i.longer_rejected },
    ],
    'accuracy (Wilson 95% interval)',
  );
  const curve = s.per_pair?.length ? lengthCurve(s) : '';
  const note =
    `${lengthSentence('Explicit', e)} ${lengthSentence('Implicit', i)} ` +
    `A reward that rises with the length difference (left plot, pairs grouped into equal-count bins) and is more accurate when the better answer happens to be longer (right) is rewarding length, not quality.`;
  return `<figure><figcaption>Length bias</figcaption><div class="grid2"><div>${curve}</div><div>${bars}</div></div><p class="note">${esc(note)}</p></figure>`;
}

function subsetSection(s: ComparisonSummary): string {
  const rows = s.subsets.map((r) => ({ label: `${r.subset} (${r.n})`, explicit: r.explicit_accuracy, implicit: r.implicit_accuracy }));
  const spread = (k: 'explicit_accuracy' | 'implicit_accuracy') => {
    const v = s.subsets.map((r) => r[k].rate).filter(Number.isFinite);
    return v.length ? Math.max(...v) - Math.min(...v) : NaN;
  };
  const worst = [...s.subsets].sort((a, b) => a.explicit_accuracy.rate + a.implicit_accuracy.rate - (b.explicit_accuracy.rate + b.implicit_accuracy.rate))[0];
  const note =
    s.subsets.length > 1
      ? `Accuracy per subset, with Wilson intervals. Across subsets explicit accuracy spans ${pct(spread('explicit_accuracy'))} and implicit ${pct(spread('implicit_accuracy'))}; ` +
        `the hardest subset for both together is "${worst.subset}". Overlapping intervals mean the data cannot tell the two rewards apart there.`
      : 'The pairs carry no subset labels, so there is a single row. Subset labels in the data (field "subset") break this down.';
  return figure('Per subset', rateBars('subsets', rows, 'accuracy (Wilson 95% interval)'), note);
}

function probeSection(s: ComparisonSummary): string {
  if (!s.probes.length) return '';
  const rows = s.probes.map((g) => ({ label: `${g.probe} (${g.n})`, explicit: g.explicit.prefers_a, implicit: g.implicit.prefers_a }));
  const note = `Rate at which each reward scores response a above response b; the two differ in one attribute only. 50% (dashed) is indifference.`;
  const list = `<ul class="note">${probeSentences(s).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`;
  return `<figure><figcaption>Probes</figcaption>${rateBars('probes', rows, 'prefers a (Wilson 95% interval)')}<p class="note">${esc(note)}</p>${list}</figure>`;
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
  if (!s.top_disagreements.length) return `<p class="note">The two rewards never disagree on these pairs.</p>`;
  const items = s.top_disagreements
    .map((d, k) => {
      const tag = (who: 'explicit' | 'implicit', prefers: string, m: number, z: number) =>
        `<span class="tag" style="border-color:${COLOURS[who]};color:${COLOURS[who]}">${prefers === d.ground_truth ? '✓' : '✗'} ${who} prefers ${esc(prefers)} · margin ${esc(num(m))} · z ${esc(num(z, 2))}</span>`;
      const resp = (which: 'chosen' | 'rejected', text: string) =>
        `<div class="resp${d.ground_truth === which ? ' truth' : ''}"><div class="resp-head">${which}${d.ground_truth === which ? ' · truly better' : ''}</div><pre>${esc(clip(text))}</pre></div>`;
      return (
        `<article class="dis" id="d-${esc(d.id)}"><header><b>#${k + 1}</b> <code>${esc(d.id)}</code>${d.subset ? ` <span class="muted">${esc(d.subset)}</span>` : ''} <span class="muted">${esc(d.source)}</span></header>` +
        `<div class="tags">${tag('explicit', d.explicit_prefers, d.explicit_margin, d.explicit_z)}${tag('implicit', d.implicit_prefers, d.implicit_margin, d.implicit_z)}</div>` +
        `<div class="prompt"><div class="resp-head">prompt</div><pre>${esc(clip(d.prompt, 600))}</pre></div>` +
        `<div class="grid2">${resp('chosen', d.chosen)}${resp('rejected', d.rejected)}</div></article>`
      );
    })
    .join('');
  const note = `The ${s.top_disagreements.length} pairs (of ${s.n_disagreements} disagreements) where the two rewards' standardised margins are furthest apart. Read them for patterns: length, refusals, formatting, or label noise.`;
  return `<p class="note">${esc(note)}</p>${items}`;
}

// ---- page -------------------------------------------------------------------------------------

const CSS = `
:root{--explicit:${COLOURS.explicit};--implicit:${COLOURS.implicit};--ink:#0f172a;--muted:#64748b;--rule:#e2e8f0;--bg:#f4f6f9}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Liberation Sans",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:36px 28px 80px}
h1{font-size:28px;margin:0 0 4px;letter-spacing:-.01em}
h2{font-size:19px;margin:0 0 14px}
.sub{color:var(--muted);margin:0 0 22px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:14px}
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

function moreNumbers(s: ComparisonSummary): string {
  const row = (cells: string[]) => `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  const corr = (name: string, c: ComparisonSummary['correlation']) =>
    row([name, String(c.n), `${num(c.pearson)} ${ci(c.pearson_ci)}`, `${num(c.spearman)} ${ci(c.spearman_ci)}`, `${num(c.kendall)} ${ci(c.kendall_ci)}`]);
  const h = s.head_to_head;
  return (
    `<h2>More numbers</h2><div><table><tr><th>correlation</th><th>n</th><th>Pearson</th><th>Spearman</th><th>Kendall τb</th></tr>` +
    corr('margins', s.correlation) +
    corr('scores', s.score_correlation) +
    `</table><p class="note">Per-response scores show ${strength(s.score_correlation.spearman)} rank correlation (Spearman ${num(s.score_correlation.spearman)}); margins remove each prompt's baseline, scores do not.</p></div>` +
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
  const title = opts.title ?? 'Explicit vs implicit reward';
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
    `<section id="relate"><h2>How the two rewards relate</h2><div class="split">${scatterFig}${histograms(s)}</div></section>`,
    `<section id="calibration"><h2>Can the scores be trusted as probabilities?</h2>${calibrationPlot(s)}</section>`,
    `<section id="length"><h2>Does length buy reward?</h2>${lengthSection(s)}</section>`,
    `<section id="differ"><h2>Where they differ</h2><div class="grid2">${subsetSection(s)}${probeSection(s)}</div></section>`,
    `<section id="disagreements"><h2>Top disagreements</h2>${disagreements(s)}</section>`,
    trainingSection(opts.metricsLogs ?? []),
    `<section id="numbers">${moreNumbers(s)}</section>`,
    `</main><script>${JS}</script></body></html>`,
  ].join('\n');
}
