/**
 * What one `rlhf bench` run times and how (models, backends, step kinds, counts): read by run.ts, which
 * orchestrates, and by report.ts, which records the options beside the figures. A file of its own so
 * neither of those imports the other for it.
 */
import type { BackendName } from '../backend';
import type { StepKind } from './steps';
import type { PairLayout } from './workload';

export interface BenchOptions {
  models: string[];
  backends: BackendName[];
  kinds: StepKind[];
  /** Timed steps per (model, kind) on tensorflow/wasm and on the TRL side. */
  steps: number;
  warmup: number;
  /** The pure-JS cpu backend is ~100x slower: its own (smaller) counts. */
  cpuSteps: number;
  cpuWarmup: number;
  batch: number;
  seqLen: number;
  /** Prompt tokens per row. @default seqLen / 4 */
  promptLen?: number;
  /** How our DPO, reward and scoring steps lay out the pairs (TRL's side always pads). @default 'packed' */
  layout?: PairLayout;
  /** Sampling kinds: prompts per batch and new tokens per row. @default 16, 64 */
  samplePrompts?: number;
  newTokens?: number;
  trl: boolean;
  python: string;
  /** The TRL side runs with MKL on its Intel code path (mkl-shim.ts): for AMD CPUs, where MKL otherwise takes a generic path. */
  torchMklIntelPath?: boolean;
  storiesDir: string;
  seed: number;
  /** Square matmul side for each backend's peak (0 skips). */
  matmulN: Partial<Record<BackendName, number>>;
  matmulReps: number;
  /** Keep the model folders here instead of a temporary folder. */
  workDir?: string;
  /** Every side runs this many times, alternating; a row's median is over all rounds' timed steps. */
  rounds: number;
  /** After timing DPO (first round), this many more DPO steps sampling numTensors and RSS; 0 skips. */
  leakSteps?: number;
  /** The command line that ran the benchmark, recorded in the report (the CLI fills it in). */
  command?: string;
  log: (line: string) => void;
  /** Hears each finished side (one backend's worker processes, or the TRL side) of each round: a progress line. */
  onSide?: (done: number, total: number) => void;
}
