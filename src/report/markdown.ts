/**
 * comparison.md: the summary as Markdown tables, with the field documentation at the end.
 * Does NOT compute anything (compare/summary.ts) or draw plots (html.ts).
 */
import { FIELD_DOCS } from '../compare/fields';
import {
  calibrationSentence, ci, correlationSentence, lengthSentence, num, pct, positionBiasSentence, PROBE_READING, probeSentences, probeSetLabel, reportRewards, threeWaySentence, verdict,
} from './format';
import type { ComparisonSummary } from '../compare/summary';

/** Escapes a table cell: pipes and newlines would break the row. */
function cell(s: unknown): string {
  return String(s).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ⏎ ');
}

function table(head: string[], rows: unknown[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** Shortens display text and escapes markup, so a response's "<b>" shows as text. */
function clip(s: string, n = 160): string {
  const short = s.length > n ? `${s.slice(0, n - 1)}…` : s;
  return short.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** How each model scored its pairs (β, lengths, truncation) and where each value came from. */
function scoringSection(s: ComparisonSummary): string[] {
  const sc = s.settings.scoring;
  if (!sc) return [];
  const rows = (['policy', 'reward_model'] as const).flatMap((who) =>
    (Object.keys(sc[who].values) as (keyof typeof sc.policy.values)[])
      .filter((f) => who === 'policy' || f !== 'beta') // the reward model's scores do not use β
      .map((f) => [who, f, sc[who].values[f] ?? 'none', sc[who].sources[f]]),
  );
  return ['## Scoring settings', '', 'Each model scored its pairs as it was trained; flags and recipe fields override.', '', table(['model', 'setting', 'value', 'from'], rows), ''];
}

export function renderMarkdown(s: ComparisonSummary, title = s.judge ? 'Explicit vs implicit reward vs generative judge' : 'Explicit vs implicit reward'): string {
  return [
    `# ${title}`,
    '',
    `${s.n_pairs} pairs, ${s.n_probes} probe pairs; intervals are ${s.settings.level * 100}% bootstrap percentile intervals ` +
      `(${s.settings.bootstrap} resamples, seed ${s.settings.seed}) unless marked Wilson.`,
    '',
    verdict(s),
    '',
    correlationSentence(s),
    '',
    ...(s.judge ? [threeWaySentence(s), '', positionBiasSentence(s), ''] : []),
    ...headlineSection(s),
    ...threeWaySection(s),
    ...correlationSection(s),
    ...referenceFreeSection(s),
    ...calibrationSection(s),
    ...lengthSection(s),
    ...subsetSection(s),
    ...scoringSection(s),
    ...probeSection(s),
    ...disagreementSection(s),
    ...fieldsSection(),
  ].join('\n');
}

/** Accuracy, margins, calibration and length bias of every reward side by side; agreement; head to head. */
function headlineSection(s: ComparisonSummary): string[] {
  const rw = reportRewards(s);
  const wilson = (r: { rate: number; ci: [number, number]; n: number }) => `${pct(r.rate)} ${ci(r.ci, true)} n=${r.n}`;
  const row = (label: string, f: (x: (typeof rw)[0]) => string) => [label, ...rw.map(f)];
  const means = (x: (typeof rw)[0]) => {
    const m = x.key === 'judge' ? null : s[x.key];
    return m ? `${num(m.mean_chosen)} / ${num(m.mean_rejected)}` : 'n/a (pairwise)';
  };
  return [
    '## Headline',
    '',
    table(
      ['', ...rw.map((x) => x.label)],
      [
        row('accuracy', (x) => `${pct(x.summary.accuracy)} ${ci(x.summary.accuracy_ci, true)}`),
        row('correct / ties', (x) => `${x.summary.correct} / ${x.summary.ties}`),
        row('mean margin (sd)', (x) => `${num(x.summary.margin.mean)} (${num(x.summary.margin.sd)})`),
        row('mean score chosen / rejected', means),
        row('calibration ECE', (x) => num(x.summary.calibration.ece)),
        row('length Spearman', (x) => `${num(x.summary.length_bias.spearman)} ${ci(x.summary.length_bias.spearman_ci)}`),
        row('accuracy, better answer longer (Wilson)', (x) => wilson(x.summary.length_bias.longer_chosen)),
        row('accuracy, better answer shorter (Wilson)', (x) => wilson(x.summary.length_bias.longer_rejected)),
        ...(s.judge ? [row('position bias (same label in both orders, Wilson)', (x) => (x.key === 'judge' ? `${pct(s.judge!.position_bias.rate)} ${ci(s.judge!.position_bias.rate_ci, true)} n=${s.judge!.position_bias.n}` : 'n/a'))] : []),
      ],
    ),
    '',
    `Agreement: ${pct(s.agreement)} ${ci(s.agreement_ci, true)} (${s.n_agree} of ${s.n_pairs}); disagreements: ${s.n_disagreements}.`,
    '',
    table(
      ['head to head', 'pairs'],
      [
        ['both right', s.head_to_head.both_correct],
        ['only explicit right', s.head_to_head.explicit_only],
        ['only implicit right', s.head_to_head.implicit_only],
        ['both wrong', s.head_to_head.both_wrong],
        ['accuracy difference (explicit - implicit)', `${pct(s.head_to_head.accuracy_difference)} ${ci(s.head_to_head.accuracy_difference_ci, true)}`],
      ],
    ),
    '',
  ];
}

/** Every two rewards side by side, and the three together (with a judge). */
function threeWaySection(s: ComparisonSummary): string[] {
  const t = s.three_way;
  if (!t || !s.reward_pairs) return [];
  return [
    '## Three rewards',
    '',
    table(
      ['rewards', 'agreement', 'pairs agreeing', 'Pearson', 'Spearman', 'Kendall tau-b'],
      s.reward_pairs.map((r) => [
        `${r.rewards[0]} – ${r.rewards[1]}`,
        `${pct(r.agreement)} ${ci(r.agreement_ci, true)}`,
        r.n_agree,
        `${num(r.correlation.pearson)} ${ci(r.correlation.pearson_ci)}`,
        `${num(r.correlation.spearman)} ${ci(r.correlation.spearman_ci)}`,
        `${num(r.correlation.kendall)} ${ci(r.correlation.kendall_ci)}`,
      ]),
    ),
    '',
    `All three agree on ${t.all_agree} of ${s.n_pairs} pairs (${pct(t.all_agree_rate)} ${ci(t.all_agree_ci, true)}); they do not all agree on ${t.n_disagreements}. ` +
      `Majority vote accuracy: ${pct(t.majority_accuracy)} ${ci(t.majority_accuracy_ci, true)}.`,
    '',
    table(
      ['right on the pair', 'pairs'],
      Object.entries(t.correct_by).sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, n]),
    ),
    '',
  ];
}

function correlationSection(s: ComparisonSummary): string[] {
  return [
    '## Correlation',
    '',
    table(
      ['between', 'n', 'Pearson', 'Spearman', 'Kendall tau-b'],
      [s.correlation, s.score_correlation].map((c, k) => [
        k === 0 ? 'margins (per pair)' : 'scores (per response)',
        c.n,
        `${num(c.pearson)} ${ci(c.pearson_ci)}`,
        `${num(c.spearman)} ${ci(c.spearman_ci)}`,
        `${num(c.kendall)} ${ci(c.kendall_ci)}`,
      ]),
    ),
    '',
  ];
}

function referenceFreeSection(s: ComparisonSummary): string[] {
  const i = s.implicit;
  const rf = s.reference_free;
  return [
    '## Reference-free implicit variants (RewardBench)',
    '',
    table(
      ['variant', 'accuracy', 'ties'],
      [
        ['beta * (log pi - log pi_ref), sum', `${pct(i.accuracy)} ${ci(i.accuracy_ci, true)}`, i.ties],
        ['log pi, sum over tokens', `${pct(rf.sum.accuracy)} ${ci(rf.sum.accuracy_ci, true)}`, rf.sum.ties],
        ['log pi, mean per token', `${pct(rf.mean.accuracy)} ${ci(rf.mean.accuracy_ci, true)}`, rf.mean.ties],
      ],
    ),
    '',
  ];
}

function calibrationSection(s: ComparisonSummary): string[] {
  const rw = reportRewards(s);
  return [
    '## Calibration',
    '',
    calibrationSentence(s),
    '',
    table(
      ['sigmoid(margin)', ...rw.flatMap((x) => [`${x.name} n`, `${x.name} observed`])],
      s.explicit.calibration.bins.map((b, k) => [`${b.lo.toFixed(1)}–${b.hi.toFixed(1)}`, ...rw.flatMap((x) => [x.summary.calibration.bins[k].n, pct(x.summary.calibration.bins[k].observed)])]),
    ),
    '',
  ];
}

function lengthSection(s: ComparisonSummary): string[] {
  return ['## Length bias', '', ...reportRewards(s).flatMap((x) => [lengthSentence(x.name[0].toUpperCase() + x.name.slice(1), x.summary.length_bias), ''])];
}

function subsetSection(s: ComparisonSummary): string[] {
  return [
    '## Per subset',
    '',
    table(
      ['subset', 'n', 'explicit accuracy (Wilson)', 'implicit accuracy (Wilson)', ...(s.judge ? ['judge accuracy (Wilson)'] : []), 'agreement (explicit–implicit)', 'Spearman'],
      s.subsets.map((r) => [
        r.subset,
        r.n,
        `${pct(r.explicit_accuracy.rate)} ${ci(r.explicit_accuracy.ci, true)}`,
        `${pct(r.implicit_accuracy.rate)} ${ci(r.implicit_accuracy.ci, true)}`,
        ...(s.judge ? [r.judge_accuracy ? `${pct(r.judge_accuracy.rate)} ${ci(r.judge_accuracy.ci, true)}` : 'n/a'] : []),
        pct(r.agreement),
        num(r.spearman),
      ]),
    ),
    '',
  ];
}

function probeSection(s: ComparisonSummary): string[] {
  if (!s.probe_sets.length) return [];
  const swap = (c: ComparisonSummary['probe_sets'][0]['rewards'][0]['swap_consistency']) => (c ? `${c.consistent} of ${c.questions} (${pct(c.rate, 0)})` : '—');
  return [
    '## Probes',
    '',
    PROBE_READING,
    '',
    table(
      ['probe set', 'reward', 'n (ties)', 'prefers first value (Wilson 95%)', 'p vs 50% (exact binomial)', 'verdict', 'swap consistency'],
      s.probe_sets.flatMap((p) =>
        p.rewards.map((r) => [
          probeSetLabel(p),
          r.reward,
          `${r.n}${r.ties ? ` (${r.ties})` : ''}`,
          `${pct(r.rate)} ${ci(r.ci, true)}`,
          Number.isFinite(r.p_value) ? (r.p_value < 0.001 ? '< 0.001' : num(r.p_value, 3)) : 'n/a',
          r.verdict === 'prefers_first' ? `prefers ${p.values[0]}` : r.verdict === 'prefers_second' ? `prefers ${p.values[1]}` : r.verdict === 'indifferent' ? 'indifferent (a finding)' : 'all tied',
          swap(r.swap_consistency),
        ]),
      ),
    ),
    '',
    ...probeSentences(s).map((l) => `- ${l}`),
    '',
  ];
}

function disagreementSection(s: ComparisonSummary): string[] {
  return [
    `## Top ${s.top_disagreements.length} disagreements${s.judge ? " among the three rewards" : ""}`,
    '',
    table(
      ['id', 'subset', 'truth', 'explicit prefers (margin)', 'implicit prefers (margin)', ...(s.judge ? ['judge prefers (margin)'] : []), 'prompt', 'chosen', 'rejected'],
      s.top_disagreements.map((d) => [
        d.id,
        d.subset ?? '',
        d.ground_truth,
        `${d.explicit_prefers} (${num(d.explicit_margin)})`,
        `${d.implicit_prefers} (${num(d.implicit_margin)})`,
        ...(s.judge ? [`${d.judge_prefers ?? 'n/a'} (${num(d.judge_margin)})`] : []),
        clip(d.prompt),
        clip(d.chosen),
        clip(d.rejected),
      ]),
    ),
    '',
  ];
}

function fieldsSection(): string[] {
  return [
    '## Fields of comparison.json',
    '',
    '`<reward>` is `explicit`, `implicit` or `judge`; `<variant>` is `reference_free.sum` or `reference_free.mean`; `<corr>` is `correlation` or `score_correlation`; `[]` marks array items. NaN is written as null.',
    '',
    table(['field', 'meaning'], FIELD_DOCS.map(([p, d]) => [`\`${p}\``, d])),
    '',
  ];
}
