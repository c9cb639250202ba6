/**
 * The live progress line of long jobs (training, reference log-probs, scoring, reading big files, bench), on
 * stderr (stdout is reserved for results). On a terminal: one line redrawn in place by cli-progress, e.g.
 *   dpo ████████░░░░░░░░░░░░ 120/450 steps | 2.1 steps/s | ETA 2m37s | loss 0.5231 | rewards/accuracies 0.7100
 * with the job's own log lines (log()) printed above it. Anywhere else (CI logs, pipes, files) nothing is drawn
 * and log() writes its line as it is, so piped output is exactly the plain lines of a run without a bar.
 * `enabled: false` (--quiet) silences both.
 *
 * Does NOT: decide what to log or how often (the caller passes lines and metrics), or install signal handlers
 * (cli-progress's gracefulExit stays off: the trainers handle SIGINT/SIGTERM themselves).
 */
import { MultiBar, type SingleBar } from 'cli-progress';

export interface ProgressOptions {
  /** @default process.stderr */
  stream?: NodeJS.WriteStream;
  /** false: no bar and no lines (--quiet). @default true */
  enabled?: boolean;
  /** What is counted, shown after the counts and in the rate: "steps", "pairs", "MB". @default "steps" */
  unit?: string;
  /**
   * Count already done when this process starts (a resumed run). Without it the rate and ETA are measured from
   * the first tick (so a slow first step, graph set-up or a resumed run's earlier steps do not skew them).
   */
  start?: number;
}

/** A metric for the line, as the log lines print it: "loss 0.5231", "accuracy 1.0000", "tok/s 812". */
export function formatMetric(name: string, v: number): string {
  return `${name} ${Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(4)}`;
}

/** 157 -> "2m37s", 3725 -> "1h02m", 8 -> "8s"; not finite -> "?". */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const t = Math.round(seconds);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

export class Progress {
  private readonly multi: MultiBar | null;
  private bar: SingleBar | null = null;
  private done = false;
  /** Where rate and ETA are measured from: a count and the time it was reached (null until the first tick). */
  private base: { count: number; at: number } | null;
  private readonly unit: string;
  private readonly enabled: boolean;
  private readonly stream: NodeJS.WriteStream;

  /** `total` units of work; `label` opens the line ("reward", "reference log-probs"). */
  constructor(private readonly total: number, private readonly label: string, o: ProgressOptions = {}) {
    this.stream = o.stream ?? process.stderr;
    this.enabled = o.enabled ?? true;
    this.unit = o.unit ?? 'steps';
    this.base = o.start === undefined ? null : { count: o.start, at: Date.now() };
    const live = this.enabled && Boolean(this.stream.isTTY) && total > 0;
    this.multi = live
      ? new MultiBar({
          stream: this.stream,
          format: `{label} {bar} {value}/{total} {unit} | {rate} | ETA {remaining} | {metrics}`,
          barCompleteChar: '\u2588',
          barIncompleteChar: '\u2591',
          barsize: 24,
          hideCursor: false, // a killed run must not leave the terminal without a cursor
          clearOnComplete: true,
          gracefulExit: false,
          autopadding: true,
          linewrap: false,
        })
      : null;
  }

  /** Whether a live line is drawn (a terminal, not --quiet). */
  get live(): boolean {
    return this.multi !== null;
  }

  /** Moves the line to `done` units; `metrics` are shown after the ETA (terminal only). */
  tick(done: number, metrics: Record<string, number> | string = ''): void {
    if (!this.multi || this.done) return;
    const r = this.perSecond(done);
    const eta = r === null ? NaN : (this.total - done) / r;
    const payload = { label: this.label, unit: this.unit, rate: this.rate(r), remaining: formatEta(eta), metrics: this.metricsText(metrics) };
    if (!this.bar) this.bar = this.multi.create(this.total, Math.min(done, this.total), payload);
    else this.bar.update(Math.min(done, this.total), payload);
  }

  /** Prints a full line: above the live line on a terminal, as it is elsewhere; nothing when disabled. */
  log(line: string): void {
    if (!this.enabled) return;
    if (this.multi && this.bar && !this.done) this.multi.log(line + '\n');
    else this.stream.write(line + '\n');
  }

  /** Prints pending log lines and removes the live line; later ticks draw nothing. Safe to call twice. */
  finish(): void {
    if (this.multi && this.bar && !this.done) {
      this.multi.update(); // flushes the log lines still buffered (stop() alone drops them)
      this.multi.stop();
    }
    this.done = true;
  }

  /** Units per second since the baseline; null before there is one to measure. */
  private perSecond(done: number): number | null {
    if (!this.base) {
      this.base = { count: done, at: Date.now() };
      return null;
    }
    const seconds = (Date.now() - this.base.at) / 1000;
    return done > this.base.count && seconds > 0 ? (done - this.base.count) / seconds : null;
  }

  private rate(r: number | null): string {
    if (r === null) return `? ${this.unit}/s`;
    return r >= 1 ? `${r.toFixed(r >= 100 ? 0 : 1)} ${this.unit}/s` : `${(1 / r).toFixed(1)} s/${this.unit.replace(/s$/, '')}`;
  }

  private metricsText(m: Record<string, number> | string): string {
    if (typeof m === 'string') return m;
    return Object.entries(m)
      .filter(([, v]) => Number.isFinite(v))
      .map(([k, v]) => formatMetric(k, v))
      .join(' | ');
  }
}

/** Files smaller than this read in well under a second: no live line for them. */
export const BIG_FILE_BYTES = 32 * 1024 * 1024;

/**
 * A live line for reading data files, fed by the data readers' onProgress(bytesRead, totalBytes); drawn only
 * when the files add up to at least `minBytes` (and only on a terminal, as every Progress). Call finish() after.
 * Example: const p = byteProgress('reading data', { enabled: !quiet }); await loadPreferences(f, { onProgress: p.onProgress }); p.finish();
 */
export function byteProgress(label: string, o: { enabled?: boolean; stream?: NodeJS.WriteStream; minBytes?: number } = {}) {
  let bar: Progress | null = null;
  const mb = (b: number) => Math.round(b / (1024 * 1024));
  return {
    onProgress: (done: number, total: number): void => {
      if (total < (o.minBytes ?? BIG_FILE_BYTES) || o.enabled === false) return;
      bar ??= new Progress(mb(total), label, { stream: o.stream, enabled: o.enabled, unit: 'MB' });
      bar.tick(mb(done));
    },
    finish: (): void => bar?.finish(),
  };
}
