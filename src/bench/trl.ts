/**
 * Runs bench/trl_bench.py (TRL / PyTorch side of the benchmark) with the interpreter in RLHF_PYTHON
 * (default python3) and returns its timings; or, where Python or a module is missing, why it was skipped.
 *
 * Does: check imports, pass the job on stdin, parse the one JSON line. Does NOT: time anything itself.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { MatmulResult } from './matmul';
import type { StepKind } from './steps';

export interface TrlJob {
  models: { name: string; policy_dir: string; reward_dir: string; vocab: number; pad_id: number; bos_id: number | null; eos_id: number;
    pairs: { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }[];
    /** The sampling kinds' prompts (ragged; the script left-pads them). */
    sample_prompts: number[][];
    /** The grpo kind's prompts (ragged ids). */
    grpo_prompts: number[][] }[];
  kinds: StepKind[];
  steps: number;
  warmup: number;
  batch: number;
  lr: number;
  max_grad_norm: number;
  beta: number;
  /** torch's matmul peak: the tensorflow side's size and repetitions (0: not measured in this process). */
  matmul_n: number;
  matmul_reps: number;
  /** Sampling kinds: new tokens per row, and the settings of each kind. */
  new_tokens: number;
  sample: Record<'sample' | 'greedy', { temperature: number; topP?: number }>;
  /** The grpo kind's settings (grpo-step.ts GRPO_BENCH, TRL GRPOConfig's names). */
  grpo: { num_generations: number; beta: number; loss_type: string; temperature: number; top_p: number; top_k: number; num_iterations: number };
}

export interface TrlResult {
  versions: Record<string, string>;
  /** torch's intra-op threads (torch.get_num_threads()), set to usable_cpus by bench/cpus.py. */
  threads: number;
  interop_threads?: number;
  /** The CPUs the Python process may use (affinity mask capped by the cgroup quota). */
  usable_cpus?: number;
  /** torch.__config__.show() and torch.__config__.parallel_info(), verbatim. */
  build?: { config: string; parallel: string };
  /** torch's matmul at the tensorflow side's size, measured as matmul.ts measures ours. */
  matmul?: MatmulResult;
  /** = matmul.gflops. */
  matmul_gflops?: number;
  /** MKL's vendor query answered "Intel" by the preloaded shim (--torch-mkl-intel-path, mkl-shim.ts). */
  mkl_shim?: boolean;
  /** peak_rss_mib: the process's peak RSS after the timed steps (VmHWM, else ru_maxrss; rss_source says which). */
  results: { model: string; kind: StepKind; tokens: number; ms: number[]; median_ms: number; peak_rss_mib?: number; rss_source?: string }[];
  errors: { model: string; kind: StepKind; message: string }[];
}

const MODULES = ['torch', 'transformers', 'trl', 'datasets', 'tokenizers'];

/** bench/trl_bench.py, from src/bench or dist/bench alike. */
function trlScript(): string {
  return path.resolve(__dirname, '..', '..', 'bench', 'trl_bench.py');
}

/** null when the interpreter imports every module the script needs; otherwise the reason. */
export function trlUnavailable(python: string): string | null {
  if (!fs.existsSync(trlScript())) return `${trlScript()} is missing`;
  const r = spawnSync(python, ['-c', MODULES.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8', timeout: 180000 });
  if (r.error) return `${python} is not runnable (${r.error.message}); set RLHF_PYTHON to a Python with ${MODULES.join(', ')}`;
  if (r.status !== 0) return `${python} lacks one of ${MODULES.join(', ')} (${r.stderr.trim().split('\n').pop()}); set RLHF_PYTHON`;
  return null;
}

/** `env`: the Python process's environment (with the MKL shim preloaded under --torch-mkl-intel-path, mkl-shim.ts). */
export function runTrl(python: string, job: TrlJob, onLog: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<TrlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [trlScript()], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      for (const line of d.toString().split('\n')) if (line.startsWith('[trl-bench]')) onLog(line);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last) return reject(new Error(`${python} ${trlScript()} exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(JSON.parse(last) as TrlResult);
      } catch {
        reject(new Error(`${trlScript()} printed no JSON result; its last line was: ${last.slice(0, 200)}`));
      }
    });
    child.stdin.end(JSON.stringify(job));
  });
}
