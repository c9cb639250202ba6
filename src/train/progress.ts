/**
 * Progress reporting for long runs, on stderr (stdout is reserved for results):
 * a single redrawn bar with ETA on a terminal, plain log lines otherwise (CI, files).
 * Does NOT decide what to log: the loop passes the line.
 */
export class Progress {
  private readonly start = Date.now();
  private readonly tty: boolean;
  private lastDraw = 0;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    enabled = true,
  ) {
    this.tty = enabled && Boolean(stream.isTTY);
  }

  /** Redraws the bar (terminal only), at most ~10 times a second. */
  tick(done: number, extra = ''): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < this.total) return;
    this.lastDraw = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = (now - this.start) / 1000;
    const eta = done > 0 ? (elapsed * (this.total - done)) / done : NaN;
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    this.stream.write(`\r${this.label} ${bar} ${done}/${this.total} | ${formatSeconds(elapsed)} < ${formatSeconds(eta)} ${extra}\x1b[K`);
  }

  /** Prints a full line (clearing the bar first on a terminal). */
  log(line: string): void {
    if (this.tty) this.stream.write('\r\x1b[K');
    this.stream.write(line + '\n');
  }

  finish(): void {
    if (this.tty) this.stream.write('\r\x1b[K');
  }
}

/** 75 -> "1:15", 3725 -> "1:02:05", NaN -> "?". */
function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
