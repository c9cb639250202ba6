/**
 * Reads a training metrics log: JSONL, one object per logged step, TRL metric names
 * (loss, eval_loss, rewards/accuracies, accuracy, ...). Does NOT interpret the metrics.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ComparisonInputError, type MetricsLog } from './types';

/**
 * Parses a metrics log; blank lines are skipped, a line that is not a JSON object is an error naming
 * file:line. The run name defaults to the log's folder name (e.g. checkpoints/dpo/metrics.jsonl -> "dpo").
 */
export function readMetricsLog(file: string, name?: string): MetricsLog {
  const text = fs.readFileSync(file, 'utf8');
  const rows: Array<Record<string, unknown>> = [];
  text.split('\n').forEach((line, k) => {
    if (!line.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new ComparisonInputError(`${file}:${k + 1}: not valid JSON (${(e as Error).message}); expected one metrics object per line, e.g. {"step": 10, "loss": 0.69}`);
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row))
      throw new ComparisonInputError(`${file}:${k + 1}: expected a JSON object of metrics, found ${Array.isArray(row) ? 'an array' : typeof row}`);
    rows.push(row as Record<string, unknown>);
  });
  return { name: name ?? path.basename(path.dirname(path.resolve(file))), rows };
}
