/**
 * comparison.md: the summary as Markdown tables, with the field documentation at the end.
 * Does NOT compute anything (compare/summary.ts) or draw plots (html.ts).
 */
import { FIELD_DOCS } from '../compare/fields';
import { calibrationSentence, ci, correlationSentence, lengthSentence, num, pct, probeSentences, verdict } from './format';
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

export function renderMarkdown(s: ComparisonSummary, title = 'Explicit vs implicit reward'): string {
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
    ...headlineSection(s),
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

/** Accuracy, margins, calibration and length bias of both rewards side by side; agreement; head to head. */
function headlineSection(s: ComparisonSummary): string[] {
  const e = s.explicit;
  const i = s.implicit;
  const wilson = (r: { rate: number; ci: [number, number]; n: number }) => `${pct(r.rate)} ${ci(r.ci, true)} n=${r.n}`;
  return [
    '## Headline',
    '',
    table(
      ['', 'explicit (reward model)', 'implicit (DPO)'],
      [
        ['accuracy', `${pct(e.accuracy)} ${ci(e.accuracy_ci, true)}`, `${pct(i.accuracy)} ${ci(i.accuracy_ci, true)}`],
        ['correct / ties', `${e.correct} / ${e.ties}`, `${i.correct} / ${i.ties}`],
        ['mean margin (sd)', `${num(e.margin.mean)} (${num(e.margin.sd)})`, `${num(i.margin.mean)} (${num(i.margin.sd)})`],
        ['mean score chosen / rejected', `${num(e.mean_chosen)} / ${num(e.mean_rejected)}`, `${num(i.mean_chosen)} / ${num(i.mean_rejected)}`],
        ['calibration ECE', num(e.calibration.ece), num(i.calibration.ece)],
        ['length Spearman', `${num(e.length_bias.spearman)} ${ci(e.length_bias.spearman_ci)}`, `${num(i.length_bias.spearman)} ${ci(i.length_bias.spearman_ci)}`],
        ['accuracy, better answer longer (Wilson)', wilson(e.length_bias.longer_chosen), wilson(i.length_bias.longer_chosen)],
        ['accuracy, better answer shorter (Wilson)', wilson(e.length_bias.longer_rejected), wilson(i.length_bias.longer_rejected)],
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
  const ib = s.implicit.calibration.bins;
  return [
    '## Calibration',
    '',
    calibrationSentence(s),
    '',
    table(
      ['sigmoid(margin)', 'explicit n', 'explicit observed', 'implicit n', 'implicit observed'],
      s.explicit.calibration.bins.map((b, k) => [`${b.lo.toFixed(1)}–${b.hi.toFixed(1)}`, b.n, pct(b.observed), ib[k].n, pct(ib[k].observed)]),
    ),
    '',
  ];
}

function lengthSection(s: ComparisonSummary): string[] {
  return ['## Length bias', '', lengthSentence('Explicit', s.explicit.length_bias), '', lengthSentence('Implicit', s.implicit.length_bias), ''];
}

function subsetSection(s: ComparisonSummary): string[] {
  return [
    '## Per subset',
    '',
    table(
      ['subset', 'n', 'explicit accuracy (Wilson)', 'implicit accuracy (Wilson)', 'agreement', 'Spearman'],
      s.subsets.map((r) => [
        r.subset,
        r.n,
        `${pct(r.explicit_accuracy.rate)} ${ci(r.explicit_accuracy.ci, true)}`,
        `${pct(r.implicit_accuracy.rate)} ${ci(r.implicit_accuracy.ci, true)}`,
        pct(r.agreement),
        num(r.spearman),
      ]),
    ),
    '',
  ];
}

function probeSection(s: ComparisonSummary): string[] {
  if (!s.probes.length) return [];
  return [
    '## Probes',
    '',
    'Rate of scoring response a above b (Wilson intervals). 50% means no preference.',
    '',
    table(
      ['probe', 'n', 'explicit prefers a', 'implicit prefers a', 'agreement'],
      s.probes.map((g) => [g.probe, g.n, `${pct(g.explicit.prefers_a.rate)} ${ci(g.explicit.prefers_a.ci, true)}`, `${pct(g.implicit.prefers_a.rate)} ${ci(g.implicit.prefers_a.ci, true)}`, pct(g.agreement)]),
    ),
    '',
    ...probeSentences(s).map((l) => `- ${l}`),
    '',
  ];
}

function disagreementSection(s: ComparisonSummary): string[] {
  return [
    `## Top ${s.top_disagreements.length} disagreements`,
    '',
    table(
      ['id', 'subset', 'truth', 'explicit prefers (margin)', 'implicit prefers (margin)', 'prompt', 'chosen', 'rejected'],
      s.top_disagreements.map((d) => [
        d.id,
        d.subset ?? '',
        d.ground_truth,
        `${d.explicit_prefers} (${num(d.explicit_margin)})`,
        `${d.implicit_prefers} (${num(d.implicit_margin)})`,
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
    '`<reward>` is `explicit` or `implicit`; `<variant>` is `reference_free.sum` or `reference_free.mean`; `<corr>` is `correlation` or `score_correlation`; `[]` marks array items. NaN is written as null.',
    '',
    table(['field', 'meaning'], FIELD_DOCS.map(([p, d]) => [`\`${p}\``, d])),
    '',
  ];
}
