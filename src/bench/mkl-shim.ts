/**
 * MKL's vendor check, for a fair TRL side on AMD CPUs.
 *
 * torch's x86 wheels do float32 matrix products with Intel MKL, and MKL chooses its kernels by CPU vendor as well
 * as by instruction set: on an AMD CPU it takes a generic code path even where the CPU has AVX-512. On a 2-core AMD
 * EPYC with AVX-512 (2026-12-07), torch's 2048² product ran at 171 GFLOP/s stock and 401 with MKL on its Intel
 * path, against TensorFlow's (oneDNN, which chooses by instruction set only) ~300. A ratio to TRL measured there
 * partly measures MKL's vendor check, not the two toolkits.
 *
 * MKL asks one internal function, `mkl_serv_intel_cpu_true`, whether it runs on an Intel CPU; torch's library
 * exports it, so a shared library that defines it to return 1, preloaded (LD_PRELOAD) into the TRL process, makes
 * MKL choose by instruction set alone, as on Intel. `rlhf bench --torch-mkl-intel-path` (and `npm run bench:e2e --
 * --torch-mkl-intel-path`) build that library with the system C compiler and preload it on the TRL side only.
 * Off by default: stock torch is what a TRL user on such a machine runs; on, TRL runs at its best.
 *
 * Does: read the CPU vendor, build the shim, give the Python child's environment. Does NOT: change our side, or
 * decide whether to use it (the caller's option).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The whole shim: MKL's vendor query answered "Intel". */
export const MKL_SHIM_SOURCE = '/* rlhf bench: MKL takes its Intel code path (src/bench/mkl-shim.ts) */\nint mkl_serv_intel_cpu_true(void) { return 1; }\n';

export const MKL_SHIM_FILE = 'librlhf_mkl_intel_path.so';

export type CpuVendor = 'amd' | 'intel' | 'other';

/** The CPU vendor from /proc/cpuinfo's text: e.g. "vendor_id\t: AuthenticAMD" -> 'amd'; no such line -> 'other'. */
export function cpuVendor(cpuinfo: string): CpuVendor {
  const id = /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1];
  return id === 'AuthenticAMD' ? 'amd' : id === 'GenuineIntel' ? 'intel' : 'other';
}

/** This machine's CPU vendor ('other' where /proc/cpuinfo cannot be read). */
export function machineCpuVendor(file = '/proc/cpuinfo'): CpuVendor {
  try {
    return cpuVendor(fs.readFileSync(file, 'utf8'));
  } catch {
    return 'other';
  }
}

/**
 * Compiles the shim into `dir` with `compiler` (CC, else cc) and returns the library's path. Throws, naming the
 * compiler and its message, where it cannot be built: the caller asked for it, so a silent stock run would mislead.
 */
export function buildMklShim(dir: string, compiler = process.env.CC || 'cc'): string {
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(dir, 'rlhf_mkl_intel_path.c');
  const lib = path.join(dir, MKL_SHIM_FILE);
  fs.writeFileSync(src, MKL_SHIM_SOURCE);
  const r = spawnSync(compiler, ['-shared', '-fPIC', '-O2', '-o', lib, src], { encoding: 'utf8' });
  if (r.error || r.status !== 0 || !fs.existsSync(lib)) {
    const why = r.error ? r.error.message : `exit ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' | ')}`;
    throw new Error(`--torch-mkl-intel-path: could not build the MKL shim with ${compiler} (${why}); install a C compiler or set CC`);
  }
  return lib;
}

/**
 * Which code path TRL's MKL took, where that matters, for the bench and bench:e2e reports alike: with the shim,
 * its Intel path; stock torch with MKL on an AMD CPU, its generic path; null elsewhere (Intel, or no MKL).
 */
export function mklPathNote(shim: boolean | undefined, mkl: boolean, vendor: CpuVendor): string | null {
  if (shim) return 'MKL on its Intel code path (--torch-mkl-intel-path: its vendor check answered by a preloaded shim)';
  if (mkl && vendor === 'amd') return "MKL on an AMD CPU: its generic code path, as stock torch runs there (--torch-mkl-intel-path times TRL on MKL's Intel path)";
  return null;
}

/** `base` with `lib` preloaded ahead of any LD_PRELOAD it already has. */
export function withPreload(base: NodeJS.ProcessEnv, lib: string): NodeJS.ProcessEnv {
  return { ...base, LD_PRELOAD: base.LD_PRELOAD ? `${lib}:${base.LD_PRELOAD}` : lib };
}
