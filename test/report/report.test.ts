/**
 * The report files: comparison.json / comparison.md / report.html from synthetic data.
 * Static checks always run; the rendering checks run report.html in headless Chromium (gated on it, see
 * helpers/gates.ts): no console messages, every plot drew its marks, a screenshot.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { readMetricsLog } from '../../src/compare/metrics-log';
import { summaryJson, writeReport } from '../../src/report/report';
import { COLOURS } from '../../src/report/html';
import { summarise } from '../../src/compare/summary';
import { ComparisonInputError } from '../../src/compare/types';
import { describeIf } from '../helpers/gates';
import { chromium, findChromium, pngSize, runChromium, runPageCheck } from './chromium';
import { syntheticPairs, syntheticProbes } from '../compare/synthetic';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-report-'));
const N = 250;
const pairs = syntheticPairs({ n: N, seed: 3, lengthBonus: 0.6, flipped: 0.1 });
// A hostile text: must come out as text, never as markup.
const HOSTILE = '</pre><script>window.__pwned = 1</script><img src=x onerror=alert(1)>';
pairs[0].rejected = HOSTILE;
pairs[0].explicit = { chosen: -30, rejected: 30 }; // make pair 0 the top disagreement
pairs[0].implicit = { chosen: 30, rejected: -30 };
const probes = syntheticProbes(4, 30);
const summary = summarise(pairs, probes, { seed: 2, bootstrap: 100, topK: 5, beta: 0.1 });

function writeLog(name: string, rows: object[]): string {
  fs.mkdirSync(path.join(dir, name), { recursive: true });
  const file = path.join(dir, name, 'metrics.jsonl');
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}
const dpoLog = writeLog(
  'dpo',
  Array.from({ length: 30 }, (_, k) => ({
    step: (k + 1) * 10,
    loss: 0.69 * Math.exp(-k / 12),
    'rewards/accuracies': 0.5 + 0.4 * (1 - Math.exp(-k / 8)),
    ...(k % 10 === 9 ? { eval_loss: 0.7 * Math.exp(-k / 20) } : {}),
  })),
);
const rmLog = writeLog('reward', Array.from({ length: 20 }, (_, k) => ({ step: k + 1, loss: 0.7 - k * 0.02, accuracy: 0.5 + k * 0.02 })));
const metricsLogs = [readMetricsLog(dpoLog), readMetricsLog(rmLog)];
const paths = writeReport(dir, summary, { metricsLogs });
const html = fs.readFileSync(paths.html, 'utf8');

// The same with a generative judge as a third reward (the pairs and probes carry its verdicts in both orders).
const dir3 = path.join(dir, 'three');
const pairs3 = syntheticPairs({ n: N, seed: 3, lengthBonus: 0.6, flipped: 0.1, judgeLean: 0.8 });
pairs3[0].rejected = HOSTILE;
const probes3 = syntheticProbes(4, 30, 0.8);
const summary3 = summarise(pairs3, probes3, { seed: 2, bootstrap: 100, topK: 5, beta: 0.1 });
const paths3 = writeReport(dir3, summary3, { metricsLogs });
const html3 = fs.readFileSync(paths3.html, 'utf8');

/** Plot name -> number of elements with class "mark" inside it, from the markup. */
function staticMarks(page: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of page.matchAll(/<svg data-plot="([^"]+)"[\s\S]*?<\/svg>/g)) out[m[1]] = (m[0].match(/class="mark[ "]/g) ?? []).length;
  return out;
}

const EXPECTED_MARKS: Record<string, number> = {
  scatter: N,
  'hist-explicit': summary.explicit.histogram.counts.length,
  'hist-implicit': summary.implicit.histogram.counts.length,
  subsets: 2 * 3,
  probes: 2 * 3,
  'length-accuracy': 4,
};

describe('report files with a judge (three rewards)', () => {
  test('every chart but the training curves carries the judge in its own colour, with the expected marks', () => {
    const marks = staticMarks(html3);
    const filled = (c: typeof summary.explicit.calibration) => c.bins.filter((b) => b.n > 0).length;
    expect(marks['hist-judge']).toBe(summary3.judge!.histogram.counts.length);
    expect(marks.subsets).toBe(3 * 3);
    expect(marks.probes).toBe(3 * 3);
    expect(marks['length-accuracy']).toBe(6);
    expect(marks.calibration).toBe(3 + filled(summary3.explicit.calibration) + filled(summary3.implicit.calibration) + filled(summary3.judge!.calibration));
    expect(marks.scatter).toBe(N);
    for (const m of html3.matchAll(/<svg data-plot="([^"]+)"[\s\S]*?<\/svg>/g)) {
      if (m[1].startsWith('training-') || m[1].startsWith('hist-') && m[1] !== 'hist-judge') continue;
      expect([m[1], m[0].includes(COLOURS.judge)]).toEqual([m[1], true]);
    }
    // The two-reward page has no judge anywhere.
    expect(html).not.toContain('data-plot="hist-judge"');
    expect(html).not.toContain('Judge accuracy');
  });

  test('comparison.md shows the judge beside both rewards, the three together and the probe findings', () => {
    const md = fs.readFileSync(paths3.markdown, 'utf8');
    expect(md).toContain('|  | explicit (reward model) | implicit (DPO) | judge (generative) |');
    expect(md).toContain(`| accuracy | ${(summary3.explicit.accuracy * 100).toFixed(1)}%`);
    expect(md).toContain('## Three rewards');
    expect(md).toContain('| explicit – judge |');
    expect(md).toContain('position bias (same label in both orders, Wilson)');
    expect(md).toContain('indifferent (a finding)');
    expect(md).toContain('judge prefers (margin)');
    expect(md).toContain('A rate near 50% (p >= 0.05) is a finding, indifference, not a failure');
  });
});

describe('report files', () => {
  test('comparison.json is the summary, with NaN written as null', () => {
    const json = fs.readFileSync(paths.json, 'utf8');
    expect(json).toBe(summaryJson(summary));
    const parsed = JSON.parse(json);
    expect(parsed.explicit.accuracy).toBe(summary.explicit.accuracy);
    expect(parsed.n_pairs).toBe(N);
    const noCi = JSON.parse(summaryJson(summarise(pairs.slice(0, 10), [], { bootstrap: 0 })));
    expect(noCi.explicit.accuracy_ci).toEqual([null, null]);
  });

  test('comparison.md has the headline, tables and field docs; text cannot break a table', () => {
    const md = fs.readFileSync(paths.markdown, 'utf8');
    expect(md).toContain(`| accuracy | ${(summary.explicit.accuracy * 100).toFixed(1)}%`);
    for (const h of ['## Headline', '## Correlation', '## Calibration', '## Length bias', '## Per subset', '## Probes', '## Fields of comparison.json']) expect(md).toContain(h);
    expect(md).toContain('`<reward>.accuracy`');
    expect(md).not.toContain('<script>');
    // Every table row has as many cells as its header.
    const rows = md.split('\n').filter((l) => l.startsWith('|'));
    for (const row of rows) expect(row.replace(/\\\|/g, '').split('|').length).toBeGreaterThanOrEqual(4);
  });

  test('report.html is self-contained: nothing to fetch', () => {
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:|\/\/)/i);
    expect(html).not.toMatch(/@import|url\(|<link\b|@font-face/i);
    expect(html).not.toMatch(/<script[^>]+src=/i);
  });

  test('texts are HTML-escaped', () => {
    expect(summary.top_disagreements[0].id).toBe('p0');
    expect(html).not.toContain('<script>window.__pwned');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;/pre&gt;&lt;script&gt;window.__pwned = 1&lt;/script&gt;');
    expect(html).toContain('how do I &lt;fix&gt; &quot;this&quot; &amp; that?');
  });

  test('every plot is in the markup with the expected number of marks', () => {
    const marks = staticMarks(html);
    for (const [name, n] of Object.entries(EXPECTED_MARKS)) expect([name, marks[name]]).toEqual([name, n]);
    for (const name of ['calibration', 'length-curve', 'training-loss', 'training-rewards-accuracies', 'training-accuracy']) expect(marks[name]).toBeGreaterThan(0);
    // Calibration: a line and one dot per non-empty bucket, for each reward.
    const filled = (c: typeof summary.explicit.calibration) => c.bins.filter((b) => b.n > 0).length;
    expect(marks.calibration).toBe(2 + filled(summary.explicit.calibration) + filled(summary.implicit.calibration));
  });

  test('metrics logs: run name from the folder, bad lines named by file:line', () => {
    expect(metricsLogs.map((l) => l.name)).toEqual(['dpo', 'reward']);
    expect(metricsLogs[0].rows).toHaveLength(30);
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"step": 1, "loss": 0.6}\n\n{"step": 2, loss}\n');
    expect(() => readMetricsLog(bad)).toThrow(ComparisonInputError);
    expect(() => readMetricsLog(bad)).toThrow(`${bad}:3: not valid JSON`);
  });
});

// Injected into a copy of the page: records errors from the first script on, and after load writes
// per-plot mark counts (with their rendered geometry) into the DOM for --dump-dom to carry out.
const CAPTURE = `<script>window.__errors=[];addEventListener('error',function(e){__errors.push(String(e.message||e))},true);
(function(){var ce=console.error,cw=console.warn;console.error=function(){__errors.push([].join.call(arguments,' '));ce.apply(console,arguments)};console.warn=function(){__errors.push([].join.call(arguments,' '));cw.apply(console,arguments)}})();</script>`;
const CHECK = `<script>addEventListener('load',function(){var out={errors:__errors,plots:{}};
document.querySelectorAll('svg[data-plot]').forEach(function(s){var vb=s.viewBox.baseVal,ms=s.querySelectorAll('.mark'),drawn=0,visible=0;
ms.forEach(function(m){var b=m.getBBox();var finite=isFinite(b.x)&&isFinite(b.y)&&isFinite(b.width)&&isFinite(b.height);
var inside=b.x>=-1&&b.y>=-1&&b.x+b.width<=vb.width+1&&b.y+b.height<=vb.height+1;if(finite&&inside)drawn++;if(finite&&inside&&b.width*b.height>0||b.width>0&&m.tagName==='path')visible++;});
var r=s.getBoundingClientRect();out.plots[s.getAttribute('data-plot')]={marks:ms.length,drawn:drawn,visible:visible,width:r.width,height:r.height};});
var p=document.createElement('pre');p.id='__check';p.textContent=JSON.stringify(out);document.body.appendChild(p);});</script>`;

interface PlotCheck {
  marks: number;
  drawn: number;
  visible: number;
  width: number;
  height: number;
}

describeIf(chromium, 'report.html in headless Chromium', () => {
  test.each([
    ['two rewards', html, dir],
    ['three rewards (with a judge)', html3, dir3],
  ])('%s: renders without console messages and every plot draws its marks inside its frame', (_, html, dir) => {
    const { run, check: found } = runPageCheck<{ errors: string[]; plots: Record<string, PlotCheck> }>(html, dir, CAPTURE, CHECK);
    expect(run.console).toEqual([]);
    expect(found).not.toBeNull();
    const check = found!;
    expect(check.errors).toEqual([]);
    // The hostile text stayed text: its script never ran.
    expect(run.stdout).not.toContain('__pwned = 1</script>');
    const staticCounts = staticMarks(html);
    expect(Object.keys(check.plots).sort()).toEqual(Object.keys(staticCounts).sort());
    for (const [name, p] of Object.entries(check.plots)) {
      expect([name, p.marks]).toEqual([name, staticCounts[name]]);
      expect([name, p.drawn]).toEqual([name, p.marks]); // finite geometry, inside the viewBox
      expect([name, p.visible > 0]).toEqual([name, true]);
      expect(p.width).toBeGreaterThan(200);
      expect(p.height).toBeGreaterThan(100);
    }
  });

  test.each([
    ['report.png', () => paths.html],
    ['report-three.png', () => paths3.html],
  ])('takes a full-page screenshot that is not blank (%s)', (name, page) => {
    const out = process.env.RLHF_REPORT_ARTIFACTS ?? dir;
    fs.mkdirSync(out, { recursive: true });
    const shot = path.join(out, name);
    const run = runChromium(findChromium()!, page(), ['--window-size=1200,2400', `--screenshot=${shot}`]);
    expect(run.console).toEqual([]);
    expect(pngSize(shot)).toEqual({ width: 1200, height: 2400 });
    // Decode the pixel data: a blank page filters to almost only zero bytes.
    const png = fs.readFileSync(shot);
    const idat: Buffer[] = [];
    for (let off = 8; off < png.length; ) {
      const len = png.readUInt32BE(off);
      if (png.toString('latin1', off + 4, off + 8) === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
      off += 12 + len;
    }
    const raw = zlib.inflateSync(Buffer.concat(idat));
    expect(new Set(raw).size).toBeGreaterThan(100);
    // eslint-disable-next-line no-console
    console.log(`report screenshot: ${shot}`);
  });
});
