/**
 * tf.variableGrads with the memory of the backward pass freed as it goes.
 *
 * TF.js 4.22's backward pass (engine.gradients) keeps, until the very end, every tensor the forward saved
 * for its gradient AND the gradient of every intermediate tensor. A DPO step of the 15M-parameter model on
 * 16 rows × 256 tokens peaks near 7 GB that way: more than the wasm heap can hold (4 GB; the step aborts)
 * and a large fresh working set per step on the other backends. Here the same tape is walked in the same
 * order with the same gradient functions and the same accumulation order (so the numbers are identical),
 * but once a node's input gradients are computed, the gradients of its outputs and the tensors it saved are
 * released: each is used by exactly that node. Peak memory becomes roughly the forward's saved tensors.
 *
 * Does: first-order gradients of a scalar w.r.t. variables, via the engine's own tape. Falls back to
 * tf.variableGrads when nested inside another gradient computation, or when the engine does not look as
 * expected (another TF.js version). Does NOT: change any gradient formula or the forward pass.
 */
import * as tf from '@tensorflow/tfjs';

/** What a recorded tape node holds (TF.js engine internals, 4.x). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string | (() => T), f?: () => T): T;
}

function engineInternals(): EngineInternals | null {
  const e = tf.engine() as unknown as Partial<EngineInternals>;
  const ok = typeof e.startTape === 'function' && typeof e.endTape === 'function' && typeof e.scopedRun === 'function' &&
    typeof e.tidy === 'function' && typeof e.state?.gradientDepth === 'number'; // activeTape appears with the first tape
  return ok ? (e as EngineInternals) : null;
}

/**
 * The nodes on a path from some x to y, in tape order, each with only the inputs that depend on an x
 * (gradients are needed for those alone).
 */
function nodesBetween(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodeFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const kept: TapeNode[] = [];
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (!nodeFromX.has(node.id) || !node.outputs.some((o) => toY.has(o.id))) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) {
      if (!fromX.has(t.id)) continue;
      inputs[name] = t;
      toY.add(t.id);
    }
    kept.push({ ...node, inputs });
  }
  return kept.reverse();
}

/** Gradients of y = f() w.r.t. xs, releasing each node's saved tensors and output gradients after use. */
function leanGradients(engine: EngineInternals, f: () => tf.Scalar, xs: tf.Variable[]): { value: tf.Scalar; grads: (tf.Tensor | undefined)[] } {
  const y = engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => engine.tidy('forward', f));
  if (!(y instanceof tf.Tensor)) throw new Error('leanVariableGrads: f() must return a tensor');
  const tape = engine.state.activeTape ?? [];
  const nodes = nodesBetween(tape, xs, y);
  const isX = new Set(xs.map((x) => x.id));
  return engine.tidy('backward', () => {
    const grad = new Map<number, tf.Tensor>(); // tensor id -> accumulated gradient
    grad.set(y.id, tf.onesLike(y));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const dys = node.outputs.map((o) => grad.get(o.id) ?? null);
      const inputGrads = node.gradient(dys);
      for (const [name, x] of Object.entries(node.inputs)) {
        if (!(name in inputGrads)) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
        const dx = engine.tidy(() => inputGrads[name]());
        const prev = grad.get(x.id);
        if (prev === undefined) {
          grad.set(x.id, dx);
        } else {
          grad.set(x.id, tf.add(prev, dx));
          prev.dispose();
          if (dx !== grad.get(x.id)) releaseUnlessHeld(dx, grad);
        }
      }
      // This node was the only consumer of its outputs' gradients and of its saved tensors.
      for (const o of node.outputs) {
        const g = grad.get(o.id);
        if (g === undefined || isX.has(o.id)) continue;
        grad.delete(o.id);
        releaseUnlessHeld(g, grad);
      }
      for (const t of node.saved ?? []) t.dispose();
    }
    const grads = xs.map((x) => grad.get(x.id));
    if (engine.state.gradientDepth === 0) {
      for (const node of tape) for (const t of node.saved ?? []) t.dispose();
      engine.state.activeTape = null;
    }
    return { value: y as tf.Scalar, grads: grads as tf.Tensor[] };
  }) as { value: tf.Scalar; grads: (tf.Tensor | undefined)[] };
}

/** Disposes t unless the gradient map still holds that very tensor object (a gradient that passed dy through). */
function releaseUnlessHeld(t: tf.Tensor, grad: Map<number, tf.Tensor>): void {
  for (const g of grad.values()) if (g === t) return;
  t.dispose();
}

/**
 * As tf.variableGrads(f, varList): {value, grads} with grads keyed by variable name (non-trainable
 * variables are left out). Same values; lower peak memory.
 */
export function leanVariableGrads(f: () => tf.Scalar, varList: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = engineInternals();
  if (!engine || engine.state.gradientDepth > 0) return tf.variableGrads(f, varList);
  const vars = varList.filter((v) => v.trainable);
  if (vars.length === 0) throw new Error(`leanVariableGrads: none of the ${varList.length} variables is trainable`);
  const { value, grads } = leanGradients(engine, f, vars);
  if (value.rank !== 0) throw new Error(`leanVariableGrads: f() must return a scalar; got rank ${value.rank}`);
  const named: tf.NamedTensorMap = {};
  vars.forEach((v, i) => {
    const g = grads[i];
    if (g) named[v.name] = g;
  });
  if (Object.keys(named).length === 0) {
    throw new Error('leanVariableGrads: no variable in the list influences the loss; build the loss from the model inside f');
  }
  return { value, grads: named };
}
