/**
 * The documentation of comparison.json, one row per field, emitted as a table into comparison.md.
 * `<reward>` stands for `explicit` and `implicit`, `<variant>` for `reference_free.sum` and
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
  ['<reward>.margin', 'mean, sd, min, max of the margin score(chosen) - score(rejected).'],
  ['<reward>.mean_chosen', 'Mean score of the chosen responses.'],
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
  ['probes[].probe', 'Probe group name.'],
  ['probes[].n', 'Probe pairs in the group.'],
  ['probes[].<reward>.prefers_a', "Rate of scoring a strictly above b: rate, ci (Wilson), n."],
  ['probes[].<reward>.ties', 'Probe pairs scored equal.'],
  ['probes[].<reward>.mean_margin', 'Mean of score(a) - score(b).'],
  ['probes[].agreement', 'Fraction of the group where both rewards prefer the same response.'],
  ['checks.implicit_logratio_max_abs_diff', 'max |implicit - beta (policy logp - reference logp)| over responses; should be ~0 (null without beta).'],
  ['per_pair[]', 'One row per pair for plots: id, subset, ground_truth, explicit_margin, implicit_margin, length_diff (chars, chosen - rejected).'],
];

/** Maps a concrete JSON path (e.g. "implicit.calibration.bins[].lo") onto FIELD_DOCS' placeholders. */
export function normaliseFieldPath(path: string): string {
  return path
    .replace(/^(explicit|implicit)\./, '<reward>.')
    .replace(/^reference_free\.(sum|mean)\./, '<variant>.')
    .replace(/^(correlation|score_correlation)\./, '<corr>.')
    .replace(/^probes\[\]\.(explicit|implicit)\./, 'probes[].<reward>.');
}

/** The FIELD_DOCS row covering a concrete path (itself or a parent), or undefined. */
export function fieldDoc(path: string): string | undefined {
  const norm = normaliseFieldPath(path);
  const hit = FIELD_DOCS.filter(([p]) => norm === p || norm.startsWith(p + '.') || norm.startsWith(p + '['));
  return hit.sort((a, b) => b[0].length - a[0].length)[0]?.[1];
}
