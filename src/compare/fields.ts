/**
 * The documentation of comparison.json, one row per field, emitted as a table into comparison.md.
 * `<reward>` stands for `explicit`, `implicit` and `judge`, `<variant>` for `reference_free.sum` and
 * `reference_free.mean`, `<corr>` for `correlation` and `score_correlation`; `[]` marks array items.
 * A row documents its path and everything under it. Does NOT validate a summary (tests check that
 * every field a summary has is covered here).
 */

export const FIELD_DOCS: Array<[path: string, doc: string]> = [
  ['format', 'Format tag, "rlhf-comparison/v1".'],
  ['n_pairs', 'Number of preference pairs compared.'],
  ['n_probes', 'Number of probe pairs, all groups together.'],
  ['settings.seed', 'Seed of the bootstrap PRNG (same seed, same numbers).'],
  ['settings.bootstrap', 'Bootstrap resamples over pairs (0: no bootstrap intervals).'],
  ['settings.level', 'Coverage of every interval (0.95).'],
  ['settings.beta', 'DPO beta of the implicit reward, when given (null otherwise).'],
  ['settings.top_k', 'How many top disagreements are listed.'],
  ['settings.calibration_bins', 'Number of equal-width calibration buckets on [0, 1].'],
  [
    'settings.scoring',
    'How each model (policy, reward_model) scored its pairs: values {beta, max_length, max_prompt_length, truncation_mode} and sources naming where each came from (a flag or recipe field, the model\'s rlhf.json, or the default); null when not recorded.',
  ],
  ['<reward>.accuracy', 'Fraction of pairs where the reward scores the truly better response strictly higher; ties count as wrong.'],
  ['<reward>.accuracy_ci', '[low, high] bootstrap percentile interval of accuracy.'],
  ['<reward>.correct', 'Pairs counted correct.'],
  ['<reward>.ties', 'Pairs whose two scores are exactly equal (counted wrong).'],
  ['<reward>.margin', 'mean, sd, min, max of the margin score(chosen) - score(rejected) (the judge\'s: (ab - ba) / 2, its order-averaged log-odds that chosen is better).'],
  ['<reward>.mean_chosen', 'Mean score of the chosen responses (explicit and implicit: the judge scores pairs, not responses).'],
  ['<reward>.mean_rejected', 'Mean score of the rejected responses.'],
  ['<reward>.histogram', 'Histogram of the margins: edges (bins + 1 numbers, equal width) and counts.'],
  ['<reward>.calibration.ece', 'Expected calibration error: sum over buckets of (n_b / N) |mean_predicted_b - observed_b|.'],
  [
    '<reward>.calibration.bins[]',
    'Bucket [lo, hi) of p = sigmoid(margin) read as P(chosen is better): n points, mean_predicted, observed (fraction truly better). Each pair adds (p, y) and (1 - p, 1 - y), i.e. both presentation orders.',
  ],
  ['<reward>.length_bias.spearman', 'Spearman of the margin with the length difference (characters, chosen - rejected); > 0 means longer answers score higher.'],
  ['<reward>.length_bias.spearman_ci', 'Bootstrap interval of length_bias.spearman.'],
  ['<reward>.length_bias.longer_chosen', 'Accuracy on pairs where the truly better response is the longer one: rate, ci (Wilson), n.'],
  ['<reward>.length_bias.longer_rejected', 'Accuracy on pairs where the truly better response is the shorter one: rate, ci (Wilson), n.'],
  ['<reward>.length_bias.n_equal_length', 'Pairs whose responses have equal length (in neither group).'],
  ['<variant>.accuracy', 'Accuracy of a reference-free implicit reward (RewardBench): sum = summed policy log-prob, mean = per-token mean.'],
  ['<variant>.accuracy_ci', 'Bootstrap interval of that accuracy.'],
  ['<variant>.correct', 'Pairs counted correct.'],
  ['<variant>.ties', 'Pairs with equal values (counted wrong).'],
  ['agreement', 'Fraction of pairs where both rewards strictly prefer the same response (a tie is not agreement).'],
  ['agreement_ci', 'Bootstrap interval of agreement.'],
  ['n_agree', 'Pairs where the rewards agree.'],
  ['head_to_head.both_correct', 'Pairs both rewards get right.'],
  ['head_to_head.explicit_only', 'Pairs only the explicit reward gets right.'],
  ['head_to_head.implicit_only', 'Pairs only the implicit reward gets right.'],
  ['head_to_head.both_wrong', 'Pairs both get wrong (ties included).'],
  ['head_to_head.accuracy_difference', 'explicit.accuracy - implicit.accuracy.'],
  ['head_to_head.accuracy_difference_ci', 'Paired bootstrap interval of the difference.'],
  ['head_to_head.better', '"explicit" or "implicit" when the difference interval excludes 0, else "neither".'],
  ['<corr>.pearson', 'Pearson correlation (correlation: of the two margins over pairs; score_correlation: of the two scores over all responses).'],
  ['<corr>.pearson_ci', 'Bootstrap interval (resampling pairs).'],
  ['<corr>.spearman', 'Spearman rank correlation (average ranks for ties).'],
  ['<corr>.spearman_ci', 'Bootstrap interval.'],
  ['<corr>.kendall', "Kendall's tau-b (tie-aware)."],
  ['<corr>.kendall_ci', 'Bootstrap interval.'],
  ['<corr>.n', 'Number of points correlated (n_pairs for margins, 2 n_pairs for scores).'],
  ['subsets[].subset', 'Subset label; pairs without one are "(all)".'],
  ['subsets[].n', 'Pairs in the subset.'],
  ['subsets[].explicit_accuracy', 'Explicit accuracy in the subset: rate, ci (Wilson), n.'],
  ['subsets[].explicit_ties', 'Explicit ties in the subset.'],
  ['subsets[].implicit_accuracy', 'Implicit accuracy in the subset: rate, ci (Wilson), n.'],
  ['subsets[].implicit_ties', 'Implicit ties in the subset.'],
  ['subsets[].agreement', 'Agreement rate in the subset.'],
  ['subsets[].spearman', 'Spearman of the two margins in the subset (null below 3 pairs or when constant).'],
  ['subsets[].judge_accuracy', 'The judge\'s accuracy in the subset: rate, ci (Wilson), n (with a judge).'],
  ['subsets[].judge_ties', 'The judge\'s ties in the subset (with a judge).'],
  ['n_disagreements', 'Pairs where the rewards prefer different responses (a tie counts as its own preference).'],
  ['top_disagreements[].id', 'Pair id.'],
  ['top_disagreements[].subset', 'Subset label or null.'],
  ['top_disagreements[].source', 'file:line of the pair.'],
  ['top_disagreements[].prompt', 'Prompt text.'],
  ['top_disagreements[].chosen', 'Chosen response text.'],
  ['top_disagreements[].rejected', 'Rejected response text.'],
  ['top_disagreements[].ground_truth', 'Which response is truly better ("chosen" unless the data says otherwise).'],
  ['top_disagreements[].explicit_margin', 'Explicit score(chosen) - score(rejected).'],
  ['top_disagreements[].implicit_margin', 'Implicit score(chosen) - score(rejected).'],
  ['top_disagreements[].explicit_z', 'Explicit margin standardised over all pairs, (m - mean) / sd.'],
  ['top_disagreements[].implicit_z', 'Implicit margin standardised over all pairs.'],
  ['top_disagreements[].gap', '|explicit_z - implicit_z|, the ranking key (largest first).'],
  ['top_disagreements[].explicit_prefers', '"chosen", "rejected" or "tie".'],
  ['top_disagreements[].implicit_prefers', '"chosen", "rejected" or "tie".'],
  ['top_disagreements[].judge_margin', 'The judge\'s order-averaged margin (with a judge; the list then holds pairs where the three do not all agree, ranked by the largest z minus the smallest).'],
  ['top_disagreements[].judge_z', 'The judge\'s margin standardised over all pairs.'],
  ['top_disagreements[].judge_prefers', '"chosen", "rejected" or "tie".'],
  ['probes[].probe', 'Probe group name.'],
  ['probes[].n', 'Probe pairs in the group.'],
  ['probes[].<reward>.prefers_a', "Rate of scoring a strictly above b: rate, ci (Wilson), n."],
  ['probes[].<reward>.ties', 'Probe pairs scored equal.'],
  ['probes[].<reward>.mean_margin', 'Mean of score(a) - score(b).'],
  ['probe_sets[].probe', 'Probe set name.'],
  ['probe_sets[].attribute', 'The one attribute the two sides of each pair differ in ("<probe>" for older sets without attribute fields).'],
  ['probe_sets[].values', 'The attribute\'s two values, first first; rates are for the first ("a" and "b" for older sets).'],
  ['probe_sets[].n', 'Pairs in the set.'],
  ['probe_sets[].rewards[].reward', '"explicit", "implicit" or "judge".'],
  ['probe_sets[].rewards[].n', 'Pairs scored.'],
  ['probe_sets[].rewards[].ties', 'Pairs with equal scores, left out of the rate and the test (sign-test convention).'],
  ['probe_sets[].rewards[].decided', 'n - ties.'],
  ['probe_sets[].rewards[].prefers_first', 'Decided pairs where the side carrying the first value scores higher.'],
  ['probe_sets[].rewards[].rate', 'prefers_first / decided: the rate of preferring the first value. Near 0.5 is indifference, itself a finding.'],
  ['probe_sets[].rewards[].ci', 'Wilson interval of rate at settings.level.'],
  ['probe_sets[].rewards[].p_value', 'Exact two-sided binomial test of prefers_first out of decided against 0.5 (scipy.stats.binomtest\'s definition).'],
  ['probe_sets[].rewards[].verdict', '"indifferent" (p >= 0.05), "prefers_first", "prefers_second" or "no_decided_pairs".'],
  ['probe_sets[].rewards[].swap_consistency', 'Where a question is asked in both a/b orders: questions, consistent (the same value wins in every order), rate, ci (Wilson); null when no question repeats.'],
  ['probe_sets[].rewards[].finding', 'The finding in one sentence.'],
  ['probes[].agreement', 'Fraction of the group where both rewards prefer the same response.'],
  ['judge.position_bias.n', 'Pairs whose verdicts are decided in both orders (log-odds not 0 in either).'],
  ['judge.position_bias.same_label', 'Of those, pairs where the judge picks the same label in both orders: its verdict followed the position, not the answer.'],
  ['judge.position_bias.rate', 'same_label / n: the position-bias rate (0: reads only content; 1: reads only positions).'],
  ['judge.position_bias.rate_ci', 'Wilson interval of the position-bias rate.'],
  ['judge.position_bias.label_a_logodds', 'Mean of (ab + ba) / 2: the judge\'s lean towards the first label, in log-odds (cancelled in its score by averaging both orders).'],
  ['reward_pairs[].rewards', 'The two rewards compared (with a judge: explicit-implicit, explicit-judge, implicit-judge).'],
  ['reward_pairs[].agreement', 'Fraction of pairs where both strictly prefer the same response.'],
  ['reward_pairs[].agreement_ci', 'Bootstrap interval of that agreement.'],
  ['reward_pairs[].n_agree', 'Pairs where they agree.'],
  ['reward_pairs[].correlation', 'Pearson, Spearman and Kendall tau-b of their margins, each with a bootstrap interval, and n.'],
  ['three_way.all_agree', 'Pairs where all three rewards strictly prefer the same response.'],
  ['three_way.all_agree_rate', 'all_agree / n_pairs.'],
  ['three_way.all_agree_ci', 'Bootstrap interval of all_agree_rate.'],
  ['three_way.n_disagreements', 'Pairs where the three do not all prefer the same response (top_disagreements is drawn from these when a judge is present).'],
  ['three_way.correct_by', 'Pairs by which rewards get them right: keys like "explicit+judge", "none".'],
  ['three_way.majority_accuracy', 'Accuracy of the majority vote of the three rewards (a tie is a wrong vote).'],
  ['three_way.majority_accuracy_ci', 'Bootstrap interval of majority_accuracy.'],
  ['checks.implicit_logratio_max_abs_diff', 'max |implicit - beta (policy logp - reference logp)| over responses; should be ~0 (null without beta).'],
  ['per_pair[]', 'One row per pair for plots: id, subset, ground_truth, explicit_margin, implicit_margin, judge_margin (with a judge), length_diff (chars, chosen - rejected).'],
];

/** Maps a concrete JSON path (e.g. "implicit.calibration.bins[].lo") onto FIELD_DOCS' placeholders. */
export function normaliseFieldPath(path: string): string {
  return path
    .replace(/^(explicit|implicit)\./, '<reward>.')
    .replace(/^judge\.(?!position_bias)/, '<reward>.')
    .replace(/^reference_free\.(sum|mean)\./, '<variant>.')
    .replace(/^(correlation|score_correlation)\./, '<corr>.')
    .replace(/^probes\[\]\.(explicit|implicit|judge)\./, 'probes[].<reward>.');
}

/** The FIELD_DOCS row covering a concrete path (itself or a parent), or undefined. */
export function fieldDoc(path: string): string | undefined {
  const norm = normaliseFieldPath(path);
  const hit = FIELD_DOCS.filter(([p]) => norm === p || norm.startsWith(p + '.') || norm.startsWith(p + '['));
  return hit.sort((a, b) => b[0].length - a[0].length)[0]?.[1];
}
