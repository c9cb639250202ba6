/**
 * The CPU's theoretical float32 peak, so both sides' MFU can be read against the machine and not only against
 * each side's own measured matmul:
 *
 *   peak = cores × FMA units per core × float32 lanes per vector × 2 (an FMA is 2 FLOPs) × clock
 *
 *   - lanes from /proc/cpuinfo's flags: avx512f 16, avx / avx2 8, sse2 4; "fma" (or avx512f, which has its own
 *     FMA) doubles the FLOPs per lane; without it a multiply and an add issue separately (1 FLOP per lane per unit).
 *   - FMA units per core: 2, the usual count on server x86 (Intel Xeon Gold/Platinum since Skylake, AMD Zen):
 *     an ASSUMPTION, labelled as such in the report (some Xeon Silver / Bronze parts have one AVX-512 unit).
 *   - cores: the CPUs this process may use (usableCpus: affinity mask and cgroup quota), divided by the SMT threads
 *     per core when /proc/cpuinfo gives "siblings" and "cpu cores" (two hyperthreads share one core's units).
 *   - clock, first source found: /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq (the maximum, turbo
 *     included), the model name's "@ 2.10GHz" (the base clock), `lscpu`'s "CPU max MHz", /proc/cpuinfo's "cpu MHz"
 *     (the clock the kernel reports now; under a hypervisor usually the nominal one). The report names the source:
 *     a base or nominal clock under-states a CPU that turbos, and AVX-512 code often runs below it.
 *
 * e.g. 2 usable cores, flags "... fma ... avx2 ... avx512f ...", "cpu MHz : 2100.000" and nothing better:
 *   2 × 2 × 16 × 2 × 2.1 GHz = 268.8 GFLOP/s.
 *
 * Does: read and compute. Does NOT: measure anything (matmul.ts and bench/trl_bench.py measure the real peaks).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { usableCpus } from './build-info';

/** The assumed FMA units per core (see the header). */
export const ASSUMED_FMA_UNITS = 2;

export interface CpuPeak {
  /** Theoretical float32 GFLOP/s; null when the clock or the vector unit could not be read (see `reason`). */
  gflops: number | null;
  /** Cores counted (usable CPUs / SMT threads per core). */
  cores: number;
  /** Widest float32 vector unit the flags name: 'avx512f' | 'avx2' | 'avx' | 'sse2' (null: no flags found). */
  isa: string | null;
  lanes: number | null;
  fma: boolean;
  /** FMA (or multiply + add) units per core: ASSUMED_FMA_UNITS, an assumption. */
  fma_units: number;
  /** lanes × units × (2 with FMA, else 1). */
  flops_per_cycle: number | null;
  clock_ghz: number | null;
  /** Where the clock came from, e.g. 'sysfs cpuinfo_max_freq (maximum clock)'. */
  clock_source: string | null;
  /** Every assumption and fallback the figure rests on, in words. */
  assumptions: string[];
  /** Why gflops is null. */
  reason?: string;
}

export interface CpuFacts {
  /** /proc/cpuinfo's text (null: unreadable). */
  cpuinfo: string | null;
  /** /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq's text, in kHz (null: absent). */
  maxFreqKHz: string | null;
  /** `lscpu`'s output (null: not runnable). */
  lscpu: string | null;
  usableCpus: number;
}

/** The first value of `key` in /proc/cpuinfo's "key\t: value" lines. e.g. ('cpu MHz', text) -> '2100.000'. */
function cpuinfoField(text: string, key: string): string | null {
  const m = new RegExp(`^${key.replace(/ /g, '\\s')}\\s*:\\s*(.*)$`, 'm').exec(text);
  return m ? m[1].trim() : null;
}

/** Clock in GHz and its source, in the order of the header; null when none is readable. */
export function clockOf(f: CpuFacts): { ghz: number; source: string } | null {
  const khz = Number(f.maxFreqKHz?.trim());
  if (f.maxFreqKHz && khz > 0) return { ghz: khz / 1e6, source: 'sysfs cpu0/cpufreq/cpuinfo_max_freq (maximum clock)' };
  const model = f.cpuinfo ? cpuinfoField(f.cpuinfo, 'model name') : null;
  const at = model ? /@\s*([\d.]+)\s*GHz/i.exec(model) : null;
  if (at && Number(at[1]) > 0) return { ghz: Number(at[1]), source: `the model name "${model}" (base clock)` };
  const lmax = f.lscpu ? /^CPU max MHz:\s*([\d.]+)/m.exec(f.lscpu) : null;
  if (lmax && Number(lmax[1]) > 0) return { ghz: Number(lmax[1]) / 1000, source: 'lscpu "CPU max MHz" (maximum clock)' };
  const mhz = f.cpuinfo ? Number(cpuinfoField(f.cpuinfo, 'cpu MHz')) : NaN;
  if (mhz > 0) return { ghz: mhz / 1000, source: '/proc/cpuinfo "cpu MHz" (the clock reported now; under a hypervisor usually the nominal one, turbo not included)' };
  return null;
}

/** Widest vector unit and FMA from the flags line. e.g. 'fma avx2 avx512f' -> {isa: 'avx512f', lanes: 16, fma: true}. */
export function vectorUnitOf(cpuinfo: string | null): { isa: string; lanes: number; fma: boolean } | null {
  const flags = cpuinfo ? cpuinfoField(cpuinfo, 'flags') : null;
  if (!flags) return null;
  const has = new Set(flags.split(/\s+/));
  // AVX-512F has its own FMA instructions; AVX2-era parts flag FMA3 as "fma".
  if (has.has('avx512f')) return { isa: 'avx512f', lanes: 16, fma: true };
  if (has.has('avx2')) return { isa: 'avx2', lanes: 8, fma: has.has('fma') };
  if (has.has('avx')) return { isa: 'avx', lanes: 8, fma: has.has('fma') };
  if (has.has('sse2')) return { isa: 'sse2', lanes: 4, fma: false };
  return null;
}

/** SMT threads per core: siblings / cpu cores (1 when either is missing). e.g. siblings 4, cpu cores 2 -> 2. */
function threadsPerCore(cpuinfo: string | null): number {
  if (!cpuinfo) return 1;
  const siblings = Number(cpuinfoField(cpuinfo, 'siblings'));
  const cores = Number(cpuinfoField(cpuinfo, 'cpu cores'));
  return siblings > 0 && cores > 0 && siblings >= cores ? Math.round(siblings / cores) : 1;
}

/** The peak from the facts (pure: tests pass hand-made facts). */
export function cpuPeakFrom(f: CpuFacts): CpuPeak {
  const tpc = threadsPerCore(f.cpuinfo);
  const cores = Math.max(1, Math.floor(f.usableCpus / tpc));
  const assumptions = [`${ASSUMED_FMA_UNITS} FMA units per core (assumed: the usual count on server x86; not readable from the OS)`];
  if (tpc > 1) assumptions.push(`${f.usableCpus} usable CPUs counted as ${cores} cores (${tpc} SMT threads per core share its vector units)`);
  const unit = vectorUnitOf(f.cpuinfo);
  const clock = clockOf(f);
  const base: CpuPeak = {
    gflops: null, cores, isa: unit?.isa ?? null, lanes: unit?.lanes ?? null, fma: unit?.fma ?? false, fma_units: ASSUMED_FMA_UNITS,
    flops_per_cycle: unit ? unit.lanes * ASSUMED_FMA_UNITS * (unit.fma ? 2 : 1) : null,
    clock_ghz: clock ? +clock.ghz.toFixed(3) : null, clock_source: clock?.source ?? null, assumptions,
  };
  if (!unit) return { ...base, reason: 'no "flags" line in /proc/cpuinfo (not Linux x86?): the vector width is unknown' };
  if (!clock) return { ...base, reason: 'no clock found (no cpufreq cpuinfo_max_freq, no "@ x.xxGHz" in the model name, no lscpu "CPU max MHz", no "cpu MHz" in /proc/cpuinfo)' };
  if (!unit.fma) assumptions.push('no FMA: a multiply and an add per lane and cycle on separate units');
  return { ...base, gflops: +(cores * base.flops_per_cycle! * clock.ghz).toFixed(1) };
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** This machine's peak (reads /proc, /sys, and runs lscpu only when the first two give no clock). */
export function readCpuPeak(): CpuPeak {
  const facts: CpuFacts = {
    cpuinfo: readOrNull('/proc/cpuinfo'),
    maxFreqKHz: readOrNull('/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq'),
    lscpu: null,
    usableCpus: usableCpus(),
  };
  if (!facts.maxFreqKHz && !/@\s*[\d.]+\s*GHz/i.test(facts.cpuinfo ?? '')) {
    const r = spawnSync('lscpu', [], { encoding: 'utf8', timeout: 10000 });
    facts.lscpu = r.status === 0 ? r.stdout : null;
  }
  return cpuPeakFrom(facts);
}

/**
 * One line for the report. e.g. "CPU theoretical float32 peak: 268.8 GFLOP/s = 2 cores × 2 FMA units (assumed) ×
 * 16 lanes (avx512f) × 2 FLOP (FMA) × 2.1 GHz (clock from ...)".
 */
export function cpuPeakLine(p: CpuPeak): string {
  if (p.gflops === null) return `CPU theoretical float32 peak: not computed (${p.reason}).`;
  const extra = p.assumptions.slice(1);
  return `CPU theoretical float32 peak: ${p.gflops} GFLOP/s = ${p.cores} cores × ${p.fma_units} FMA units (assumed) × ${p.lanes} float32 lanes (${p.isa}) × ${p.fma ? '2 FLOP (FMA)' : '1 FLOP (no FMA)'} × ${p.clock_ghz} GHz (clock from ${p.clock_source})${extra.length ? `; ${extra.join('; ')}` : ''}.`;
}
