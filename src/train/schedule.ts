/**
 * Learning-rate schedules with linear warmup, matching transformers' get_scheduler definitions
 * (so TRL users see the same curve): the multiplier at optimiser step s (0-based) of N total is
 *   1) warmup   s < W:           s / W
 *   2) constant                  1
 *   2) linear                    max(0, (N − s) / (N − W))
 *   2) cosine                    0.5 · (1 + cos(π · (s − W) / (N − W)))
 * Example: linear, lr 1e-3, W = 2, N = 10: steps 0..3 -> 0, 5e-4, 1e-3, 8.75e-4.
 */
export type ScheduleName = 'constant' | 'linear' | 'cosine';

export interface ScheduleOptions {
  name: ScheduleName;
  lr: number;
  warmupSteps: number;
  totalSteps: number;
}

export function learningRate(step: number, o: ScheduleOptions): number {
  const w = o.warmupSteps;
  if (step < w) return (o.lr * step) / Math.max(1, w);
  const span = Math.max(1, o.totalSteps - w);
  switch (o.name) {
    case 'constant':
      return o.lr;
    case 'linear':
      return o.lr * Math.max(0, (o.totalSteps - step) / span);
    case 'cosine':
      return o.lr * 0.5 * (1 + Math.cos((Math.PI * Math.min(step - w, span)) / span));
  }
}
