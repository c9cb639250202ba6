/**
 * Tiny SVG plotting kit for the report: linear scales with "nice" ticks, axes with labels, legends,
 * and escaped text. Every plot is one <svg data-plot="NAME"> whose data marks carry class="mark"
 * (tests count them). Does NOT lay out pages or know what is plotted (html.ts does).
 */
import { minMax } from '../compare/stats';

/** Escapes text for HTML/SVG content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Rounds coordinates so the SVG stays small and stable: r(1.23456) -> "1.23". */
export const r = (v: number): string => (Math.round(v * 100) / 100).toString();

/**
 * Ticks at 1, 2 or 5 times a power of ten covering [lo, hi], about `count` of them.
 * niceTicks(0, 1) -> [0, 0.2, 0.4, 0.6, 0.8, 1].
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw * 0.999)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : +v.toPrecision(12));
  return out;
}

export interface Scale {
  (v: number): number;
  domain: [number, number];
  ticks: number[];
}

/**
 * Linear map from data to pixels; the domain is widened to nice tick boundaries and a degenerate
 * domain gets some width. linearScale([0, 10], [40, 440])(5) -> 240.
 */
export function linearScale(domain: [number, number], range: [number, number], opts: { nice?: boolean; ticks?: number } = {}): Scale {
  let [lo, hi] = domain;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  let ticks = niceTicks(lo, hi, opts.ticks ?? 5);
  if (opts.nice !== false && ticks.length > 1) {
    const step = ticks[1] - ticks[0];
    lo = Math.min(lo, Math.floor(lo / step + 1e-9) * step);
    hi = Math.max(hi, Math.ceil(hi / step - 1e-9) * step);
    ticks = niceTicks(lo, hi, opts.ticks ?? 5);
  }
  const [r0, r1] = range;
  const f = ((v: number) => r0 + ((v - lo) / (hi - lo)) * (r1 - r0)) as Scale;
  f.domain = [lo, hi];
  f.ticks = ticks;
  return f;
}

/** [min, max] of finite values, padded by `pad` of the span on each side. */
export function extent(xs: number[], pad = 0): [number, number] {
  const [lo, hi] = minMax(xs);
  if (!Number.isFinite(lo)) return [0, 1];
  const d = (hi - lo || Math.abs(hi) || 1) * pad;
  return [lo - d, hi + d];
}

/** Short tick label: 0.25, 1.5k, 2e-4. */
function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4) return `${+(v / 1000).toPrecision(3)}k`;
  if (a < 1e-3) return v.toExponential(0);
  return String(+v.toPrecision(4));
}

export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const frame = (width: number, height: number, m: Partial<Frame> = {}): Frame => ({
  width,
  height,
  left: m.left ?? 64,
  right: m.right ?? 18,
  top: m.top ?? 36,
  bottom: m.bottom ?? 52,
});

/**
 * Axes with grid lines, tick labels and axis titles for scales x (bottom) and y (left);
 * `yAxis: false` draws only the x axis (for bar charts whose rows are labelled instead).
 */
export function axes(f: Frame, x: Scale, y: Scale, xLabel: string, yLabel: string, fmt = tickLabel, opts: { yAxis?: boolean } = {}): string {
  const [x0, x1, y0, y1] = [f.left, f.width - f.right, f.height - f.bottom, f.top];
  const parts: string[] = [];
  for (const t of x.ticks)
    parts.push(
      `<line class="grid" x1="${r(x(t))}" x2="${r(x(t))}" y1="${y1}" y2="${y0}"/>`,
      `<text class="tick" x="${r(x(t))}" y="${y0 + 16}" text-anchor="middle">${esc(fmt(t))}</text>`,
    );
  for (const t of opts.yAxis === false ? [] : y.ticks)
    parts.push(
      `<line class="grid" x1="${x0}" x2="${x1}" y1="${r(y(t))}" y2="${r(y(t))}"/>`,
      `<text class="tick" x="${x0 - 7}" y="${r(y(t) + 4)}" text-anchor="end">${esc(fmt(t))}</text>`,
    );
  parts.push(
    `<line class="axis" x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}"/>`,
    `<line class="axis" x1="${x0}" x2="${x0}" y1="${y1}" y2="${y0}"/>`,
    `<text class="axis-label" x="${r((x0 + x1) / 2)}" y="${f.height - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
  );
  if (opts.yAxis !== false)
    parts.push(`<text class="axis-label" transform="translate(16 ${r((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return parts.join('');
}

/** Band scale for categories: centre of band i and the band's width. */
export function bands(n: number, range: [number, number], padding = 0.25): { centre: (i: number) => number; width: number } {
  const step = (range[1] - range[0]) / Math.max(1, n);
  return { centre: (i) => range[0] + step * (i + 0.5), width: step * (1 - padding) };
}

/** Legend entries laid out in a row starting at (x, y). */
export function legend(x: number, y: number, items: Array<{ label: string; colour: string; shape?: 'dot' | 'line' | 'box' }>): string {
  let cx = x;
  return items
    .map((it) => {
      const sw =
        it.shape === 'line'
          ? `<line x1="${cx}" x2="${cx + 16}" y1="${y}" y2="${y}" stroke="${it.colour}" stroke-width="2.5"/>`
          : it.shape === 'box'
            ? `<rect x="${cx}" y="${y - 6}" width="14" height="12" rx="2" fill="${it.colour}"/>`
            : `<circle cx="${cx + 6}" cy="${y}" r="5" fill="${it.colour}"/>`;
      const out = `<g class="legend-item">${sw}<text class="legend" x="${cx + 21}" y="${y + 4}">${esc(it.label)}</text></g>`;
      cx += 30 + it.label.length * 6.6;
      return out;
    })
    .join('');
}

/** The plot's <svg> wrapper: responsive width, fixed aspect, accessible label. */
export function svg(name: string, f: Frame, label: string, body: string): string {
  return (
    // Natural pixel size (text stays at its CSS size), shrinking with the page via max-width.
    `<svg data-plot="${esc(name)}" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${esc(label)}" ` +
    `preserveAspectRatio="xMidYMid meet">${body}</svg>`
  );
}
