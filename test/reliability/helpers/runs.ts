/**
 * Spawning the training child (train-child.ts, from the transpiled copy) and inspecting run folders:
 * seeded random numbers, kill at a moment or by fault, and the checks every killed run must pass.
 * Does NOT decide what a test expects; the test files do.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { currentBackend } from '../../../src/backend';
import { loadCheckpoint, loadTrainerState } from '../../../src/io/checkpoint';
import { readSafetensors } from '../../../src/io/safetensors';
import { mulberry32 } from '../../../src/data/rng';
import { buildForChildren, childEnv, REPO } from './build';
import type { ChildJob } from './train-child';

export const PREFS = path.join(REPO, 'data/prefs.jsonl');

/** Seeded generator (data/rng's mulberry32), so every "random" kill point is reproducible from the seed. */
export const seeded = mulberry32;

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** metrics.jsonl rows seen when the kill/signal was sent (-1 when none was sent). */
  stepsAtKill: number;
}

let built: string | null = null;
export function childScript(): string {
  built ??= buildForChildren();
  return path.join(built, 'test/reliability/helpers/train-child.js');
}

/** The backend the jest worker runs on; children use the same one so results compare bit for bit. */
export function backendName(): string {
  return currentBackend()?.name ?? tf.getBackend();
}

export interface KillPlan {
  /** Send `signal` once metrics.jsonl has this many rows (0: once the loop's handlers are installed), after `delayMs` more. */
  afterSteps: number;
  delayMs: number;
  signal: NodeJS.Signals;
  /** Send it again this many ms later (a second ^C). */
  againAfterMs?: number;
}

export function metricsRows(out: string): number {
  try {
    return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).length;
  } catch {
    return 0;
  }
}

/** Runs the child to its end, optionally sending a signal at a planned moment; never rejects. */
export function runChild(job: ChildJob, plan?: KillPlan, prefix: string[] = []): Promise<ChildResult> {
  const full = { backend: backendName(), ...job };
  const argv = [...prefix, process.execPath, childScript(), JSON.stringify(full)];
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(argv[0], argv.slice(1), { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let stepsAtKill = -1;
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    let timer: NodeJS.Timeout | null = null;
    if (plan) {
      timer = setInterval(() => {
        const ready = plan.afterSteps === 0 ? stdout.includes('HANDLERS') : metricsRows(job.out) >= plan.afterSteps;
        if (ready) {
          clearInterval(timer!);
          timer = null;
          setTimeout(() => {
            stepsAtKill = metricsRows(job.out);
            child.kill(plan.signal);
            if (plan.againAfterMs !== undefined) setTimeout(() => child.kill(plan.signal), plan.againAfterMs);
          }, plan.delayMs);
        }
      }, 5);
    }
    child.on('close', (code, signal) => {
      if (timer) clearInterval(timer);
      resolve({ code, signal, stdout, stderr, stepsAtKill });
    });
  });
}

/** F32 weights of a checkpoint folder's model.safetensors, as arrays by name. */
export function weightsOf(dir: string): Map<string, Float32Array> {
  const t = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
  return new Map([...t].map(([k, v]) => [k, v.data as Float32Array]));
}

/** Loss column of metrics.jsonl (train rows only). */
export function losses(out: string): number[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l)).filter((r) => r.loss !== undefined && r.eval_loss === undefined).map((r) => r.loss);
}

export interface FolderReport {
  checkpoints: number[];
  leftovers: string[];
  hasFinal: boolean;
}

/**
 * Every checkpoint-N folder must load completely (weights, config, tokenizer, trainer state for step N);
 * `final/`, when present, must load too. Hidden leftovers (.x.tmp-PID-…) are listed, not loaded.
 * Throws with the folder's name when one is damaged.
 */
export function checkRunFolder(out: string): FolderReport {
  const names = fs.existsSync(out) ? fs.readdirSync(out) : [];
  const checkpoints: number[] = [];
  const loadOne = (dir: string) => {
    const { model } = loadCheckpoint(dir);
    tf.dispose([...model.bundle.tensors.values()]);
  };
  for (const n of names) {
    const m = /^checkpoint-(\d+)$/.exec(n);
    if (!m) continue;
    const dir = path.join(out, n);
    loadOne(dir);
    const st = loadTrainerState(dir);
    if (!st) throw new Error(`${dir}: no trainer_state.json`);
    if ((st.state as { step: number }).step !== Number(m[1])) throw new Error(`${dir}: trainer state step ${(st.state as { step: number }).step}`);
    if (st.tensors.size === 0) throw new Error(`${dir}: no optimizer tensors`);
    checkpoints.push(Number(m[1]));
  }
  const hasFinal = names.includes('final');
  if (hasFinal) loadOne(path.join(out, 'final'));
  return { checkpoints: checkpoints.sort((a, b) => a - b), leftovers: names.filter((n) => n.startsWith('.')), hasFinal };
}
