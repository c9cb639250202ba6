import * as tf from '@tensorflow/tfjs';
import { AdamW, isDecayed } from '../../src/train/optimizer';
import { learningRate } from '../../src/train/schedule';
import { clipByGlobalNorm } from '../../src/train/clip';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';
import { mulberry32 } from '../../src/data/rng';

describe('AdamW', () => {
  test('one step by hand: first step moves each weight by lr·sign(g) (bias-corrected), decay only on decayed params', () => {
    const w = tf.variable(tf.tensor1d([1, -2]), true);
    const b = tf.variable(tf.tensor1d([0.5]), true);
    const params = new Map([['layer.weight', w], ['layer.bias', b]]);
    const opt = new AdamW(params, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 });
    opt.apply(new Map<string, tf.Tensor>([['layer.weight', tf.tensor1d([0.3, -4])], ['layer.bias', tf.tensor1d([2])]]), 0.01);
    // m̂ = g, v̂ = g², so the step is lr·g/(|g|+eps) ≈ lr·sign(g); decay multiplies by (1 − lr·λ) first.
    const wv = w.dataSync();
    expect(wv[0]).toBeCloseTo(1 * (1 - 0.001) - 0.01, 6);
    expect(wv[1]).toBeCloseTo(-2 * (1 - 0.001) + 0.01, 6);
    expect(b.dataSync()[0]).toBeCloseTo(0.5 - 0.01, 6); // bias: no decay
    opt.dispose();
    w.dispose();
    b.dispose();
  });

  test('state round trip continues identically', () => {
    const mk = () => new Map([['w', tf.variable(tf.tensor1d([1, 2, 3]), true)]]);
    const g = () => new Map<string, tf.Tensor>([['w', tf.tensor1d([0.1, -0.2, 0.3])]]);
    const pa = mk();
    const a = new AdamW(pa);
    a.apply(g(), 0.1);
    const pb = mk();
    pb.get('w')!.assign(pa.get('w')!);
    const b = new AdamW(pb);
    const st = a.state();
    b.restore(st.step, st.tensors);
    a.apply(g(), 0.1);
    b.apply(g(), 0.1);
    expect(Array.from(pb.get('w')!.dataSync())).toEqual(Array.from(pa.get('w')!.dataSync()));
    a.dispose();
    b.dispose();
  });

  test('no tensors leak per step after the first (moments are created once)', () => {
    const p = new Map([['w', tf.variable(tf.randomNormal([4, 4]), true)]]);
    const opt = new AdamW(p);
    const grad = tf.randomNormal([4, 4]);
    opt.apply(new Map([['w', grad]]), 0.01);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) opt.apply(new Map([['w', grad]]), 0.01);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
  });

  test('decay rule follows HF Trainer: no decay for biases and norms', () => {
    expect(isDecayed('model.layers.0.mlp.up_proj.weight')).toBe(true);
    expect(isDecayed('model.layers.0.self_attn.q_proj.bias')).toBe(false);
    expect(isDecayed('model.layers.0.input_layernorm.weight')).toBe(false);
    expect(isDecayed('model.norm.weight')).toBe(false);
  });
});

describeIf(pythonWith(['torch']), 'AdamW against torch.optim.AdamW', () => {
  test('10 steps with decay match to 1e-6', () => {
    const next = mulberry32(7);
    const rng = { next };
    const init = Array.from({ length: 12 }, () => rng.next() * 2 - 1);
    const grads = Array.from({ length: 10 }, () => Array.from({ length: 12 }, () => rng.next() * 2 - 1));
    const w = tf.variable(tf.tensor2d(init, [3, 4]), true);
    const opt = new AdamW(new Map([['w', w]]), { beta1: 0.9, beta2: 0.95, epsilon: 1e-6, weightDecay: 0.05 });
    for (const g of grads) {
      const gt = tf.tensor2d(g, [3, 4]);
      opt.apply(new Map([['w', gt]]), 3e-2);
      gt.dispose();
    }
    const ref = runPython<number[]>(
      `import json,sys,torch
d=json.load(sys.stdin)
p=torch.nn.Parameter(torch.tensor(d['init'],dtype=torch.float32).reshape(3,4))
o=torch.optim.AdamW([p],lr=3e-2,betas=(0.9,0.95),eps=1e-6,weight_decay=0.05)
for g in d['grads']:
    p.grad=torch.tensor(g,dtype=torch.float32).reshape(3,4); o.step()
print(json.dumps(p.detach().reshape(-1).tolist()))`,
      { init, grads },
    );
    const ours = Array.from(w.dataSync());
    ours.forEach((v, i) => expect(Math.abs(v - ref[i])).toBeLessThan(1e-6));
    opt.dispose();
  });
});

describe('schedules (transformers get_scheduler semantics)', () => {
  const o = { lr: 1e-3, warmupSteps: 2, totalSteps: 10 };
  test('linear warmup then decay to 0', () => {
    expect([0, 1, 2, 3, 10].map((s) => learningRate(s, { ...o, name: 'linear' }))).toEqual([0, 5e-4, 1e-3, 8.75e-4, 0]);
  });
  test('cosine: half way through the decay is lr/2', () => {
    expect(learningRate(6, { ...o, name: 'cosine' })).toBeCloseTo(5e-4, 12);
    expect(learningRate(10, { ...o, name: 'cosine' })).toBeCloseTo(0, 12);
  });
  test('constant keeps lr after warmup', () => {
    expect(learningRate(9, { ...o, name: 'constant' })).toBe(1e-3);
  });
});

describe('global-norm clipping', () => {
  test('norm 5 clipped to 1 scales by 1/5; below the limit nothing changes', () => {
    const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d([3])], ['b', tf.tensor1d([4])]]);
    const { grads: c, norm } = clipByGlobalNorm(grads, 1);
    expect(norm.dataSync()[0]).toBeCloseTo(5, 6);
    expect(c.get('a')!.dataSync()[0]).toBeCloseTo(0.6, 5);
    const { grads: c2 } = clipByGlobalNorm(grads, 10);
    expect(c2.get('b')!.dataSync()[0]).toBeCloseTo(4, 6);
  });
});
