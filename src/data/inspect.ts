/**
 * What `rlhf data inspect` and `rlhf data convert` do, as library functions the CLI calls:
 * inspectData → an InspectReport (formats, counts, invalid records with the first messages, problem
 * counts, token-length percentiles of prompt/chosen/rejected, over-length pairs under the given
 * limits, subsets); formatInspectReport → the same as text; convertData → the normal form as JSONL, Parquet or Arrow.
 * Token lengths count what collation feeds the model: BOS + prompt, completion + EOS (byte-level
 * tokenizer unless one is given). Everything streams: memory holds three lengths per record.
 * Does NOT parse command lines or print (the CLI does).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { once } from 'events';
import { ByteTokenizer } from '../tokenizer/byte';
import type { Tokenizer } from '../tokenizer/types';
import { newCollateStats, preparePair, tokenizeRecord, type CollateStats, type TruncationOptions } from './collate';
import { newReadStats, readPreferences, type ReadOptions, type ReadStats } from './read';
import type { PreferenceRecord } from './types';
import { DataError } from './errors';
import { openColumnarSink, outputFormat, WRITE_BATCH, type OutputFormat } from './write';

export interface InspectOptions extends ReadOptions, TruncationOptions {
  /** Tokenizer for lengths (and chat templates). @default ByteTokenizer */
  tokenizer?: Tokenizer;
}

export interface LengthSummary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface InspectReport extends ReadStats {
  inputs: string[];
  tokenizer: string;
  lengths: { prompt: LengthSummary; chosen: LengthSummary; rejected: LengthSummary };
  /** Limits the over-length counts were taken under (absent: no limit given). */
  limits: TruncationOptions;
  /** What collation would do under those limits (dropped / truncated / left without completion tokens). */
  overLength: CollateStats;
  /** Records that could not be rendered/tokenised (e.g. a chat template error), first messages kept. */
  renderErrors: number;
}

/** Nearest-rank percentile of sorted values. Example: percentile([1,2,3,4], 0.5) -> 2. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

export function summarizeLengths(values: number[]): LengthSummary {
  const s = Float64Array.from(values).sort();
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    count: s.length, min: s[0] ?? 0, p50: percentile(s, 0.5), p90: percentile(s, 0.9), p95: percentile(s, 0.95),
    p99: percentile(s, 0.99), max: s[s.length - 1] ?? 0, mean: s.length ? sum / s.length : 0,
  };
}

export async function inspectData(specs: string | string[], o: InspectOptions = {}): Promise<InspectReport> {
  const tok = o.tokenizer ?? new ByteTokenizer();
  const stats = newReadStats();
  const overLength = newCollateStats();
  const lp: number[] = [], lc: number[] = [], lr: number[] = [];
  let renderErrors = 0;
  for await (const r of readPreferences(specs, o, stats)) {
    let t;
    try {
      t = tokenizeRecord(r, tok);
    } catch (e) {
      // A rendering problem (chat template) is a record problem: counted like an invalid record.
      if (!o.skipInvalid) throw e;
      renderErrors++;
      if (stats.invalidExamples.length < (o.maxInvalidExamples ?? 5)) stats.invalidExamples.push((e as Error).message);
      continue;
    }
    lp.push(t.prompt.length);
    lc.push(t.chosen.length);
    lr.push(t.rejected.length);
    if (o.maxLength !== undefined || o.maxPromptLength !== undefined) preparePair(r, tok, o, overLength);
  }
  const limits: TruncationOptions = {};
  if (o.maxLength !== undefined) limits.maxLength = o.maxLength;
  if (o.maxPromptLength !== undefined) limits.maxPromptLength = o.maxPromptLength;
  if (o.maxLength !== undefined || o.maxPromptLength !== undefined) limits.truncation = o.truncation ?? 'keep_end';
  return {
    ...stats,
    inputs: Array.isArray(specs) ? specs : [specs],
    tokenizer: tok.kind,
    lengths: { prompt: summarizeLengths(lp), chosen: summarizeLengths(lc), rejected: summarizeLengths(lr) },
    limits,
    overLength,
    renderErrors,
  };
}

function lengthRow(name: string, s: LengthSummary): string {
  const cells = [s.min, s.p50, s.p90, s.p95, s.p99, s.max].map((x) => String(x).padStart(7)).join('');
  return `  ${name.padEnd(9)}${cells}${s.mean.toFixed(1).padStart(9)}`;
}

/** The report as text for a terminal. */
export function formatInspectReport(r: InspectReport): string {
  const lines: string[] = [];
  for (const f of r.files) {
    const how = f.formatFrom === 'forced' ? 'forced' : f.formatFrom ? `recognised from ${f.formatFrom}` : 'no valid record';
    lines.push(`${f.file}: format ${f.format ?? 'unknown'} (${how}), ${f.records} records, ${f.invalid} invalid`);
  }
  lines.push(`records: ${r.records}  invalid: ${r.invalid + r.renderErrors}`);
  for (const m of r.invalidExamples) lines.push(`  ${m}`);
  if (r.invalid + r.renderErrors > r.invalidExamples.length) lines.push(`  ... and ${r.invalid + r.renderErrors - r.invalidExamples.length} more`);
  const p = r.problems;
  lines.push('problems (kept, counted):');
  lines.push(`  chosen == rejected: ${p.identical}`);
  lines.push(`  empty chosen: ${p.emptyChosen}  empty rejected: ${p.emptyRejected}`);
  lines.push(`  duplicates (same prompt, chosen, rejected): ${p.duplicates}`);
  lines.push(`  no prompt found in implicit transcripts: ${p.noPromptFound}`);
  if (r.limits.truncation) {
    const lim = [r.limits.maxPromptLength !== undefined ? `max_prompt_length ${r.limits.maxPromptLength}` : '', r.limits.maxLength !== undefined ? `max_length ${r.limits.maxLength}` : ''].filter(Boolean).join(', ');
    const o = r.overLength;
    lines.push(`over the limits (${lim}, ${r.limits.truncation}): dropped ${o.dropped}, prompt truncated ${o.truncatedPrompt}, pair truncated ${o.truncatedTotal}, left without completion tokens ${o.noCompletionTokens}`);
  }
  lines.push(`token lengths (${r.tokenizer} tokenizer; prompt with BOS, completions with EOS):`);
  lines.push(`  ${''.padEnd(9)}${['min', 'p50', 'p90', 'p95', 'p99', 'max'].map((h) => h.padStart(7)).join('')}${'mean'.padStart(9)}`);
  lines.push(lengthRow('prompt', r.lengths.prompt), lengthRow('chosen', r.lengths.chosen), lengthRow('rejected', r.lengths.rejected));
  if (r.conversational) lines.push(`conversational records: ${r.conversational}`);
  if (r.pretokenized) lines.push(`pre-tokenised records: ${r.pretokenized}`);
  if (r.withMargin) lines.push(`records with a margin: ${r.withMargin}`);
  const subsets = Object.entries(r.subsets).sort((a, b) => b[1] - a[1]);
  if (subsets.length) lines.push(`subsets: ${subsets.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  return lines.join('\n');
}

/** The JSON object `data convert` writes per record: the normal form, ids under TRL's column names. */
export function toNormalJson(r: PreferenceRecord): Record<string, unknown> {
  const o: Record<string, unknown> = { prompt: r.prompt, chosen: r.chosen, rejected: r.rejected };
  if (r.margin !== undefined) o.margin = r.margin;
  if (r.subset !== undefined) o.subset = r.subset;
  o.id = r.id;
  o.source = r.source;
  if (r.chosenIds) {
    o.prompt_input_ids = r.promptIds ?? [];
    o.chosen_input_ids = r.chosenIds;
    o.rejected_input_ids = r.rejectedIds;
  }
  return o;
}

/**
 * Reads specs and writes the normal form to `out`: JSONL (gzipped when it ends in .gz), Parquet or Arrow
 * (write.ts: the columns datasets.load_dataset gives back), chosen by `o.to`, else by the file name. Written
 * via a temp file renamed at the end, so a failed conversion leaves no half-written output.
 */
export async function convertData(specs: string | string[], out: string, o: ReadOptions & { to?: OutputFormat } = {}): Promise<{ written: number; out: string; format: OutputFormat; stats: ReadStats }> {
  const format = outputFormat(out, o.to);
  const stats = newReadStats();
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.tmp-${process.pid}`);
  if (format !== 'jsonl') return { ...(await convertColumnar(specs, out, tmp, format, o, stats)), format, stats };
  const file = fs.createWriteStream(tmp);
  const sink: NodeJS.WritableStream = out.endsWith('.gz') ? zlib.createGzip() : file;
  if (sink !== file) (sink as zlib.Gzip).pipe(file);
  let written = 0;
  try {
    for await (const r of readPreferences(specs, o, stats)) {
      if (!sink.write(JSON.stringify(toNormalJson(r)) + '\n')) await once(sink, 'drain');
      written++;
    }
    sink.end();
    await once(file, 'close');
    fs.renameSync(tmp, out);
  } catch (e) {
    // Writes may still be queued (the fd opens asynchronously): swallow their errors, wait for the close.
    file.on('error', () => undefined);
    if (sink !== file) (sink as zlib.Gzip).destroy();
    if (!file.closed) await new Promise<void>((res) => file.once('close', () => res()).destroy());
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return { written, out, format, stats };
}

/** The Parquet / Arrow branch of convertData: records in batches of WRITE_BATCH into the temp file, then renamed. */
async function convertColumnar(specs: string | string[], out: string, tmp: string, format: 'parquet' | 'arrow', o: ReadOptions, stats: ReadStats): Promise<{ written: number; out: string }> {
  if (out.toLowerCase().endsWith('.gz')) throw new DataError(out, `${format} output is not gzipped (it compresses its columns itself); drop the .gz`, true);
  let written = 0;
  try {
    const sink = openColumnarSink(tmp, format, out);
    let batch: PreferenceRecord[] = [];
    try {
      for await (const r of readPreferences(specs, o, stats)) {
        batch.push(r);
        if (batch.length === WRITE_BATCH) {
          await sink.write(batch);
          written += batch.length;
          batch = [];
        }
      }
      await sink.write(batch);
      written += batch.length;
    } finally {
      await sink.close();
    }
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return { written, out };
}
