/**
 * A process's peak resident set size, read the same way on both sides of the benchmark (bench/trl_bench.py and
 * bench/trl_e2e.py read it alike in Python): the kernel's high-water mark VmHWM from /proc/self/status, else
 * getrusage's ru_maxrss (process.resourceUsage().maxRSS, in KiB on Linux) where /proc is absent.
 *
 * e.g. "VmHWM:\t  10240 kB" -> {mib: 10, source: '/proc/self/status VmHWM'}.
 *
 * Does: read. Does NOT: sample over time (the high-water mark already is the peak since the process started).
 */
import * as fs from 'fs';

export interface PeakRss {
  mib: number;
  source: string;
}

export const RSS_SOURCES = { hwm: '/proc/self/status VmHWM', rusage: 'getrusage ru_maxrss' } as const;

/** VmHWM in MiB from a /proc/<pid>/status text; null when the line is absent. */
export function vmHwmMib(status: string): number | null {
  const m = /^VmHWM:\s*(\d+)\s*kB/m.exec(status);
  return m ? +(Number(m[1]) / 1024).toFixed(1) : null;
}

export function peakRss(statusFile = '/proc/self/status'): PeakRss {
  try {
    const mib = vmHwmMib(fs.readFileSync(statusFile, 'utf8'));
    if (mib !== null) return { mib, source: RSS_SOURCES.hwm };
  } catch {
    // no /proc: fall back to getrusage
  }
  return { mib: +(process.resourceUsage().maxRSS / 1024).toFixed(1), source: RSS_SOURCES.rusage };
}
