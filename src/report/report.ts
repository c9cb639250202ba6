/**
 * Writes the comparison's three outputs into a folder: comparison.json (the summary),
 * comparison.md (tables) and report.html (self-contained page with plots).
 * Does NOT score pairs or compute statistics: give it a summary from summarise().
 */
import * as fs from 'fs';
import * as path from 'path';
import { renderHtml, type HtmlOptions } from './html';
import { renderMarkdown } from './markdown';
import type { ComparisonSummary } from '../compare/summary';

export interface ReportPaths {
  json: string;
  markdown: string;
  html: string;
}

/** The numbers a script wants from a comparison, without the per-pair arrays (the CLI prints this object last). */
export function headline(s: ComparisonSummary, report: string): Record<string, unknown> {
  return {
    n_pairs: s.n_pairs,
    explicit: { accuracy: s.explicit.accuracy, accuracy_ci: s.explicit.accuracy_ci, ties: s.explicit.ties },
    implicit: { accuracy: s.implicit.accuracy, accuracy_ci: s.implicit.accuracy_ci, ties: s.implicit.ties },
    agreement: s.agreement,
    agreement_ci: s.agreement_ci,
    correlation: s.correlation,
    report,
  };
}

/** JSON with NaN written as null (JSON has no NaN) and a trailing newline. */
export function summaryJson(s: ComparisonSummary): string {
  return JSON.stringify(s, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

/** Writes each file through a temporary name and a rename, so a reader never sees half a file. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** The comparison's numbers, in the output folder (compare refuses to replace one without overwrite). */
export const COMPARISON_FILE = 'comparison.json';

/** Writes comparison.json, comparison.md and report.html into outDir (created if missing). */
export function writeReport(outDir: string, summary: ComparisonSummary, opts: HtmlOptions = {}): ReportPaths {
  fs.mkdirSync(outDir, { recursive: true });
  const paths = {
    json: path.join(outDir, COMPARISON_FILE),
    markdown: path.join(outDir, 'comparison.md'),
    html: path.join(outDir, 'report.html'),
  };
  writeAtomic(paths.json, summaryJson(summary));
  writeAtomic(paths.markdown, renderMarkdown(summary, opts.title));
  writeAtomic(paths.html, renderHtml(summary, opts));
  return paths;
}
