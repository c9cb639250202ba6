/**
 * Training a generative judge: preference pairs framed as judge prompts (rewards/judge.ts), the better answer's label
 * as the one target token, in both orders. A pair (x, chosen, rejected) gives two SFT sequences:
 *   [BOS] judgeText(x, a = chosen,   b = rejected) [suffix] -> label_a
 *   [BOS] judgeText(x, a = rejected, b = chosen)   [suffix] -> label_b
 * tokenised exactly as the judge reads them (judgeInputIds: a text over max_length keeps its end), so the trained
 * model's next-token distribution is what judge:MODEL reads. The loss is sftTask's: NLL of the label token only
 * (completion-only), a mean over the batch's label tokens. Both orders sit in the same batch, so a judge cannot lower
 * the loss by preferring one position.
 *
 * Does NOT: run the loop or save (stages.ts trainJudge does, with sft.ts's task), or score (rewards/judge.ts).
 */
import type { CollateStats, SequenceExample } from '../data/collate';
import type { PreferenceRecord } from '../data/types';
import { judgeInputIds, judgeText, keepEnd, plainText, type JudgeTemplate, type LabelTokens } from '../rewards/judge';
import type { Tokenizer } from '../tokenizer/types';

/** The two judge sequences of one pair (chosen shown first, then second); null when the label would not fit. */
export function judgeExamples(
  r: PreferenceRecord,
  tok: Tokenizer,
  t: JudgeTemplate,
  labels: LabelTokens,
  maxLength: number,
  stats: CollateStats,
  chatTemplate?: string,
): [SequenceExample, SequenceExample] | null {
  if (maxLength < 2) {
    stats.dropped++;
    return null;
  }
  const [x, c, rj] = [plainText(r.prompt), plainText(r.chosen), plainText(r.rejected)];
  const one = (a: string, b: string, label: number): SequenceExample => {
    const full = judgeInputIds(tok, judgeText(t, x, a, b, chatTemplate), labels.suffix, Number.MAX_SAFE_INTEGER);
    const ids = keepEnd(full, tok.bosId !== null, maxLength - 1);
    if (ids.length < full.length) stats.truncatedTotal++;
    return { record: r, seq: { ids: [...ids, label], completionStart: ids.length } };
  };
  stats.kept++;
  return [one(c, rj, labels.ids[0]), one(rj, c, labels.ids[1])];
}
