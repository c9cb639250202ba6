/** Runs the CLI in-process (the same main() bin/rlhf.js calls) and captures stdout, stderr and the exit code. */
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import { main } from '../../src/cli/main';
import { buildForChildren, childEnv } from '../reliability/helpers/build';

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

/**
 * Runs the CLI in a child process (main() over the transpiled copy of the sources that the reliability tests
 * build, no `npm run build` needed), for tests where the environment or the process itself matters:
 * RLHF_BACKEND, two runs at once, signals. `env` is added to this process's environment; a value of
 * undefined removes that variable. Never rejects.
 */
export interface ChildCli extends CliResult {
  signal: NodeJS.Signals | null;
  pid: number;
}

export function rlhfChild(args: string[], o: { env?: Record<string, string | undefined>; cwd?: string; onSpawn?: (child: ChildProcess) => void } = {}): Promise<ChildCli> {
  const script = path.join(buildForChildren(), 'test/reliability/helpers/cli-child.js');
  const env = childEnv();
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    o.onSpawn?.(child);
    child.on('close', (code, signal) => resolve({
      code: code ?? -1, signal, pid: child.pid ?? -1, stdout, stderr,
      json: () => JSON.parse(stdout.trim().split('\n').pop() ?? 'null'),
    }));
  });
}
