/**
 * The CPU's theoretical float32 peak (src/bench/cpu-peak.ts) from hand-made /proc/cpuinfo, sysfs and lscpu texts:
 * each clock source in its order, each vector unit, SMT, and the reasons when nothing can be read. The figures
 * are worked by hand in each case's comment.
 */
import { clockOf, cpuPeakFrom, cpuPeakLine, readCpuPeak, vectorUnitOf, type CpuFacts } from '../../src/bench/cpu-peak';

const cpuinfo = (o: { model?: string; mhz?: string; flags?: string; siblings?: number; cores?: number }) => [
  'processor\t: 0',
  `model name\t: ${o.model ?? 'Intel(R) Xeon(R) Processor'}`,
  ...(o.mhz ? [`cpu MHz\t\t: ${o.mhz}`] : []),
  ...(o.siblings ? [`siblings\t: ${o.siblings}`] : []),
  ...(o.cores ? [`cpu cores\t: ${o.cores}`] : []),
  ...(o.flags ? [`flags\t\t: ${o.flags}`] : []),
  '',
].join('\n');

const AVX512 = 'fpu sse sse2 ssse3 fma avx avx2 avx512f avx512dq';
const facts = (o: Partial<CpuFacts>): CpuFacts => ({ cpuinfo: null, maxFreqKHz: null, lscpu: null, usableCpus: 2, ...o });

describe('CPU theoretical peak', () => {
  test('clock sources in order: sysfs max, model name "@ GHz", lscpu max, cpuinfo "cpu MHz"', () => {
    const all = facts({
      cpuinfo: cpuinfo({ model: 'Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz', mhz: '2100.000', flags: AVX512 }),
      maxFreqKHz: '3700000\n', lscpu: 'CPU max MHz:                     3500.0000\n',
    });
    expect(clockOf(all)).toEqual({ ghz: 3.7, source: 'sysfs cpu0/cpufreq/cpuinfo_max_freq (maximum clock)' });
    expect(clockOf({ ...all, maxFreqKHz: null })).toEqual({ ghz: 2.4, source: 'the model name "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz" (base clock)' });
    const noAt = { ...all, maxFreqKHz: null, cpuinfo: cpuinfo({ mhz: '2100.000', flags: AVX512 }) };
    expect(clockOf(noAt)).toEqual({ ghz: 3.5, source: 'lscpu "CPU max MHz" (maximum clock)' });
    expect(clockOf({ ...noAt, lscpu: 'Architecture: x86_64\n' })!.ghz).toBe(2.1);
    expect(clockOf({ ...noAt, lscpu: null })!.source).toMatch(/^\/proc\/cpuinfo "cpu MHz"/);
    expect(clockOf(facts({ cpuinfo: cpuinfo({ flags: AVX512 }) }))).toBeNull();
  });

  test('vector units from the flags', () => {
    expect(vectorUnitOf(cpuinfo({ flags: AVX512 }))).toEqual({ isa: 'avx512f', lanes: 16, fma: true });
    expect(vectorUnitOf(cpuinfo({ flags: 'sse2 avx avx2 fma' }))).toEqual({ isa: 'avx2', lanes: 8, fma: true });
    expect(vectorUnitOf(cpuinfo({ flags: 'sse2 avx' }))).toEqual({ isa: 'avx', lanes: 8, fma: false });
    expect(vectorUnitOf(cpuinfo({ flags: 'fpu sse sse2' }))).toEqual({ isa: 'sse2', lanes: 4, fma: false });
    // "avx512fp16" alone must not read as avx512f
    expect(vectorUnitOf(cpuinfo({ flags: 'sse2 avx512fp16' }))!.isa).toBe('sse2');
    expect(vectorUnitOf(cpuinfo({}))).toBeNull();
  });

  test('worked figures', () => {
    // This development machine's case: 2 cores, AVX-512, "cpu MHz 2100": 2 × 2 × 16 × 2 × 2.1 = 268.8
    const here = cpuPeakFrom(facts({ cpuinfo: cpuinfo({ mhz: '2100.000', flags: AVX512, siblings: 2, cores: 2 }) }));
    expect(here).toMatchObject({ gflops: 268.8, cores: 2, isa: 'avx512f', lanes: 16, fma: true, fma_units: 2, flops_per_cycle: 64, clock_ghz: 2.1 });
    expect(here.assumptions).toEqual(['2 FMA units per core (assumed: the usual count on server x86; not readable from the OS)']);
    // AVX2 + FMA, 4 usable CPUs that are 2 cores with 2 hyperthreads each, 3.0 GHz max: 2 × 2 × 8 × 2 × 3.0 = 192
    const smt = cpuPeakFrom(facts({ cpuinfo: cpuinfo({ flags: 'sse2 avx avx2 fma', siblings: 8, cores: 4 }), maxFreqKHz: '3000000', usableCpus: 4 }));
    expect([smt.gflops, smt.cores]).toEqual([192, 2]);
    expect(smt.assumptions[1]).toBe('4 usable CPUs counted as 2 cores (2 SMT threads per core share its vector units)');
    // AVX without FMA: 1 core × 2 units × 8 lanes × 1 × 2.5 GHz = 40
    const old = cpuPeakFrom(facts({ cpuinfo: cpuinfo({ model: 'Intel(R) Xeon(R) CPU E5-2670 0 @ 2.50GHz', flags: 'sse2 avx' }), usableCpus: 1 }));
    expect(old.gflops).toBe(40);
    expect(old.assumptions).toContain('no FMA: a multiply and an add per lane and cycle on separate units');
    expect(cpuPeakLine(here)).toBe('CPU theoretical float32 peak: 268.8 GFLOP/s = 2 cores × 2 FMA units (assumed) × 16 float32 lanes (avx512f) × 2 FLOP (FMA) × 2.1 GHz (clock from /proc/cpuinfo "cpu MHz" (the clock reported now; under a hypervisor usually the nominal one, turbo not included)).');
  });

  test('what cannot be read is said, not guessed', () => {
    const noClock = cpuPeakFrom(facts({ cpuinfo: cpuinfo({ flags: AVX512 }) }));
    expect(noClock.gflops).toBeNull();
    expect(noClock.reason).toMatch(/^no clock found/);
    const noFlags = cpuPeakFrom(facts({ cpuinfo: null, maxFreqKHz: '3000000' }));
    expect(noFlags.gflops).toBeNull();
    expect(noFlags.reason).toMatch(/no "flags" line/);
    expect(cpuPeakLine(noFlags)).toMatch(/^CPU theoretical float32 peak: not computed \(no "flags" line/);
  });

  test('this machine: a figure with its source, or the reason there is none', () => {
    const p = readCpuPeak();
    if (p.gflops === null) expect(p.reason).toMatch(/\w/);
    else expect([p.gflops > 0, p.clock_source !== null, p.cores >= 1]).toEqual([true, true, true]);
  });
});
