import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend';
import { prepareStep, type StepKind } from '../src/bench/steps';
import { makeWorkload } from '../src/bench/workload';
function arg(name: string, dflt: string): string { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; }
async function main() {
  await initBackend('tensorflow');
  const stock = tf.getKernel('BatchMatMul', 'tensorflow')!;
  const patched: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.shape.length !== 2 || b.shape.length !== 2) return (stock.kernelFunc as tf.KernelFunc)(args);
    const be = args.backend as any; const at = args.attrs as any;
    return be.executeSingleOutput('MatMul', [{ name: 'T', type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_FLOAT },
      { name: 'transpose_a', type: be.binding.TF_ATTR_BOOL, value: at.transposeA }, { name: 'transpose_b', type: be.binding.TF_ATTR_BOOL, value: at.transposeB }], [a, b]);
  };
  const set = (on: boolean) => { tf.unregisterKernel('BatchMatMul', 'tensorflow'); tf.registerKernel({ ...stock, kernelFunc: on ? patched : stock.kernelFunc }); };
  const model = arg('model', '15m'); const kind = arg('kind', 'dpo') as StepKind;
  const w = makeWorkload({ vocab: 512, batch: 8, seqLen: Number(arg('seq', '256')), promptLen: process.argv.includes('--prompt') ? Number(arg('prompt', '64')) : undefined, seed: 1234, layout: 'packed' });
  const step = await prepareStep(kind, { policy: path.join('/tmp/bw', `${model}-policy`), reward: path.join('/tmp/bw', `${model}-reward`) }, w);
  for (let i = 0; i < 3; i++) await step.run();
  const res: Record<string, number[]> = { stock: [], matmul: [] };
  const per = Number(arg('per', '3'));
  for (let r = 0; r < Number(arg('rounds', '8')); r++) for (const on of r % 2 ? [true, false] : [false, true]) {
    set(on); await step.run();
    for (let i = 0; i < per; i++) { const t0 = performance.now(); await step.run(); res[on ? 'matmul' : 'stock'].push(performance.now() - t0); }
  }
  const med = (x: number[]) => { const s = [...x].sort((p, q) => p - q); return s[s.length >> 1].toFixed(1); };
  const min = (x: number[]) => Math.min(...x).toFixed(1);
  console.log(JSON.stringify({ model, kind, stock: { median: med(res.stock), best: min(res.stock) }, matmul: { median: med(res.matmul), best: min(res.matmul) }, n: res.stock.length }));
}
main();
