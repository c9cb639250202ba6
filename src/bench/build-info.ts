/**
 * What each side of the benchmark ran on, so a reader can tell a faster BLAS from a faster step:
 *   - usableCpus(): the CPUs this process may use, counted as native/rlhf_ops.cc sizes its kernels' pool and as
 *     bench/cpus.py sizes torch's (affinity mask, capped by the cgroup CPU quota rounded up);
 *   - tfThreads(): TensorFlow's intra-op pool (TF_NUM_INTRAOP_THREADS, else the affinity CPUs: TF's default,
 *     which ignores a cgroup quota) and its inter-op pool (counted: its threads are named tf_Compute);
 *   - oneDnnFromLog(): whether TensorFlow runs its oneDNN kernels, read from its own start-up log (the C API
 *     has no call for it; the worker runs with TF_CPP_MIN_LOG_LEVEL=0 so the INFO line is printed);
 *   - torchBuild(): a one-line summary of torch.__config__.show() and parallel_info().
 *
 * e.g. oneDnnFromLog('I0000 ... port.cc:153] oneDNN custom operations are on. ...') -> {onednn: 'on', ...};
 *      torchBuild(show, parallel).summary -> 'BLAS mkl (MKL 2024.2), oneDNN 3.12.0, CPU capability AVX512, ATen OpenMP'.
 *
 * Does: count and parse. Does NOT: set any thread count or time anything.
 */
import * as fs from 'fs';
import * as os from 'os';

export const CGROUP_FILES = { max: '/sys/fs/cgroup/cpu.max', quota: '/sys/fs/cgroup/cpu/cpu.cfs_quota_us', period: '/sys/fs/cgroup/cpu/cpu.cfs_period_us' };

function readWords(file: string): string[] | null {
  try {
    return fs.readFileSync(file, 'utf8').trim().split(/\s+/);
  } catch {
    return null;
  }
}

/** CPUs the cgroup quota allows, rounded up; 0 when there is none. e.g. cpu.max "150000 100000" -> 2. */
export function quotaCpus(files = CGROUP_FILES): number {
  let quota = -1;
  let period = 0;
  const v2 = readWords(files.max);
  if (v2) {
    // cgroup v2: "max 100000" (no quota) or "200000 100000"
    if (v2.length === 2 && v2[0] !== 'max') [quota, period] = [Number(v2[0]), Number(v2[1])];
  } else {
    // cgroup v1: a quota of -1 means none
    const q = readWords(files.quota);
    const p = readWords(files.period);
    if (q && p) [quota, period] = [Number(q[0]), Number(p[0])];
  }
  if (!(quota > 0) || !(period > 0)) return 0;
  return Math.ceil(quota / period);
}

/** CPUs in this process's affinity mask (Linux: /proc/self/status Cpus_allowed_list "0-3,8" -> 5). */
export function affinityCpus(statusFile = '/proc/self/status'): number {
  let text: string;
  try {
    text = fs.readFileSync(statusFile, 'utf8');
  } catch {
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(text)?.[1];
  if (!list) return os.availableParallelism?.() ?? os.cpus().length;
  return list.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
}

/** min(affinity, cgroup quota), at least 1: the count our kernels' pool and torch's pools are sized by. */
export function usableCpus(): number {
  const n = affinityCpus();
  const q = quotaCpus();
  return Math.max(1, q > 0 ? Math.min(n, q) : n);
}

/** Threads of this process whose name (/proc/self/task/N/comm) is `name`; null where /proc is absent. */
export function countThreads(name: string): number | null {
  let tasks: string[];
  try {
    tasks = fs.readdirSync('/proc/self/task');
  } catch {
    return null;
  }
  let n = 0;
  for (const t of tasks) {
    try {
      if (fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === name) n++;
    } catch {
      // the thread ended while we looked
    }
  }
  return n;
}

export interface TfThreads {
  intra_op: number;
  /** 'TF_NUM_INTRAOP_THREADS' or 'affinity mask, TensorFlow default'. */
  intra_op_from: string;
  /** Counted threads named tf_Compute (TensorFlow's inter-op pool); null without /proc. */
  inter_op: number | null;
}

/**
 * TensorFlow's pools in this process. Intra-op: TensorFlow reads TF_NUM_INTRAOP_THREADS, else takes the affinity
 * CPUs (checked here: under `taskset -c 0` its unnamed pool threads drop by one and tf_Compute has 1 thread).
 */
export function tfThreads(env: NodeJS.ProcessEnv = process.env): TfThreads {
  const raw = Number(env.TF_NUM_INTRAOP_THREADS);
  const set = Number.isInteger(raw) && raw > 0;
  return { intra_op: set ? raw : affinityCpus(), intra_op_from: set ? 'TF_NUM_INTRAOP_THREADS' : 'affinity mask, TensorFlow default', inter_op: countThreads('tf_Compute') };
}

export type OneDnn = 'on' | 'off' | 'unknown';

/**
 * oneDNN state from a TensorFlow process's stderr at TF_CPP_MIN_LOG_LEVEL=0. TensorFlow logs "oneDNN custom
 * operations are on" once when it turns them on and nothing when it does not; so "off" needs proof that INFO
 * lines were printed at all (any "I0000 ..." line), else the answer is "unknown".
 */
export function oneDnnFromLog(stderr: string): { onednn: OneDnn; evidence: string } {
  if (/oneDNN custom operations are on/.test(stderr)) return { onednn: 'on', evidence: 'TensorFlow start-up log: "oneDNN custom operations are on"' };
  if (/^I\d{4} /m.test(stderr)) return { onednn: 'off', evidence: 'TensorFlow logged INFO lines but not "oneDNN custom operations are on"' };
  return { onednn: 'unknown', evidence: 'no TensorFlow INFO lines in the worker log (TF_CPP_MIN_LOG_LEVEL=0 was not honoured?)' };
}

export interface TorchBuild {
  /** BLAS_INFO (mkl, open, ...) and MKL's version where torch names it. */
  blas: string | null;
  onednn: string | null;
  cpu_capability: string | null;
  parallel_backend: string | null;
  summary: string;
}

/** The fields a reader compares, from torch.__config__.show() and torch.__config__.parallel_info(). */
export function torchBuild(show: string, parallel: string): TorchBuild {
  const m = (re: RegExp, s: string) => re.exec(s)?.[1] ?? null;
  const blasInfo = m(/BLAS_INFO=([^,\s]+)/, show);
  const mkl = m(/Math Kernel Library Version (\d[\d.]*)/, show);
  const blas = blasInfo ? `${blasInfo}${mkl ? ` (MKL ${mkl})` : ''}` : null;
  const onednn = m(/MKL-DNN v([\d.]+)/, show) ?? (/USE_MKLDNN=ON/.test(show) ? 'on (version not shown)' : null);
  const cpu = m(/CPU capability usage: (\S+)/, show);
  const par = m(/ATen parallel backend: (.+?)\s*$/m, parallel);
  const parts = [blas && `BLAS ${blas}`, onednn ? `oneDNN ${onednn}` : 'no oneDNN', cpu && `CPU capability ${cpu}`, par && `ATen ${par}`];
  return { blas, onednn, cpu_capability: cpu, parallel_backend: par, summary: parts.filter(Boolean).join(', ') };
}
