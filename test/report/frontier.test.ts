/**
 * The frontier's files from a hand-made result: frontier.json's shape, frontier.md, and report.html (static
 * mark counts always; in headless Chromium, gated: no console messages, every plot draws its marks inside
 * its frame, hostile sample text stays text).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { headlines, headlineSentence, type FrontierPoint, type FrontierResult } from '../../src/frontier';
import { klBon } from '../../src/frontier/bon';
import { FRONTIER_FORMAT, renderFrontierHtml, writeFrontierReport, type FrontierSettings } from '../../src/report/frontier';
import { describeIf } from '../helpers/gates';
import { chromium, runPageCheck } from './chromium';

const HOSTILE = '</pre><script>window.__pwned = 1</script><img src=x onerror=alert(1)>';
const sizes = [1, 2, 4, 8, 16, 32, 64];
const bon = (proxy: string, peakAt: number): FrontierPoint[] =>
  sizes.map((n, i) => ({ proxy, method: 'bon', n, kl: klBon(n), proxy_reward: 0.2 * i, gold_reward: 0.3 + 0.05 * i - (i > peakAt ? 0.09 * (i - peakAt) : 0), gold_se: 0.01 }));
const points: FrontierPoint[] = [
  ...bon('runs/rm', 3), ...bon('implicit:runs/dpo', 5),
  ...[10, 20, 30].map((step, i): FrontierPoint => ({ proxy: 'runs/rm', method: 'rl', step, label: 'runs/grpo', kl: 0.5 * (i + 1), kl_se: 0.05, proxy_reward: 0.4 * (i + 1), gold_reward: 0.4 - 0.02 * i, gold_se: 0.02 })),
  ...['runs/rm', 'implicit:runs/dpo'].map((proxy): FrontierPoint => ({ proxy, method: 'policy', label: 'runs/dpo', kl: 6.2, kl_se: 0.4, proxy_reward: 1.1, gold_reward: 0.35, gold_se: 0.03 })),
];
const headline = headlines(points);
const result: FrontierResult = {
  points, headline, sentence: headlineSentence(headline),
  over_optimised: [{ proxy: 'runs/rm', prompt: 'Compute 1 + 5.', completion: HOSTILE, proxy_reward: 2.5, gold_reward: 0, pool_gold: 0.4 }],
  proxies: ['runs/rm', 'implicit:runs/dpo'], gold: 'oracle',
  pool: [{ promptIndex: 0, prompt: 'Compute 1 + 5.', completion: 'The answer is 6.', proxies: [1, 2], gold: 1 }],
  counts: { prompts: 1, pool_samples: 64, policy_samples: 8 },
};
const settings: FrontierSettings = {
  policy: 'runs/sft', prompts: 'data/prefs-eval.jsonl', n_max: 64, seed: 0, max_new_tokens: 64, samples_per_policy: 8, rl_runs: ['runs/grpo'], policy_points: ['runs/dpo'],
};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-frontier-report-'));
const paths = writeFrontierReport(dir, result, settings, 12.5);
const html = fs.readFileSync(paths.html, 'utf8');

function staticMarks(page: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of page.matchAll(/<svg data-plot="([^"]+)"[\s\S]*?<\/svg>/g)) out[m[1]] = (m[0].match(/class="mark[ "]/g) ?? []).length;
  return out;
}

describe('frontier files', () => {
  test('frontier.json: points with the contract fields, headline per proxy, verdict, settings', () => {
    const j = JSON.parse(fs.readFileSync(paths.json, 'utf8'));
    expect(j.format).toBe(FRONTIER_FORMAT);
    expect(j.points).toHaveLength(points.length);
    for (const p of j.points) {
      expect(['bon', 'rl', 'policy']).toContain(p.method);
      for (const k of ['proxy', 'kl', 'proxy_reward', 'gold_reward']) expect(p).toHaveProperty(k);
      if (p.method === 'bon') expect(Number.isInteger(p.n)).toBe(true);
      if (p.method === 'rl') expect(Number.isInteger(p.step)).toBe(true);
    }
    expect(Object.keys(j.headline)).toEqual(['runs/rm', 'implicit:runs/dpo']);
    // rm: bon peaks at n = 8 (0.45) above the RL points (0.40 at most)
    expect(j.headline['runs/rm']).toMatchObject({ peak_gold: 0.45, kl_at_peak: klBon(8), peak_at: 'bon n=8' });
    expect(j.headline['implicit:runs/dpo'].peak_at).toBe('bon n=32');
    expect(j.verdict).toMatch(/^Safer to optimise here: implicit:runs\/dpo \(gold peak 0\.550 vs 0\.450 for runs\/rm\), up to KL 2\.50 nats/);
    expect(j.settings).toEqual(settings);
    expect(fs.readFileSync(paths.samples, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { prompt_index: 0, prompt: 'Compute 1 + 5.', completion: 'The answer is 6.', proxies: { 'runs/rm': 1, 'implicit:runs/dpo': 2 }, gold: 1 },
    ]);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  test('frontier.md and report.html: the verdict, every point, a gold and a proxy plot per proxy, the samples as text', () => {
    const md = fs.readFileSync(paths.markdown, 'utf8');
    expect(md).toContain(result.sentence);
    expect(md.match(/^\| (runs\/rm|implicit:runs\/dpo) \| (best-of|RL|policy)/gm)).toHaveLength(points.length);
    expect(staticMarks(html)).toEqual({ 'gold-0': 7 + 3 + 1, 'proxy-0': 11, 'gold-1': 7 + 1, 'proxy-1': 8 });
    expect(html).toContain('peak 0.450 ± 0.010 at KL ' + klBon(8).toFixed(2));
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain('&lt;/pre&gt;&lt;script&gt;window.__pwned = 1&lt;/script&gt;');
    expect(renderFrontierHtml(result, settings)).toBe(html);
  });
});

const CAPTURE = `<script>window.__errors=[];addEventListener('error',function(e){__errors.push(String(e.message||e))},true);</script>`;
const CHECK = `<script>addEventListener('load',function(){var out={errors:__errors,pwned:!!window.__pwned,plots:{}};
document.querySelectorAll('svg[data-plot]').forEach(function(s){var vb=s.viewBox.baseVal,ms=s.querySelectorAll('.mark'),drawn=0;
ms.forEach(function(m){var b=m.getBBox();if(isFinite(b.x)&&isFinite(b.y)&&b.width>0&&b.height>0&&b.x>=-1&&b.y>=-1&&b.x+b.width<=vb.width+1&&b.y+b.height<=vb.height+1)drawn++;});
var r=s.getBoundingClientRect();out.plots[s.getAttribute('data-plot')]={marks:ms.length,drawn:drawn,width:r.width};});
var p=document.createElement('pre');p.id='__check';p.textContent=JSON.stringify(out);document.body.appendChild(p);});</script>`;

describeIf(chromium, 'frontier report.html in headless Chromium', () => {
  test('renders without console messages; every mark drawn inside its plot; hostile text inert', () => {
    const { run, check: found } = runPageCheck<{ errors: string[]; pwned: boolean; plots: Record<string, { marks: number; drawn: number; width: number }> }>(html, dir, CAPTURE, CHECK);
    expect(run.console).toEqual([]);
    expect(found).not.toBeNull();
    const check = found!;
    expect(check.errors).toEqual([]);
    expect(check.pwned).toBe(false);
    const counts = staticMarks(html);
    expect(Object.keys(check.plots).sort()).toEqual(Object.keys(counts).sort());
    for (const [name, p] of Object.entries(check.plots) as Array<[string, { marks: number; drawn: number; width: number }]>) {
      expect([name, p.marks, p.drawn]).toEqual([name, counts[name], counts[name]]);
      expect(p.width).toBeGreaterThan(200);
    }
  }, 180000);
});
