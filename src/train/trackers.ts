/**
 * Where a training run's metric rows go: the recipe's `report_to`, with TRL / transformers' name for the field
 * and for its values. The loop calls `log(row)` at its log points (every training step, every eval) and
 * `close()` at the end; each target writes the same row:
 *   jsonl        <out>/metrics.jsonl, one JSON object per row (the default; compare's report reads it)
 *   tensorboard  event files under <out>/runs/<Mon DD_HH-MM-SS>_<host>/, the folder transformers' Trainer uses
 *                for its TensorBoard logs (output_dir/runs/...), with its tag names (trainerTag: `loss` ->
 *                `train/loss`, `eval_loss` -> `eval/loss`), one scalar per metric at the row's step, so
 *                `tensorboard --logdir <out>/runs` reads a run of ours as it reads a TRL run's output_dir
 *   none         nothing (alone only, as in transformers)
 * On resume both continue the interrupted run: metrics.jsonl loses the rows logged after the checkpoint, and the
 * newest runs/ folder gets a new event file that starts with a SessionLog START at the first new step, which
 * makes TensorBoard drop that folder's points from the interrupted steps past the checkpoint (an eval at the
 * checkpoint's own step is logged again by the resumed run with the same values, from the same weights).
 *
 * Does NOT: choose what is logged or when (the loop does), or print anything.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { METRICS_FILE } from '../io/checkpoint';
import { EventWriter, trainerTag } from '../io/tensorboard';

export const REPORT_TARGETS = ['jsonl', 'tensorboard', 'none'] as const;
export type ReportTarget = (typeof REPORT_TARGETS)[number];

/** Parent folder of the TensorBoard run folders, as transformers' default logging_dir (output_dir/runs/...). */
export const TENSORBOARD_DIR = 'runs';

/** One logged row: the optimiser step and metrics with TRL names (eval rows carry the eval_ prefix). */
export type MetricsRow = { step: number } & Record<string, number>;

export interface Tracker {
  log(row: MetricsRow): void;
  close(): void;
}

/** Runs a write to `file`, turning errno failures into the loop's RunFolderError (loop.ts's writeRunFile). */
export type FileGuard = <T>(file: string, write: () => T) => T;

export interface Trackers extends Tracker {
  /** The TensorBoard folder being written, when tensorboard is a target. */
  readonly tensorboardDir: string | null;
}

/** Checks `report_to` as transformers does: known names, and "none" only on its own. Example: "tensorboard" -> ["tensorboard"]. */
export function normalizeReportTo(reportTo: ReportTarget | ReportTarget[] | undefined): ReportTarget[] {
  const list = reportTo === undefined ? ['jsonl' as const] : Array.isArray(reportTo) ? reportTo : [reportTo];
  for (const t of list) {
    if (!(REPORT_TARGETS as readonly string[]).includes(t)) throw new Error(`report_to: "${t}" is not a target; expected ${REPORT_TARGETS.join(', ')} (or a list of them)`);
  }
  if (list.includes('none') && list.length > 1) throw new Error(`report_to: "none" cannot be combined with ${list.filter((t) => t !== 'none').join(', ')}; list the targets or give "none" alone`);
  return [...new Set(list)];
}

/**
 * Opens every target for a run folder. `resumeStep` is the checkpoint's step when resuming (null for a fresh
 * run, which starts a fresh metrics.jsonl and a fresh TensorBoard folder).
 */
export function openTrackers(outDir: string, reportTo: ReportTarget[], resumeStep: number | null, guard: FileGuard): Trackers {
  const targets = normalizeReportTo(reportTo);
  const parts: Tracker[] = [];
  let tensorboardDir: string | null = null;
  if (targets.includes('jsonl')) parts.push(jsonlTracker(path.join(outDir, METRICS_FILE), resumeStep, guard));
  if (targets.includes('tensorboard')) {
    const tb = tensorboardTracker(path.join(outDir, TENSORBOARD_DIR), resumeStep, guard);
    tensorboardDir = tb.dir;
    parts.push(tb);
  }
  return {
    tensorboardDir,
    log: (row) => parts.forEach((p) => p.log(row)),
    close: () => parts.forEach((p) => p.close()),
  };
}

function jsonlTracker(file: string, resumeStep: number | null, guard: FileGuard): Tracker {
  if (resumeStep !== null) truncateMetricsLog(file, resumeStep, guard);
  else if (fs.existsSync(file)) fs.unlinkSync(file);
  return {
    log: (row) => guard(file, () => fs.appendFileSync(file, JSON.stringify(row) + '\n')),
    close: () => undefined,
  };
}

/**
 * On resume, drop the rows logged after the checkpoint was written, so the log reads as one uninterrupted run:
 * training rows past its step, and eval rows at its step or later (the eval at step N runs after checkpoint N
 * is saved, and the resumed run repeats it).
 */
function truncateMetricsLog(file: string, step: number, guard: FileGuard): void {
  if (!fs.existsSync(file)) return;
  const kept = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        const row = JSON.parse(line) as Record<string, number>;
        const at = row.step ?? 0;
        return at < step || (at === step && !Object.keys(row).some((k) => k.startsWith('eval_')));
      } catch {
        return false; // a half-written last line from a kill
      }
    });
  guard(file, () => fs.writeFileSync(file, kept.map((l) => l + '\n').join('')));
}

/** transformers' default_logdir name: "Dec06_14-03-59_host" (local time, as datetime.now() there). */
export function runFolderName(now = new Date(), host = os.hostname()): string {
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][now.getMonth()];
  const two = (n: number) => String(n).padStart(2, '0');
  return `${mon}${two(now.getDate())}_${two(now.getHours())}-${two(now.getMinutes())}-${two(now.getSeconds())}_${host.replace(/[^A-Za-z0-9._-]/g, '_') || 'localhost'}`;
}

/** The newest run folder under `parent` (by modification time), or null. */
function newestRunFolder(parent: string): string | null {
  if (!fs.existsSync(parent)) return null;
  const dirs = fs
    .readdirSync(parent)
    .map((n) => path.join(parent, n))
    .filter((p) => fs.statSync(p).isDirectory())
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return dirs[0] ?? null;
}

function tensorboardTracker(parent: string, resumeStep: number | null, guard: FileGuard): Tracker & { dir: string } {
  let dir: string;
  if (resumeStep !== null) {
    dir = newestRunFolder(parent) ?? path.join(parent, runFolderName());
  } else {
    // A fresh run never mixes with an earlier one's events (a run folder is only reused with --overwrite).
    if (fs.existsSync(parent)) fs.rmSync(parent, { recursive: true, force: true });
    dir = path.join(parent, runFolderName());
  }
  const writer = guard(dir, () => new EventWriter(dir));
  if (resumeStep !== null) guard(writer.file, () => writer.sessionStart(resumeStep + 1).flush());
  return {
    dir,
    log: ({ step, ...metrics }) => {
      const values: Record<string, number> = {};
      for (const [k, v] of Object.entries(metrics)) values[trainerTag(k)] = v;
      guard(writer.file, () => writer.scalars(values, step).flush());
    },
    close: () => guard(writer.file, () => writer.close()),
  };
}
