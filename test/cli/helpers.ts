/** Runs the CLI in-process (the same main() bin/rlhf.js calls) and captures stdout, stderr and the exit code. */
import { main } from '../../src/cli/main';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON (training commands print their summary there). */
  json: () => Record<string, unknown>;
}

export async function rlhf(...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const so = process.stdout.write.bind(process.stdout);
  const se = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  process.exitCode = undefined;
  let code: number;
  try {
    code = await main(args);
  } finally {
    process.stdout.write = so;
    process.stderr.write = se;
    process.exitCode = undefined;
  }
  return {
    code,
    stdout,
    stderr,
    json: () => JSON.parse(stdout.trim().split('\n').pop() ?? 'null'),
  };
}
