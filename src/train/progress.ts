/**
 * The training loop's progress line: util/progress.ts's live line (cli-progress, terminal only) under the name
 * and constructor the loop has always used. Plain log lines elsewhere are unchanged.
 * Does NOT decide what to log: the loop passes the line and the metrics.
 */
import { Progress as LiveProgress } from '../util/progress';

export { formatEta, formatMetric } from '../util/progress';

export class Progress extends LiveProgress {
  constructor(total: number, label: string, stream: NodeJS.WriteStream = process.stderr, enabled = true) {
    super(total, label, { stream, enabled, unit: 'steps' });
  }
}
