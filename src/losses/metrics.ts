/**
 * Metric values the losses return beside the loss, under TRL's names (DESIGN.md "Losses and metrics").
 *
 * Does: the shared type and a reader that turns scalar tensors into numbers and frees them.
 * Does NOT: aggregate over steps or log (that is the training loop's job).
 *
 * Inside `tf.variableGrads(f)` everything f does not return is disposed when f ends: a trainer that
 * wants the metrics after the step must `tf.keep` them inside f (keepMetrics does that), then read them
 * with readMetrics, which disposes them.
 */
import * as tf from '@tensorflow/tfjs';

/** Name -> scalar tensor (computed) or plain number (passed through, e.g. logits/chosen from the trainer). */
export type LossMetrics = Record<string, tf.Scalar | number>;

/** tf.keep every tensor in a metrics object so it outlives the enclosing tidy / variableGrads; returns it. */
export function keepMetrics<M extends LossMetrics>(metrics: M): M {
  for (const v of Object.values(metrics)) if (typeof v !== 'number') tf.keep(v);
  return metrics;
}

/** Reads every metric to a number and disposes the tensors. Example: {accuracy: scalar(0.5)} -> {accuracy: 0.5}. */
export async function readMetrics(metrics: LossMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, v] of Object.entries(metrics)) {
    if (typeof v === 'number') {
      out[name] = v;
    } else {
      out[name] = (await v.data())[0];
      v.dispose();
    }
  }
  return out;
}

/** Disposes the tensor metrics without reading them (e.g. when a step is abandoned). */
export function disposeMetrics(metrics: LossMetrics): void {
  for (const v of Object.values(metrics)) if (typeof v !== 'number') v.dispose();
}
