/** The politeness set in ../shared/data: read, split, collated, inspected (1,100 records, 6 chosen == rejected). */
import { ByteTokenizer } from '../../src/tokenizer/byte';
import { loadTrainEval } from '../../src/data/split';
import { collatePairs, preparePairs, pairLength } from '../../src/data/collate';
import { EpochIterator } from '../../src/data/batching';
import { inspectData, formatInspectReport } from '../../src/data/inspect';
import { describeIf } from '../helpers/gates';
import { POLITENESS, politeness } from './helpers';

describeIf(politeness, 'politeness-dpo.json', () => {
  test('inspect: 1,100 records, instruction format, the 6 chosen == rejected', async () => {
    const r = await inspectData(POLITENESS);
    expect(r.records).toBe(1100);
    expect(r.invalid).toBe(0);
    expect(r.files[0].format).toBe('instruction');
    expect(r.problems.identical).toBe(6);
    expect(r.problems.duplicates).toBe(0);
    expect(r.lengths.prompt.count).toBe(1100);
    // Byte tokenizer: the shortest prompt is BOS + the template around a short instruction.
    expect(r.lengths.prompt.min).toBeGreaterThan('### Instruction:\n\n\n### Response:\n'.length);
    const text = formatInspectReport(r);
    expect(text).toMatch(/format instruction .* 1100 records, 0 invalid/);
    expect(text).toMatch(/chosen == rejected: 6/);
  });

  test('read, split 10% off for eval, collate a batch', async () => {
    const { train, eval: ev, trainStats } = await loadTrainEval({ data: POLITENESS, evalFraction: 0.1, seed: 42 });
    expect(trainStats.records).toBe(1100);
    expect(train).toHaveLength(990);
    expect(ev).toHaveLength(110);
    const tok = new ByteTokenizer();
    const { examples, stats } = preparePairs(train, tok, { maxLength: 256, maxPromptLength: 192, truncation: 'keep_end' });
    expect(stats.kept).toBe(990);
    const it = new EpochIterator(examples.length, { batchSize: 8, seed: 42, bucket: true, lengths: examples.map(pairLength) });
    const b = collatePairs(it.next().indices.map((i) => examples[i]), tok.padId);
    expect(b.size).toBe(8);
    expect(b.seqLen).toBeLessThanOrEqual(256);
    expect(b.inputIds.length).toBe(16 * b.seqLen);
    // Every row starts with BOS, every row has completion tokens, and each completion ends in EOS.
    for (let row = 0; row < 16; row++) {
      const ids = Array.from(b.inputIds.slice(row * b.seqLen, (row + 1) * b.seqLen));
      const mask = Array.from(b.attentionMask.slice(row * b.seqLen, (row + 1) * b.seqLen));
      const len = mask.reduce((a, x) => a + x, 0);
      expect(ids[0]).toBe(tok.bosId);
      expect(ids[len - 1]).toBe(tok.eosId);
      expect(b.completionMask.slice(row * b.seqLen, (row + 1) * b.seqLen).reduce((a, x) => a + x, 0)).toBeGreaterThan(0);
    }
    // Decoding a chosen row gives back prompt + chosen text.
    const r0 = b.records[0];
    const row0 = Array.from(b.inputIds.slice(0, b.seqLen));
    expect(tok.decode(row0)).toBe(String(r0.prompt).slice(-(row0.filter((x) => x > 2).length - Buffer.byteLength(String(r0.chosen)))) + r0.chosen);
  });
});
