/**
 * What each side of the benchmark ran on (src/bench/build-info.ts, bench/cpus.py): the usable-CPU count is
 * the same from TypeScript, from Python and from the native kernels' pool, on cgroup files written here and
 * under a narrowed affinity mask; TensorFlow's oneDNN line and torch's build text are read as printed.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { affinityCpus, oneDnnFromLog, quotaCpus, torchBuild, usableCpus, type TfThreads } from '../../src/bench/build-info';
import { NATIVE_OPS_ADDON } from '../../src/backend/native-ops';
import { allOf, describeIf, testIf } from '../helpers/gates';
import { cpus, executable, nativeOps } from '../helpers/native';
import { pythonWith, PYTHON } from '../helpers/python';

const ROOT = path.resolve(__dirname, '..', '..');
const BENCH = path.join(ROOT, 'bench');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cpus-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** cgroup files with the given contents (null: the file is absent), in a fresh folder. */
function cgroup(name: string, files: { max?: string; quota?: string; period?: string }) {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  const f = { max: path.join(d, 'cpu.max'), quota: path.join(d, 'cfs_quota_us'), period: path.join(d, 'cfs_period_us') };
  for (const k of ['max', 'quota', 'period'] as const) if (files[k] !== undefined) fs.writeFileSync(f[k], files[k] + '\n');
  return f;
}

// Each case: its files and the CPUs the quota allows, worked by hand (0 = no quota).
const CASES: [string, { max?: string; quota?: string; period?: string }, number][] = [
  ['v2-none', { max: 'max 100000' }, 0],
  ['v2-1.5', { max: '150000 100000' }, 2],
  ['v2-2', { max: '200000 100000' }, 2],
  ['v2-0.3', { max: '30000 100000' }, 1],
  ['v1-none', { quota: '-1', period: '100000' }, 0],
  ['v1-2.5', { quota: '250000', period: '100000' }, 3],
  ['absent', {}, 0],
];

describe('usable CPUs', () => {
  test('quotaCpus reads cgroup v2 cpu.max, else v1 quota / period, rounding up', () => {
    for (const [name, files, want] of CASES) expect([name, quotaCpus(cgroup(`ts-${name}`, files))]).toEqual([name, want]);
  });

  test('affinityCpus counts Cpus_allowed_list ranges', () => {
    const status = path.join(dir, 'status');
    fs.writeFileSync(status, 'Name:\tnode\nCpus_allowed:\t10f\nCpus_allowed_list:\t0-3,8\nMems_allowed_list:\t0\n');
    expect(affinityCpus(status)).toBe(5);
    fs.writeFileSync(status, 'Cpus_allowed_list:\t1\n');
    expect(affinityCpus(status)).toBe(1);
    // This process: the same count libuv takes from sched_getaffinity.
    expect(affinityCpus()).toBe(os.availableParallelism());
  });

  describeIf(pythonWith([]), 'bench/cpus.py (the TRL side) counts alike', () => {
    const py = (code: string, prefix: string[] = []) => {
      const cmd = [...prefix, PYTHON, '-c', `import sys, json; sys.path.insert(0, ${JSON.stringify(BENCH)}); import cpus; ${code}`];
      const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', timeout: 60000 });
      if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };

    test('the same quota on the same cgroup files, and the same usable count in this process', () => {
      const args = CASES.map(([name, files]) => {
        const f = cgroup(`py-${name}`, files);
        return [f.max, f.quota, f.period];
      });
      expect(py(`print(json.dumps([cpus.quota_cpus(*a) for a in ${JSON.stringify(args)}]))`)).toEqual(CASES.map((c) => c[2]));
      expect(py('print(json.dumps(cpus.usable_cpus()))')).toBe(usableCpus());
    });

    testIf(allOf(nativeOps, cpus(2), executable('/usr/bin/taskset', 'to narrow the affinity mask')),
      'under taskset -c 0: TypeScript, Python, the native pool and TensorFlow all count 1', () => {
        const script = path.join(dir, 'counts.ts');
        fs.writeFileSync(script, [
          `import { tfThreads, usableCpus } from ${JSON.stringify(path.join(ROOT, 'src', 'bench', 'build-info'))};`,
          `require(${JSON.stringify(require.resolve('@tensorflow/tfjs-node'))});`,
          `const tf = require(${JSON.stringify(require.resolve('@tensorflow/tfjs'))});`,
          `tf.add(tf.scalar(1), tf.scalar(1)).dataSync();`,
          `const pool = require(${JSON.stringify(NATIVE_OPS_ADDON)}).threads;`,
          `process.stdout.write(JSON.stringify({ ts: usableCpus(), pool, tf: tfThreads() }));`,
        ].join('\n'));
        const env = { ...process.env, RLHF_NATIVE_THREADS: '', TF_NUM_INTRAOP_THREADS: '', TF_CPP_MIN_LOG_LEVEL: '3' };
        const r = spawnSync('/usr/bin/taskset', ['-c', '0', process.execPath, path.join(BENCH, 'run-ts.js'), script], { encoding: 'utf8', env, timeout: 120000 });
        if (r.status !== 0) throw new Error(`counts.ts failed: ${r.stderr}`);
        const got = JSON.parse(r.stdout) as { ts: number; pool: number; tf: TfThreads };
        expect(got).toEqual({ ts: 1, pool: 1, tf: { intra_op: 1, intra_op_from: 'affinity mask, TensorFlow default', inter_op: 1 } });
        expect(py('print(json.dumps(cpus.usable_cpus()))', ['/usr/bin/taskset', '-c', '0'])).toBe(1);
      }, 180000);
  });
});

describe('builds', () => {
  test('oneDNN: on from its INFO line; off only when INFO lines were printed without it; else unknown', () => {
    const on = 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n' +
      'I0000 00:00:1.2 123 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results ...\n';
    const off = 'I0000 00:00:1.2 123 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions\n';
    expect(oneDnnFromLog(on).onednn).toBe('on');
    expect(oneDnnFromLog(off + '[bench 1] tensorflow: matmul\n').onednn).toBe('off');
    expect(oneDnnFromLog('[bench 1] tensorflow: matmul 64² 1 GFLOP/s\n').onednn).toBe('unknown');
  });

  test("torch's build summary from show() and parallel_info()", () => {
    const show = [
      'PyTorch built with:', '  - GCC 13.3',
      '  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605 for Intel(R) 64 architecture applications',
      '  - Intel(R) MKL-DNN v3.12.0 (Git Hash 0000)', '  - CPU capability usage: AVX512',
      '  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, USE_MKLDNN=ON, USE_OPENMP=ON, ',
    ].join('\n');
    const parallel = 'ATen/Parallel:\n\tat::get_num_threads() : 2\nATen parallel backend: OpenMP\n';
    expect(torchBuild(show, parallel)).toEqual({
      blas: 'mkl (MKL 2024.2)', onednn: '3.12.0', cpu_capability: 'AVX512', parallel_backend: 'OpenMP',
      summary: 'BLAS mkl (MKL 2024.2), oneDNN 3.12.0, CPU capability AVX512, ATen OpenMP',
    });
    // An OpenBLAS build without oneDNN says so rather than leaving it out.
    expect(torchBuild('  - Build settings: BLAS_INFO=open, USE_MKLDNN=OFF,', 'ATen parallel backend: native thread pool').summary)
      .toBe('BLAS open, no oneDNN, ATen native thread pool');
  });
});
