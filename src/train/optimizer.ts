/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter 2019), written out because TF.js has none.
 * The arithmetic follows torch.optim.AdamW step for step, so runs can be compared with PyTorch/TRL:
 *   p ← p · (1 − lr·λ)                      (decoupled decay, only for decayed params)
 *   m ← β1·m + (1 − β1)·g ;  v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
 * Like Hugging Face's Trainer, biases and normalisation weights are not decayed.
 *
 * Does: keep the moments and the step count, expose them as named tensors for checkpoints. Does NOT: the
 * arithmetic itself (backend/ops.ts adamW: one fused kernel or TF.js ops), clip gradients or schedule the
 * learning rate (see clip.ts, schedule.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { adamW } from '../backend/ops';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

export const DEFAULT_ADAMW: AdamWOptions = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

/** HF Trainer's rule: no weight decay for biases and layer/RMS norm weights. */
export function isDecayed(name: string): boolean {
  return !(name.endsWith('.bias') || /norm/i.test(name));
}

export class AdamW {
  private step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    readonly options: AdamWOptions = DEFAULT_ADAMW,
  ) {}

  get stepCount(): number {
    return this.step;
  }

  /** Applies one update with the given gradients (HF name -> gradient). Does not dispose `grads`. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    // A parameter that did not take part in this loss (no gradient) keeps its value and moments.
    const names = [...this.params.keys()].filter((n) => grads.has(n));
    const slots = names.map((name) => {
      const p = this.params.get(name)!;
      const decay = weightDecay > 0 && isDecayed(name) ? 1 - lr * weightDecay : 1;
      return { p, m: this.slot(this.m, name, p), v: this.slot(this.v, name, p), g: grads.get(name)!, decay };
    });
    const bc1 = 1 - Math.pow(beta1, this.step);
    adamW(slots, { beta1, beta2, epsilon, bc2Sqrt: Math.sqrt(1 - Math.pow(beta2, this.step)), stepSize: lr / bc1 });
  }

  /** Optimiser state for a checkpoint: moments by `exp_avg.<name>` / `exp_avg_sq.<name>`, plus the step. */
  state(): { step: number; tensors: Map<string, tf.Tensor> } {
    const tensors = new Map<string, tf.Tensor>();
    for (const [name, t] of this.m) tensors.set(`exp_avg.${name}`, t);
    for (const [name, t] of this.v) tensors.set(`exp_avg_sq.${name}`, t);
    return { step: this.step, tensors };
  }

  /** Restores `state()` output (the tensors are copied; the caller keeps ownership). */
  restore(step: number, tensors: Map<string, tf.Tensor>): void {
    this.step = step;
    for (const [key, t] of tensors) {
      const dot = key.indexOf('.');
      const kind = key.slice(0, dot);
      const name = key.slice(dot + 1);
      const p = this.params.get(name);
      if (!p) throw new Error(`optimizer state names unknown parameter "${name}"`);
      if (!tf.util.arraysEqual(p.shape, t.shape)) {
        throw new Error(`optimizer state "${key}" has shape [${t.shape}] but the parameter has [${p.shape}]`);
      }
      const table = kind === 'exp_avg' ? this.m : kind === 'exp_avg_sq' ? this.v : null;
      if (!table) throw new Error(`optimizer state key "${key}" is neither exp_avg.* nor exp_avg_sq.*`);
      this.slot(table, name, p).assign(t);
    }
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }

  private slot(table: Map<string, tf.Variable>, name: string, p: tf.Variable): tf.Variable {
    let s = table.get(name);
    if (!s) {
      // Variable names are global in TF.js; leave them unnamed so several optimisers can coexist.
      const zeros = tf.zerosLike(p);
      s = tf.variable(zeros, false);
      zeros.dispose(); // the variable keeps its own reference to the data

      table.set(name, s);
    }
    return s;
  }
}
