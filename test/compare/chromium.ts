/**
 * Headless Chromium for the report test (Debian's `chromium` package; RLHF_CHROMIUM overrides the path).
 * Where no browser is found the suite is skipped with a printed reason instead of failing.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findChromium(): string | null {
  const env = process.env.RLHF_CHROMIUM;
  if (env) return fs.existsSync(env) ? env : null;
  return CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

export function describeWithChromium(name: string, fn: (chromium: string) => void): void {
  const chromium = findChromium();
  if (!chromium) {
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED "${name}": no headless Chromium found (tried ${CANDIDATES.join(', ')}). Install Debian's "chromium" package or set RLHF_CHROMIUM.`);
    describe.skip(name, () => fn(''));
  } else describe(name, () => fn(chromium));
}

export interface ChromiumRun {
  stdout: string;
  /** Console messages the page produced (Chromium logs them to stderr as `CONSOLE` lines). */
  console: string[];
  status: number | null;
}

/** Runs headless Chromium on a file with extra flags (e.g. --dump-dom or --screenshot=FILE). */
export function runChromium(chromium: string, file: string, flags: string[]): ChromiumRun {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-chromium-'));
  try {
    const r = spawnSync(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        // Console messages go to stderr; the report itself never logs, so any message is a failure.
        '--enable-logging=stderr',
        '--v=0',
        ...flags,
        `file://${path.resolve(file)}`,
      ],
      { encoding: 'utf8', timeout: 120000, maxBuffer: 1 << 28 },
    );
    if (r.error) throw r.error;
    const consoleLines = r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l));
    return { stdout: r.stdout, console: consoleLines, status: r.status };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** Width and height from a PNG's IHDR chunk (bytes 16..24). */
export function pngSize(file: string): { width: number; height: number } {
  const b = fs.readFileSync(file);
  if (b.subarray(1, 4).toString('latin1') !== 'PNG') throw new Error(`${file} is not a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}
