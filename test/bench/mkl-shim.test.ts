/**
 * The MKL shim for the TRL side on AMD CPUs (src/bench/mkl-shim.ts, bench/mkl_shim.py): the vendor is read from
 * /proc/cpuinfo's text; the shim builds with the system C compiler and answers MKL's vendor query "Intel"; the
 * Python side sees it only when it is preloaded; torch's products are the same numbers with it as without; a
 * compiler that is missing is an error naming the flag.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildMklShim, mklPathNote, cpuVendor, machineCpuVendor, MKL_SHIM_FILE, withPreload } from '../../src/bench/mkl-shim';
import { describeIf } from '../helpers/gates';
import { pythonWith, PYTHON } from '../helpers/python';

const BENCH = path.resolve(__dirname, '..', '..', 'bench');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mkl-shim-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('CPU vendor', () => {
  test('read from the vendor_id line', () => {
    expect(cpuVendor('processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n')).toBe('amd');
    expect(cpuVendor('processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\n')).toBe('intel');
    // aarch64 has no vendor_id line
    expect(cpuVendor('processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n')).toBe('other');
    expect(cpuVendor('vendor_id\t: HygonGenuine\n')).toBe('other');
  });

  test("this machine's, and 'other' where the file cannot be read", () => {
    const f = path.join(dir, 'cpuinfo');
    fs.writeFileSync(f, 'processor\t: 0\nvendor_id\t: AuthenticAMD\n');
    expect(machineCpuVendor(f)).toBe('amd');
    expect(machineCpuVendor(path.join(dir, 'absent'))).toBe('other');
  });
});

describe('the preload environment', () => {
  test('the shim goes first, an LD_PRELOAD already set is kept, the rest is unchanged', () => {
    expect(withPreload({ A: '1' }, '/x/lib.so')).toEqual({ A: '1', LD_PRELOAD: '/x/lib.so' });
    expect(withPreload({ LD_PRELOAD: '/y/other.so' }, '/x/lib.so')).toEqual({ LD_PRELOAD: '/x/lib.so:/y/other.so' });
  });
});

describe("the reports' MKL note (bench and bench:e2e)", () => {
  test('names the code path MKL took where it matters', () => {
    expect(mklPathNote(true, true, 'amd')).toBe('MKL on its Intel code path (--torch-mkl-intel-path: its vendor check answered by a preloaded shim)');
    expect(mklPathNote(false, true, 'amd')).toMatch(/^MKL on an AMD CPU: its generic code path, as stock torch runs there/);
    expect(mklPathNote(false, true, 'intel')).toBeNull();
    expect(mklPathNote(false, false, 'amd')).toBeNull();
  });
});

describe('building the shim', () => {
  test('builds a shared library; a missing compiler is an error naming it and the flag', () => {
    const lib = buildMklShim(path.join(dir, 'build'));
    expect(path.basename(lib)).toBe(MKL_SHIM_FILE);
    expect(fs.statSync(lib).size).toBeGreaterThan(0);
    expect(() => buildMklShim(path.join(dir, 'nocc'), path.join(dir, 'no-such-cc'))).toThrow(/--torch-mkl-intel-path: could not build the MKL shim with .*no-such-cc/);
  });
});

describeIf(pythonWith(['torch']), 'the shim in a Python process (bench/mkl_shim.py, torch)', () => {
  const run = (code: string, env: NodeJS.ProcessEnv) => {
    const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8', env: { ...env, PYTHONPATH: BENCH }, timeout: 120000 });
    if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
    return r.stdout.trim();
  };

  test('the vendor query answers 1, and the Python side sees the shim only when it is preloaded', () => {
    const lib = buildMklShim(path.join(dir, 'py'));
    expect(run(`import ctypes; print(ctypes.CDLL(${JSON.stringify(lib)}).mkl_serv_intel_cpu_true())`, process.env)).toBe('1');
    const probe = 'import torch\nfrom mkl_shim import mkl_shim_loaded\nprint(mkl_shim_loaded())';
    const bare = { ...process.env };
    delete bare.LD_PRELOAD;
    expect(run(probe, bare)).toBe('False');
    expect(run(probe, withPreload(bare, lib))).toBe('True');
  });

  test("torch's float32 products are the same numbers with the shim as without", () => {
    const lib = buildMklShim(path.join(dir, 'num'));
    // Fixed inputs, an odd shape and a transposed operand (the products a training step makes); each process writes
    // its result's float32 bytes to a file.
    const product = (env: NodeJS.ProcessEnv, file: string) => {
      run(['import torch', 'torch.manual_seed(0)', 'a = torch.randn(300, 288); b = torch.randn(768, 288)',
        `open(${JSON.stringify(file)}, "wb").write((a @ b.T).contiguous().numpy().tobytes())`].join('\n'), env);
      const buf = fs.readFileSync(file);
      return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    };
    const bare = { ...process.env };
    delete bare.LD_PRELOAD;
    const stock = product(bare, path.join(dir, 'stock.f32'));
    const shim = product(withPreload(bare, lib), path.join(dir, 'shim.f32'));
    expect(shim.length).toBe(300 * 768);
    let worst = 0;
    for (let i = 0; i < stock.length; i++) worst = Math.max(worst, Math.abs(stock[i] - shim[i]) / (1 + Math.abs(stock[i])));
    // Different kernels sum in a different order: float32 rounding, not different products.
    expect(worst).toBeLessThan(1e-4);
  });
});
