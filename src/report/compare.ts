/**
 * compareRewards: the whole comparison as one library call — compare/pipeline.ts runComparison scores the
 * held-out pairs and probes with both rewards and summarises them; this writes comparison.json, comparison.md
 * and report.html from that (./report.ts).
 *
 * Does NOT: score or compute statistics (compare/), parse command lines (cli/).
 */
import * as path from 'path';
import { runComparison, type ComparisonOptions } from '../compare/pipeline';
import type { ComparisonSummary } from '../compare/summary';
import { writeReport, type ReportPaths } from './report';

export interface CompareOptions extends ComparisonOptions {
  /** Folder for comparison.json, comparison.md and report.html (created). */
  out: string;
  /** The report's title. @default "Explicit vs implicit reward" */
  title?: string;
}

export interface CompareResult {
  summary: ComparisonSummary;
  paths: ReportPaths;
}

export async function compareRewards(o: CompareOptions): Promise<CompareResult> {
  const run = await runComparison(o);
  const paths = writeReport(path.resolve(o.out), run.summary, { title: o.title, subtitle: run.subtitle, metricsLogs: run.metricsLogs });
  return { summary: run.summary, paths };
}
