/**
 * Headless Chromium for the report test: RLHF_CHROMIUM names the binary, else the first of the usual names
 * found on PATH (Debian's `chromium`, `chromium-browser`, `google-chrome`, ...). The requirement `chromium`
 * (helpers/gates.ts) skips the suite with the reason where none is found, or fails it under
 * RLHF_REQUIRE_ORACLES=1.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Requirement } from '../helpers/gates';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

/** The first executable `name` in PATH, or null. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here: try the next folder
    }
  }
  return null;
}

/** RLHF_CHROMIUM when set (and it exists), else the first browser found on PATH; null when none. */
export function findChromium(): string | null {
  const env = process.env.RLHF_CHROMIUM;
  if (env) return fs.existsSync(env) ? env : null;
  for (const name of NAMES) {
    const found = onPath(name);
    if (found) return found;
  }
  return null;
}

export const chromium: Requirement = {
  name: 'headless Chromium',
  missing: () => {
    if (findChromium()) return null;
    const env = process.env.RLHF_CHROMIUM;
    return env ? `RLHF_CHROMIUM=${env} does not exist` : `none of ${NAMES.join(', ')} is on PATH`;
  },
  fix: 'install Debian\'s "chromium" package or set RLHF_CHROMIUM to the browser',
};

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

/**
 * Loads a copy of `html` (written to `dir` as report.check.html) with `capture` injected first in <head> and `check`
 * before </body>, the check script writing its findings as JSON into <pre id="__check">; --dump-dom carries them
 * out. Returns the run and the parsed findings (null when the page never wrote them).
 */
export function runPageCheck<T>(html: string, dir: string, capture: string, check: string): { run: ChromiumRun; check: T | null } {
  const probe = path.join(dir, 'report.check.html');
  fs.writeFileSync(probe, html.replace('<head>', `<head>${capture}`).replace('</body>', `${check}</body>`));
  const run = runChromium(findChromium()!, probe, ['--window-size=1200,900', '--virtual-time-budget=5000', '--dump-dom']);
  const m = run.stdout.match(/<pre id="__check">([\s\S]*?)<\/pre>/);
  const found = m ? (JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as T) : null;
  return { run, check: found };
}

/** Width and height from a PNG's IHDR chunk (bytes 16..24). */
export function pngSize(file: string): { width: number; height: number } {
  const b = fs.readFileSync(file);
  if (b.subarray(1, 4).toString('latin1') !== 'PNG') throw new Error(`${file} is not a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}
