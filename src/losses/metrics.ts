/**
 * Metric values the losses return beside the loss, under TRL's names (rewards/chosen, logps/chosen, accuracy, ...;
 * README.md "Checkpoints and Hugging Face" on what they mean).
 *
 * Does: the shared type and a reader that turns scalar tensors into numbers and frees them.
 * Does NOT: aggregate over steps or log (that is the training loop's job).
 *
 * Inside `tf.variableGrads(f)` everything f does not return is disposed when f ends: a trainer that
 * wants the metrics after the step must `tf.keep` them inside f (train/loop.ts does), then read them.
 */
import * as tf from '@tensorflow/tfjs';

/** Name -> scalar tensor (computed) or plain number. */
export type LossMetrics = Record<string, tf.Scalar | number>;

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
