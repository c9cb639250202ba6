/**
 * The fused kernels of native/rlhf_ops.cc (backend/native-ops.ts) on the tensorflow backend. Attention (with
 * RoPE): values and gradients equal the plain TF.js path (RotaryTables + model/attention.ts) for MHA, GQA and
 * MQA, odd lengths and rotary pair counts; NaN stays confined to the rows that see it; bad shapes are a named
 * error; the model takes the fused path exactly when the batch has no padding before a real token; nothing
 * leaks. RMSNorm and the SwiGLU gate equal autodiff through plain ops; AdamW is bit-identical to the TF.js ops
 * and the gradient norm matches. Also RLHF_NATIVE_OPS and RLHF_NATIVE_THREADS parsing, the kernels' pool size in
 * child processes (the affinity mask is honoured), the reasons the addon is not used (missing, wrong ABI) in
 * isolated module registries, and the `rlhf env` line.
 *
 * The kernel suites are gated on the addon (helpers/gates.ts): skipped with the reason where tfjs-node or the
 * addon is not built, a failure under RLHF_REQUIRE_ORACLES=1 (CI, which also sets RLHF_NATIVE_OPS=1).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeEnvironment, initBackend } from '../../src/backend';
import { ADAMW, CAUSAL_ATTENTION, LOG_SOFTMAX_PICK, NATIVE_OPS_ABI, RMS_NORM, SILU_MUL, SUM_SQUARES, fusedCausalAttention, fusedOpsAvailable, fusedSegmentAttention, fusedRmsNorm, fusedSiluMul, fusedSumSquares, NATIVE_OPS_ADDON, nativeOpsMode, nativeOpsStatus, nativeThreadsSetting, setNativeOpsEnabled } from '../../src/backend/native-ops';
import { causalAttention, fusedOpsUsed, logSoftmaxPick, logSoftmaxPickGrad, resetFusedOpsUsed, segmentAttention } from '../../src/backend/ops';
import { headLogProbs, scoredLogProbs, paddedScoredTokens } from '../../src/model/logprobs';
import { commonPrefix, packPairs, type PackOptions, type PairExample } from '../../src/data';
import { layoutTensor, segmentBias, type PackedLayout } from '../../src/model/packed';
import { RewardModel } from '../../src/model/reward';
import { batchLogProbs, batchRewards } from '../../src/model/batch';
import { parseGPT2Config } from '../../src/model/families/gpt2';
import { AdamW } from '../../src/train/optimizer';
import { clipByGlobalNorm } from '../../src/train/clip';
import { groupedAttention } from '../../src/model/attention';
import { causalBias } from '../../src/model/layers';
import { RotaryTables } from '../../src/model/rope';
import type { LlamaConfig } from '../../src/model/families/llama';
import { LanguageModel } from '../../src/model/language-model';
import { allOf, describeIf, testIf } from '../helpers/gates';
import { cpus, executable, nativeOps } from '../helpers/native';
import { relDiff } from './helpers';

/** The kernel suites run on the tensorflow backend, with the addon loaded (nativeOps checked that it loads). */
async function onTensorflow(): Promise<void> {
  await initBackend('tensorflow');
  expect(nativeOpsStatus()?.loaded).toBe(true);
}

/** q [B,T,H,d], k/v [B,T,kvH,d], upstream weights w [B,T,H,d], seeded. */
function inputs(B: number, T: number, H: number, kvH: number, d: number, seed: number) {
  return {
    q: tf.randomNormal([B, T, H, d], 0, 1, 'float32', seed) as tf.Tensor4D,
    k: tf.randomNormal([B, T, kvH, d], 0, 1, 'float32', seed + 1) as tf.Tensor4D,
    v: tf.randomNormal([B, T, kvH, d], 0, 1, 'float32', seed + 2) as tf.Tensor4D,
    w: tf.randomNormal([B, T, H, d], 0, 1, 'float32', seed + 3) as tf.Tensor4D,
  };
}

/** RoPE tables for positions 0..T-1 (theta 10000): [T, 1, d/2] as the model slices them, and [T, d/2] for the kernel. */
function ropeTables(T: number, d: number) {
  const tables = new RotaryTables(d, 10000, 256);
  const { cos, sin } = tables.slice(0, T);
  const flat = { cos: cos.reshape([T, d / 2]) as tf.Tensor2D, sin: sin.reshape([T, d / 2]) as tf.Tensor2D };
  tables.dispose();
  return { cos, sin, flat, dispose: () => tf.dispose([cos, sin, flat.cos, flat.sin]) };
}

/** The fused kernel: RoPE, scores, softmax and weighted sum in one op. */
function fused(rope: ReturnType<typeof ropeTables>, scale: number) {
  return (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => fusedCausalAttention(q, k, v, rope.flat.cos, rope.flat.sin, scale);
}

/** The plain TF.js path on the same inputs: RotaryTables.apply, then groupedAttention over [B,kvH,T,d] keys with the causal bias. */
function plain(rope: ReturnType<typeof ropeTables>) {
  return (q0: tf.Tensor4D, k0: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D => {
    const q = RotaryTables.apply(q0, rope.cos, rope.sin);
    const k = RotaryTables.apply(k0, rope.cos, rope.sin);
    const [B, T, H, d] = q.shape;
    const kh = k.transpose([0, 2, 1, 3]) as tf.Tensor4D;
  const vh = v.transpose([0, 2, 1, 3]) as tf.Tensor4D;
    return groupedAttention(q, kh, vh, causalBias(T, T, 0), true).reshape([B, T, H, d]);
  };
}

function valueAndGrads(f: (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor4D, x: ReturnType<typeof inputs>) {
  const out = tf.tidy(() => f(x.q, x.k, x.v));
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D).mul(x.w).sum())([x.q, x.k, x.v]);
  const r = [out, ...grads].map((t) => t.dataSync().slice());
  tf.dispose([out, ...grads]);
  return r;
}

describeIf(nativeOps, 'fused causal attention', () => {
  beforeAll(onTensorflow);

  test.each([
    // B, T, H, kvH, d
    [2, 1, 2, 2, 8], // one position
    [2, 5, 4, 4, 6], // MHA, an odd number of rotary pairs
    [3, 33, 4, 2, 8], // GQA (stories260K's grouping)
    [1, 130, 6, 6, 48], // the 15m preset's heads, an odd length
    [2, 17, 4, 1, 16], // MQA
  ])('B=%i T=%i H=%i kvH=%i d=%i: values and q/k/v gradients equal the plain TF.js path', (B, T, H, kvH, d) => {
    const x = inputs(B, T, H, kvH, d, 10 + T);
    const rope = ropeTables(T, d);
    const ours = valueAndGrads(fused(rope, 1 / Math.sqrt(d)), x);
    const ref = valueAndGrads(plain(rope), x);
    const names = ['output', 'dq', 'dk', 'dv'];
    // Same sums in another order (and a polynomial exp): float32 rounding only.
    names.forEach((name, i) => expect({ name, ok: relDiff(ours[i], ref[i]) < 2e-5 }).toEqual({ name, ok: true }));
    tf.dispose(Object.values(x));
    rope.dispose();
  });

  test('without RoPE (GPT-2): ops.causalAttention runs the kernel with identity tables; values and gradients equal plain attention', async () => {
    const [B, T, H, d] = [2, 19, 4, 8];
    const x = inputs(B, T, H, H, d, 77);
    const scale = 1 / Math.sqrt(d);
    const unrotated = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D =>
      groupedAttention(q, k.transpose([0, 2, 1, 3]) as tf.Tensor4D, v.transpose([0, 2, 1, 3]) as tf.Tensor4D, causalBias(T, T, 0), true).reshape([B, T, H, d]);
    const viaOps = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => causalAttention(q, k, v, scale, null, () => unrotated(q, k, v)) as tf.Tensor4D;
    resetFusedOpsUsed();
    const prof = await tf.profile(() => tf.tidy(() => viaOps(x.q, x.k, x.v)));
    expect(prof.kernels.filter((k) => k.name === CAUSAL_ATTENTION).length).toBe(1);
    expect(fusedOpsUsed()).toEqual(['causal_attention']);
    const ours = valueAndGrads(viaOps, x);
    const ref = valueAndGrads(unrotated, x);
    ['output', 'dq', 'dk', 'dv'].forEach((name, i) => expect({ name, ok: relDiff(ours[i], ref[i]) < 2e-5 }).toEqual({ name, ok: true }));
    // An odd head size has no [T, d/2] tables: the TF.js path computes it.
    const odd = inputs(1, 5, 2, 2, 5, 3);
    const oddProf = await tf.profile(() => tf.tidy(() => causalAttention(odd.q, odd.k, odd.v, 1, null, () => tf.zeros([1]))));
    expect(oddProf.kernels.filter((k) => k.name === CAUSAL_ATTENTION).length).toBe(0);
    tf.dispose([...Object.values(x), ...Object.values(odd)]);
  });

  test('a NaN key poisons exactly the queries that see it; a NaN query only its own row', () => {
    const [B, T, H, d] = [1, 6, 2, 4];
    const q = tf.tensor4d(Array.from({ length: B * T * H * d }, (_, i) => (i === (2 * H + 1) * d ? NaN : Math.sin(i))), [B, T, H, d]);
    const k = tf.tensor4d(Array.from({ length: B * T * d }, (_, i) => (i === 3 * d + 1 ? NaN : Math.cos(i))), [B, T, 1, d]);
    const v = tf.tensor4d(Array.from({ length: B * T * d }, (_, i) => i / 10), [B, T, 1, d]);
    const rope = ropeTables(T, d);
    const o = fused(rope, 0.5)(q, k, v).arraySync()[0]; // [T][H][d]
    rope.dispose();
    const rowNaN = (t: number, h: number) => o[t][h].every((x) => Number.isNaN(x));
    const rowFinite = (t: number, h: number) => o[t][h].every((x) => Number.isFinite(x));
    expect([0, 1, 2].map((t) => rowFinite(t, 0))).toEqual([true, true, true]); // before the NaN key
    expect([3, 4, 5].map((t) => rowNaN(t, 0) && rowNaN(t, 1))).toEqual([true, true, true]); // at and after it
    expect([rowNaN(2, 1), rowFinite(1, 1), rowFinite(0, 1)]).toEqual([true, true, true]); // the NaN query's row only
    tf.dispose([q, k, v]);
  });

  test('shapes it cannot take are an error naming the op and the shapes', () => {
    const rope = ropeTables(4, 8);
    const attend = fused(rope, 1);
    const q = tf.zeros([1, 4, 3, 8]) as tf.Tensor4D;
    const k = tf.zeros([1, 4, 2, 8]) as tf.Tensor4D; // 2 kv heads do not divide 3 query heads
    expect(() => attend(q, k, k)).toThrow(/RlhfCausalAttention.*\[1,4,3,8\].*\[1,4,2,8\]/);
    const k2 = tf.zeros([1, 5, 1, 8]) as tf.Tensor4D; // another length
    expect(() => attend(q, k2, k2)).toThrow(/kvH dividing H/);
    const q5 = tf.zeros([1, 4, 1, 8]) as tf.Tensor4D;
    const short = ropeTables(3, 8); // tables for 3 positions, 4 given
    expect(() => fusedCausalAttention(q5, q5, q5, short.flat.cos, short.flat.sin, 1)).toThrow(/cos and sin must be \[T, d\/2\] = \[4,4\].*got \[3,4\]/);
    tf.dispose([q, k, k2, q5]);
    rope.dispose();
    short.dispose();
  });

  test('a forward and backward leave no tensors behind', () => {
    const x = inputs(2, 20, 4, 2, 8, 3);
    const rope = ropeTables(20, 8);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => fused(rope, 0.3)(a as tf.Tensor4D, b as tf.Tensor4D, x.v).mul(x.w).sum())([x.q, x.k]);
      g[0].dataSync();
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(x));
    rope.dispose();
  });
});

describeIf(nativeOps, 'fused segment attention (packed rows: shared prompts, padding-free)', () => {
  beforeAll(onTensorflow);

  /** A packed layout of random pairs (data/packing.ts) with B rows of T tokens (sequences cut or padded to fit). */
  function layoutOf(seed: number, opts: PackOptions): PackedLayout {
    let s = seed;
    const rnd = (k: number) => ((s = (s * 1103515245 + 12345) % 2147483648) % k);
    const ex: PairExample[] = Array.from({ length: 2 + rnd(4) }, (_, i) => {
      const prompt = Array.from({ length: 1 + rnd(9) }, () => 3 + rnd(20));
      const c = Array.from({ length: 1 + rnd(23) }, () => 3 + rnd(20));
      const r = rnd(3) === 0 ? [...c.slice(0, 3), 5] : Array.from({ length: 1 + rnd(23) }, () => 3 + rnd(20));
      const record = { prompt: 'p', chosen: 'c', rejected: 'r', id: `${i}`, source: `t:${i}` };
      return { record, chosen: { ids: [...prompt, ...c], completionStart: prompt.length }, rejected: { ids: [...prompt, ...r], completionStart: prompt.length } };
    });
    return packPairs(ex, 0, opts);
  }

  /** The fused kernel on `layout`: RoPE tables for positions 0..T-1, or identity tables (no RoPE). */
  function fusedSeg(layout: PackedLayout, d: number, rope: boolean) {
    return (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D => {
      const T = layout.seqLen;
      const lt = layoutTensor(layout);
      const tables = rope ? ropeTables(T, d).flat : null;
      return segmentAttention(q, k, v, 1 / Math.sqrt(d), tables, lt, () => { throw new Error('the fused kernel did not run'); }) as tf.Tensor4D;
    };
  }

  /** The TF.js path: rotate by each token's position (RotaryTables.gather), then groupedAttention with the layout's bias. */
  function plainSeg(layout: PackedLayout, d: number, rope: boolean) {
    return (q0: tf.Tensor4D, k0: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D => {
      const [B, T, H] = q0.shape;
      const tables = new RotaryTables(d, 10000, 256);
      const { cos, sin } = tables.gather(layout.positions, B, T);
      tables.dispose();
      const q = rope ? RotaryTables.apply(q0, cos, sin) : q0;
      const k = rope ? RotaryTables.apply(k0, cos, sin) : k0;
      const kh = k.transpose([0, 2, 1, 3]) as tf.Tensor4D;
      const vh = v.transpose([0, 2, 1, 3]) as tf.Tensor4D;
      return groupedAttention(q.mul(1) as tf.Tensor4D, kh, vh, segmentBias(layout), true).reshape([B, T, H, d]) as tf.Tensor4D;
    };
  }

  test.each([
    // H, kvH, d, layout seed, RoPE
    [2, 2, 6, 1, true], // MHA, an odd number of rotary pairs
    [4, 2, 8, 2, true], // GQA
    [4, 1, 16, 3, true], // MQA
    [6, 6, 48, 4, true], // the 15m preset's heads
    [4, 4, 8, 5, false], // no RoPE (GPT-2): identity tables
  ])('H=%i kvH=%i d=%i layout %i rope=%s: values and q/k/v gradients equal the TF.js path, in every layout', (H, kvH, d, seed, rope) => {
    const layouts: PackOptions[] = [
      { sharePrompt: true }, { sharePrompt: true, paddingFree: true }, { sharePrompt: false, paddingFree: true },
      { sharePrompt: true, paddingFree: true, oneRow: true }, { sharePrompt: false, paddingFree: true, oneRow: true },
    ];
    for (const opts of layouts) {
      const layout = layoutOf(seed, opts);
      const x = inputs(layout.rows, layout.seqLen, H, kvH, d, 40 + seed);
      resetFusedOpsUsed();
      const ours = valueAndGrads(fusedSeg(layout, d, rope), x);
      expect(fusedOpsUsed()).toEqual(['segment_attention']);
      const ref = valueAndGrads(plainSeg(layout, d, rope), x);
      // Padding cells at a row's end attend to themselves only in both; every cell is compared.
      ['output', 'dq', 'dk', 'dv'].forEach((name, i) => expect({ name, opts, ok: relDiff(ours[i], ref[i]) < 2e-5 }).toEqual({ name, opts, ok: true }));
      tf.dispose(Object.values(x));
    }
  });

  /** Pairs whose items (prompt + chosen + rejected past it) are all longer than the kernel's 256-cell spans. */
  function longPairs(n: number, seed: number): PairExample[] {
    let s = seed;
    const rnd = (k: number) => ((s = (s * 1103515245 + 12345) % 2147483648) % k);
    return Array.from({ length: n }, (_, i) => {
      const prompt = Array.from({ length: 150 + rnd(100) }, () => 3 + rnd(20));
      const c = Array.from({ length: 60 + rnd(90) }, () => 3 + rnd(20));
      const r = Array.from({ length: 60 + rnd(90) }, () => 3 + rnd(20));
      const record = { prompt: 'p', chosen: 'c', rejected: 'r', id: `${i}`, source: `t:${i}` };
      return { record, chosen: { ids: [...prompt, ...c], completionStart: prompt.length }, rejected: { ids: [...prompt, ...r], completionStart: prompt.length } };
    });
  }

  test('one row holding a whole batch (split into spans of items by the kernel) equals the TF.js path', () => {
    const [H, kvH, d] = [4, 2, 8];
    const layout = packPairs(longPairs(5, 3), 0, { sharePrompt: true, paddingFree: true, oneRow: true });
    expect(layout.rows).toBe(1);
    expect(layout.seqLen).toBeGreaterThan(5 * 256); // five spans at least
    const x = inputs(1, layout.seqLen, H, kvH, d, 90);
    resetFusedOpsUsed();
    const ours = valueAndGrads(fusedSeg(layout, d, true), x);
    expect(fusedOpsUsed()).toEqual(['segment_attention']);
    const ref = valueAndGrads(plainSeg(layout, d, true), x);
    ['output', 'dq', 'dk', 'dv'].forEach((name, i) => expect({ name, ok: relDiff(ours[i], ref[i]) < 2e-5 }).toEqual({ name, ok: true }));
    tf.dispose(Object.values(x));
  });

  test('an item of 256 positions or more (a span of its own): the same bits for its outputs and gradients in a row of its own and in one row with the whole batch', () => {
    const [H, kvH, d] = [4, 2, 8];
    const ex = longPairs(4, 8);
    const one = packPairs(ex, 0, { sharePrompt: true, paddingFree: true, oneRow: true });
    const own = packPairs(ex, 0, { sharePrompt: true }); // one row per pair, padded to the longest
    expect([one.rows, own.rows]).toEqual([1, 4]);
    // Item n sits at offset[n] of the one row and at the start of row n: cell (n, t) of `own` reads one-row cell offset[n] + t.
    const lengths = ex.map((e) => e.chosen.ids.length + e.rejected.ids.length - commonPrefix(e.chosen.ids, e.rejected.ids));
    const offsets = lengths.map((_, n) => lengths.slice(0, n).reduce((a, m) => a + m, 0)); // one row: end to end in input order
    expect(offsets[3] + lengths[3]).toBe(one.seqLen);
    const index = Int32Array.from({ length: 4 * own.seqLen }, (_, c) => {
      const [n, t] = [Math.floor(c / own.seqLen), c % own.seqLen];
      return t < lengths[n] ? offsets[n] + t : 0; // a padding cell (attends to itself only) reads any value
    });
    const x1 = inputs(1, one.seqLen, H, kvH, d, 95);
    const spread = (t: tf.Tensor4D) => tf.tidy(() => tf.gather(t.reshape([one.seqLen, t.shape[2], d]), tf.tensor1d(index, 'int32')).reshape([4, own.seqLen, t.shape[2], d]) as tf.Tensor4D);
    const x4 = { q: spread(x1.q), k: spread(x1.k), v: spread(x1.v), w: spread(x1.w) };
    const a = valueAndGrads(fusedSeg(one, d, true), x1);
    const b = valueAndGrads(fusedSeg(own, d, true), x4);
    const cell = (arr: Float32Array | Int32Array | Uint8Array, c: number, heads: number) => Array.from(arr.slice(c * heads * d, (c + 1) * heads * d));
    ['output', 'dq', 'dk', 'dv'].forEach((name, i) => {
      const heads = i < 2 ? H : kvH;
      let same = true;
      for (let n = 0; n < 4; n++) {
        for (let t = 0; t < lengths[n]; t++) {
          const u = cell(a[i], offsets[n] + t, heads);
          const v = cell(b[i], n * own.seqLen + t, heads);
          same = same && u.every((z, j) => z === v[j]);
        }
      }
      expect({ name, same }).toEqual({ name, same: true });
    });
    tf.dispose([...Object.values(x1), ...Object.values(x4)]);
  });

  test('one segment per row from position 0 is the causal kernel (float rounding apart: sums vectorised in another order)', () => {
    const [B, T, H, d] = [2, 37, 4, 8];
    const layout: PackedLayout = { rows: B, seqLen: T, positions: Int32Array.from({ length: B * T }, (_, i) => i % T), segStart: new Int32Array(B * T), prefixStart: new Int32Array(B * T), prefixEnd: new Int32Array(B * T) };
    const x = inputs(B, T, H, 2, d, 5);
    const rope = ropeTables(T, d);
    const seg = valueAndGrads(fusedSeg(layout, d, true), x);
    const causal = valueAndGrads(fused(rope, 1 / Math.sqrt(d)), x);
    ['output', 'dq', 'dk', 'dv'].forEach((name, i) => expect({ name, ok: relDiff(seg[i], causal[i]) < 1e-6 }).toEqual({ name, ok: true }));
    tf.dispose(Object.values(x));
    rope.dispose();
  });

  test('queries nobody reads (layout s stored as -1 - s): blocks of 8 such rows are skipped; read rows and all gradients are unchanged', () => {
    const [H, kvH, d] = [4, 2, 8];
    const layout = layoutOf(11, { sharePrompt: true, paddingFree: true });
    const { rows: B, seqLen: T } = layout;
    expect(T).toBeGreaterThanOrEqual(32); // so each row's first 16 cells (two blocks) can go unread
    // Read: the second half of every row and every 3rd cell of its second quarter (blocks mixing read and unread rows).
    const read = Int32Array.from({ length: B * T }, (_, i) => i).filter((i) => i % T >= T / 2 || (i % T >= 16 && i % 3 === 0));
    const readSet = new Set(read);
    const x = inputs(B, T, H, kvH, d, 70);
    const rope = ropeTables(T, d).flat;
    const mask = tf.tensor4d(Float32Array.from({ length: B * T }, (_, i) => (readSet.has(i) ? 1 : 0)), [B, T, 1, 1]);
    const run = (lt: tf.Tensor3D) => {
      const f = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => segmentAttention(q, k, v, 1 / Math.sqrt(d), rope, lt, () => { throw new Error('the fused kernel did not run'); }) as tf.Tensor4D;
      const out = tf.tidy(() => f(x.q, x.k, x.v));
      // A loss of the read rows only: an unread row's output has a zero gradient, as behind the last block's gather.
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D).mul(x.w).mul(mask).sum())([x.q, x.k, x.v]);
      const r = [out, ...grads].map((t) => Float32Array.from(t.dataSync()));
      tf.dispose([out, ...grads]);
      return r;
    };
    const full = layoutTensor(layout);
    const marked = layoutTensor(layout, read);
    expect(Array.from(marked.dataSync().filter((_, j) => j % 4 === 1)).filter((s) => s < 0).length).toBe(B * T - read.length);
    resetFusedOpsUsed();
    const [outFull, ...gradsFull] = run(full);
    const [outMarked, ...gradsMarked] = run(marked);
    expect(fusedOpsUsed()).toEqual(['segment_attention']);
    const rowOf = (o: Float32Array, i: number) => Array.from(o.slice(i * H * d, (i + 1) * H * d));
    // Rows read: the same values, bit for bit (the same code ran for their blocks).
    expect(read.every((i) => rowOf(outMarked, i).every((v, j) => v === rowOf(outFull, i)[j]))).toBe(true);
    // Blocks of 8 rows (from each row's start) without a read row were skipped: their outputs are exactly 0.
    let skipped = 0;
    for (let b = 0; b < B; b++) {
      for (let i0 = 0; i0 < T; i0 += 8) {
        const cells = Array.from({ length: Math.min(8, T - i0) }, (_, r) => b * T + i0 + r);
        if (cells.some((i) => readSet.has(i))) continue;
        skipped += cells.length;
        expect(cells.every((i) => rowOf(outMarked, i).every((v) => v === 0) && rowOf(outFull, i).some((v) => v !== 0))).toBe(true);
      }
    }
    expect(skipped).toBeGreaterThan(0);
    // Gradients: exactly those of the full computation (an unread row's contributions were zeros there).
    ['dq', 'dk', 'dv'].forEach((name, i) => expect({ name, same: gradsMarked[i].every((v, j) => v === gradsFull[i][j]) }).toEqual({ name, same: true }));
    tf.dispose([...Object.values(x), rope.cos, rope.sin, mask, full, marked]);
  });

  test('a layout the kernel cannot take is an error naming the token and the rule', () => {
    const layout = layoutOf(7, { sharePrompt: true });
    const x = inputs(layout.rows, layout.seqLen, 2, 2, 4, 1);
    const rope = ropeTables(layout.seqLen, 4);
    const bad = Float32Array.from(layoutTensor(layout).dataSync());
    bad[4 * 3 + 1] = 5; // token 3 of row 0: its own segment would start after it
    const lt = tf.tensor3d(bad, [layout.rows, layout.seqLen, 4]);
    expect(() => fusedSegmentAttention(x.q, x.k, x.v, rope.flat.cos, rope.flat.sin, lt, 1)).toThrow(/RlhfSegmentAttention: layout\[0\]\[3\] = \(3\.0+, 5\.0+, .*expected integers .*0 <= p0 <= p1 <= s <= t/);
    const short = tf.zeros([layout.rows, layout.seqLen - 1, 4]) as tf.Tensor3D;
    expect(() => fusedSegmentAttention(x.q, x.k, x.v, rope.flat.cos, rope.flat.sin, short, 1)).toThrow(/layout must be \[B,T,4\]/);
    tf.dispose([...Object.values(x), lt, short]);
    rope.dispose();
  });

  test('the model: packed log-probs, scores and gradients with the kernel equal the TF.js path (kernels off), no leaks', () => {
    const cfg: LlamaConfig = { model_type: 'llama', vocab_size: 40, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
      num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000,
      tie_word_embeddings: false, attention_bias: true, bos_token_id: null, eos_token_id: null, pad_token_id: null };
    const policy = LanguageModel.random(cfg, 3, { std: 0.2 });
    const rm = RewardModel.random(cfg, 4);
    const batch = layoutOf(9, { sharePrompt: true, paddingFree: true }) as ReturnType<typeof packPairs>;
    const run = () => {
      const vars = [...policy.variables(), ...rm.variables()];
      let vals: number[] = [];
      const { value, grads } = tf.variableGrads(() => {
        const lp = batchLogProbs(policy, batch, 2 * batch.size).sum;
        const sc = batchRewards(rm, batch);
        vals = [...lp.dataSync(), ...sc.dataSync()];
        return lp.sum().add(sc.mul(0.5).sum()) as tf.Scalar;
      }, vars);
      const g = vars.map((v) => grads[v.name].dataSync().slice());
      tf.dispose([value, grads]);
      return { vals, g };
    };
    resetFusedOpsUsed();
    const fusedRun = run();
    expect(fusedOpsUsed()).toContain('segment_attention');
    const before = tf.memory().numTensors;
    run();
    expect(tf.memory().numTensors).toBe(before);
    setNativeOpsEnabled(false);
    const plainRun = run();
    setNativeOpsEnabled(true);
    expect(relDiff(fusedRun.vals, plainRun.vals)).toBeLessThan(1e-5);
    fusedRun.g.forEach((g, i) => expect({ i, ok: relDiff(g, plainRun.g[i]) < 1e-5 }).toEqual({ i, ok: true }));
    policy.dispose();
    rm.dispose();
  });
});

describeIf(nativeOps, 'fused RMSNorm and SwiGLU gate', () => {
  beforeAll(onTensorflow);

  /** values and gradients of sum(f(a, b) · w) for inputs a, b. */
  function vg(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, a: tf.Tensor, b: tf.Tensor, w: tf.Tensor) {
    const y = tf.tidy(() => f(a, b));
    const g = tf.grads((x: tf.Tensor, z: tf.Tensor) => f(x, z).mul(w).sum())([a, b]);
    const r = [y, ...g].map((t) => t.dataSync().slice());
    tf.dispose([y, ...g]);
    return r;
  }

  test.each([[[3, 70, 64]], [[2, 5, 288]], [[7, 1]]])('RMSNorm on %j: values, dx and dw equal autodiff through plain ops', (shape) => {
    const D = shape[shape.length - 1];
    const x = tf.randomNormal(shape, 0, 2, 'float32', 21);
    const w = tf.randomNormal([D], 1, 0.3, 'float32', 22);
    const up = tf.randomNormal(shape, 0, 1, 'float32', 23);
    const eps = 1e-5;
    const ours = vg((a, b) => fusedRmsNorm(a, b, eps), x, w, up);
    const ref = vg((a, b) => a.mul(a.square().mean(-1, true).add(eps).rsqrt()).mul(b), x, w, up);
    ['y', 'dx', 'dw'].forEach((name, i) => expect({ name, ok: relDiff(ours[i], ref[i]) < 2e-5 }).toEqual({ name, ok: true }));
    tf.dispose([x, w, up]);
  });

  test('silu(g)·u: values and both gradients equal autodiff, also for large |g| (no overflow)', () => {
    const n = 70000; // more than one work chunk
    const g = tf.concat([tf.randomNormal([n - 4], 0, 3, 'float32', 31), tf.tensor1d([-120, -30, 30, 120])]);
    const u = tf.randomNormal([n], 0, 1, 'float32', 32);
    const w = tf.randomNormal([n], 0, 1, 'float32', 33);
    const ours = vg(fusedSiluMul, g, u, w);
    const ref = vg((a, b) => a.mul(tf.sigmoid(a)).mul(b), g, u, w);
    ['y', 'dg', 'du'].forEach((name, i) => expect({ name, ok: relDiff(ours[i], ref[i]) < 2e-5 }).toEqual({ name, ok: true }));
    expect(ours.every((a) => a.every(Number.isFinite))).toBe(true);
    tf.dispose([g, u, w]);
  });

  test('every thread of the kernel pool flushes denormals to zero, as TensorFlow\'s own threads do (one result whichever thread ran a task)', () => {
    // 10M elements: ~300 work chunks, so the pool's workers take many of them. silu(g)·u of g = u = 1e-20 is ~5e-41,
    // a denormal: flushed, exactly 0. A denormal input (1e-39) is read as 0 too. Both are 0 through TF's own ops.
    const n = 10_000_000;
    const g = tf.fill([n], 1e-20);
    const u = tf.fill([n], 1e-20);
    const tiny = tf.fill([n], 1e-39);
    const y = fusedSiluMul(g, u);
    const z = fusedSiluMul(tiny, tf.onesLike(tiny));
    const nonzero = (t: tf.Tensor) => (t.dataSync() as Float32Array).reduce((c, x) => c + (x !== 0 ? 1 : 0), 0);
    expect([nonzero(y), nonzero(z)]).toEqual([0, 0]);
    expect(nonzero(tf.tidy(() => g.mul(tf.sigmoid(g)).mul(u)))).toBe(0);
    tf.dispose([g, u, tiny, y, z]);
  });

  test('the model runs one RMSNorm kernel per norm and one gate kernel per layer, and none with the ops turned off', async () => {
    const cfg: LlamaConfig = { model_type: 'llama', vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2,
      num_attention_heads: 2, num_key_value_heads: 2, head_dim: 8, max_position_embeddings: 16, rms_norm_eps: 1e-5, rope_theta: 10000,
      tie_word_embeddings: true, attention_bias: false, bos_token_id: null, eos_token_id: null, pad_token_id: null };
    const model = LanguageModel.random(cfg, 3);
    const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
    const count = async () => {
      const prof = await tf.profile(() => tf.tidy(() => model.logits(ids).dataSync()) as unknown as tf.Tensor);
      return [RMS_NORM, SILU_MUL].map((k) => prof.kernels.filter((x) => x.name === k).length);
    };
    expect(await count()).toEqual([2 * cfg.num_hidden_layers + 1, cfg.num_hidden_layers]);
    setNativeOpsEnabled(false);
    expect(await count()).toEqual([0, 0]);
    setNativeOpsEnabled(true);
    ids.dispose();
    model.dispose();
  });
});

describeIf(nativeOps, 'fused log-softmax and target pick (the LM head)', () => {
  beforeAll(onTensorflow);

  /** picked, lse and the gradient for dy, from backend/ops with the kernels on or off (TF.js ops). */
  function run(logits: tf.Tensor2D, targets: Int32Array, dy: tf.Tensor1D, on: boolean) {
    setNativeOpsEnabled(on);
    try {
      return tf.tidy(() => {
        const { picked, lse } = logSoftmaxPick(logits, targets);
        return [picked, lse, logSoftmaxPickGrad(logits, lse, targets, dy)].map((t) => t.dataSync().slice());
      });
    } finally {
      setNativeOpsEnabled(true);
    }
  }

  // V 37: the tail past the last full vector; V 4099: several tasks a row; 70 rows: more than one task for V 37.
  test.each([[70, 37], [5, 4099], [3, 2]])('%i rows × V %i: picked, lse and the gradient equal the TF.js ops within float rounding', (N, V) => {
    const logits = tf.randomNormal([N, V], 0, 4, 'float32', 41) as tf.Tensor2D;
    const targets = Int32Array.from({ length: N }, (_, i) => (i * 7 + 3) % V);
    const dy = tf.randomNormal([N], 0, 1, 'float32', 42) as tf.Tensor1D;
    const ours = run(logits, targets, dy, true);
    const ref = run(logits, targets, dy, false);
    ['picked', 'lse', 'g'].forEach((name, i) => expect({ name, ok: relDiff(ours[i], ref[i]) < 2e-6 }).toEqual({ name, ok: true }));
    // The gradient's rows sum to 0 (one-hot minus a distribution), times dy.
    const g = ours[2];
    const dys = dy.dataSync();
    for (let n = 0; n < N; n++) expect(Math.abs(Array.from(g.subarray(n * V, (n + 1) * V)).reduce((a, b) => a + b, 0))).toBeLessThan(1e-5 * (1 + Math.abs(dys[n])));
    tf.dispose([logits, dy]);
  });

  test('extreme logits: a dominant logit gives picked 0 and a finite gradient; -1e30 elsewhere weighs nothing', () => {
    const logits = tf.tensor2d([[1e4, 0, -1e30, 5], [-1e30, -1e30, 3, -1e30]]);
    const targets = Int32Array.from([0, 2]);
    const dy = tf.tensor1d([1, -2]);
    const [picked, lse, g] = run(logits, targets, dy, true);
    expect(Array.from(picked)).toEqual([0, 0]);
    expect(Array.from(lse)).toEqual([1e4, 3]);
    expect(Array.from(g).every(Number.isFinite)).toBe(true);
    expect(Math.max(...Array.from(g).map(Math.abs))).toBeLessThan(1e-6);
    tf.dispose([logits, dy]);
  });

  test('a target outside the vocabulary is an error naming the row, the value and the range', () => {
    const logits = tf.zeros([2, 5]) as tf.Tensor2D;
    expect(() => logSoftmaxPick(logits, Int32Array.from([1, 5]))).toThrow(/RlhfLogSoftmaxPick: targets\[1\] = 5\.0+ is not a token id in \[0, 5\)/);
    expect(() => logSoftmaxPick(logits, Int32Array.from([1]))).toThrow(/2 rows of logits but 1 targets/);
    logits.dispose();
  });

  test('the head runs one kernel per chunk forward and one per chunk backward, no leaks, and none with the ops turned off', async () => {
    const h = tf.randomNormal([9, 6], 0, 1, 'float32', 43) as tf.Tensor2D;
    const w = tf.randomNormal([40, 6], 0, 1, 'float32', 44) as tf.Tensor2D;
    const targets = Int32Array.from({ length: 9 }, (_, i) => (i * 11) % 40);
    const count = async () => {
      const before = tf.memory().numTensors;
      const prof = await tf.profile(() => tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => headLogProbs(a as tf.Tensor2D, b as tf.Tensor2D, targets, { chunkRows: 4 }).sum())([h, w])[1]));
      tf.dispose(prof.result as tf.Tensor);
      expect(tf.memory().numTensors).toBe(before);
      return ['RlhfLogSoftmaxPick', 'RlhfLogSoftmaxPickGrad'].map((k) => prof.kernels.filter((x) => x.name === k).length);
    };
    resetFusedOpsUsed();
    expect(await count()).toEqual([3, 3]); // 3 chunks of 4 rows, every chunk's logits kept (no recomputation)
    expect(fusedOpsUsed()).toEqual(['log_softmax_pick']);
    setNativeOpsEnabled(false);
    expect(await count()).toEqual([0, 0]);
    setNativeOpsEnabled(true);
    expect(LOG_SOFTMAX_PICK).toBe('RlhfLogSoftmaxPick');
    tf.dispose([h, w]);
  });

  test('a model\'s scored log-probs and their gradients: the kernels equal the TF.js ops', () => {
    const model = LanguageModel.random({ model_type: 'llama', vocab_size: 300, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1,
      num_attention_heads: 2, num_key_value_heads: 1, head_dim: 8, max_position_embeddings: 16, rms_norm_eps: 1e-5, rope_theta: 10000,
      tie_word_embeddings: true, attention_bias: false, bos_token_id: null, eos_token_id: null, pad_token_id: null } as LlamaConfig, 5);
    const idsArr = [1, 5, 6, 7, 8, 1, 9, 10, 299, 0];
    const ids = tf.tensor2d(idsArr, [2, 5], 'int32');
    const scored = paddedScoredTokens(idsArr, [0, 1, 1, 1, 1, 0, 1, 1, 1, 0], 2, 5);
    const vars = [...model.weights.values()] as tf.Variable[];
    const both = (on: boolean) => {
      setNativeOpsEnabled(on);
      try {
        const { value, grads } = tf.variableGrads(() => scoredLogProbs(model, model.hidden(ids), scored, { chunkRows: 3 }).sum.mul(tf.tensor1d([0.7, -1.3])).sum() as tf.Scalar, vars);
        const r = [value, ...vars.map((v) => grads[v.name])].map((t) => t.dataSync().slice());
        tf.dispose([value, ...Object.values(grads)]);
        return r;
      } finally {
        setNativeOpsEnabled(true);
      }
    };
    const ours = both(true);
    const ref = both(false);
    ours.forEach((a, i) => expect({ i, ok: relDiff(a, ref[i]) < 2e-5 }).toEqual({ i, ok: true }));
    ids.dispose();
    model.dispose();
  });
});

describeIf(nativeOps, 'fused optimizer kernels', () => {
  beforeAll(onTensorflow);

  /** Three parameters (one a norm weight: not decayed), gradients for two of them in step 2. */
  function params(): Map<string, tf.Variable> {
    return new Map([
      ['model.layers.0.mlp.up_proj.weight', tf.variable(tf.randomNormal([70000], 0, 0.1, 'float32', 1), true)], // > one work chunk
      ['model.layers.0.input_layernorm.weight', tf.variable(tf.randomNormal([8], 1, 0.1, 'float32', 2), true)],
      ['model.embed_tokens.weight', tf.variable(tf.randomNormal([16, 8], 0, 0.1, 'float32', 3), true)],
    ]);
  }

  async function run(fused: boolean) {
    setNativeOpsEnabled(fused);
    const ps = params();
    const opt = new AdamW(ps, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
    let launches = 0;
    for (let step = 0; step < 3; step++) {
      const grads = new Map([...ps].filter(([n]) => step !== 1 || !n.includes('embed')).map(([n, p], i) => [n, tf.randomNormal(p.shape, 0, 1, 'float32', 100 + 10 * step + i)]));
      const prof = await tf.profile(() => opt.apply(grads, 1e-3 * (step + 1)));
      launches = Math.max(launches, prof.kernels.filter((k) => k.name === ADAMW).length);
      tf.dispose([...grads.values()]);
    }
    const state = [...ps.values(), ...opt.state().tensors.values()].map((t) => t.dataSync().slice());
    opt.dispose();
    ps.forEach((p) => p.dispose());
    setNativeOpsEnabled(true);
    return { state, launches };
  }

  test('AdamW: one kernel per step, parameters and moments bit-identical to the TF.js ops (decay, undecayed norms, a missing gradient)', async () => {
    const fused = await run(true);
    const plain = await run(false);
    expect([fused.launches, plain.launches]).toEqual([1, 0]);
    expect(fused.state.length).toBe(plain.state.length);
    fused.state.forEach((a, i) => expect({ i, same: a.every((x, j) => Object.is(x, plain.state[i][j])) }).toEqual({ i, same: true }));
  });

  test('the global gradient norm: one kernel, the TF.js sum within float rounding', async () => {
    const grads = new Map([['a', tf.randomNormal([40000], 0, 1, 'float32', 4)], ['b', tf.randomNormal([3, 5], 0, 1, 'float32', 5)]]);
    const prof = await tf.profile(() => tf.dispose(Object.values(clipByGlobalNorm(grads, 1.0)).flatMap((x) => (x instanceof Map ? [...x.values()] : [x]))));
    expect(prof.kernels.filter((k) => k.name === SUM_SQUARES).length).toBe(1);
    const ref = tf.tidy(() => tf.addN([...grads.values()].map((g) => g.square().sum())).dataSync()[0]);
    const got = tf.tidy(() => fusedSumSquares([...grads.values()]).dataSync()[0]);
    expect(Math.abs(got - ref) / ref).toBeLessThan(1e-6);
    tf.dispose([...grads.values()]);
  });

  test('AdamW rejects a moment shaped unlike its parameter, naming both shapes', () => {
    const [p, bad] = [tf.zeros([4]), tf.zeros([5])];
    const h = tf.zeros([7]);
    const d = tf.ones([1]);
    expect(() => tf.engine().runKernel(ADAMW, { p0: p, m0: bad, v0: p, g0: p, hyper: h, decay: d }, { N: 1 })).toThrow(/RlhfAdamW: parameter 0 is \[4\].*\[5\]/);
    tf.dispose([p, bad, h, d]);
  });
});

describeIf(nativeOps, 'the model uses it exactly where it is exact', () => {
  beforeAll(onTensorflow);

  const cfg: LlamaConfig = { model_type: 'llama', vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000,
    tie_word_embeddings: true, attention_bias: false, bos_token_id: null, eos_token_id: null, pad_token_id: null };

  async function logitsAndKernels(model: LanguageModel, ids: tf.Tensor2D, mask: tf.Tensor2D) {
    let logits: number[][][] = [];
    const prof = await tf.profile(() => {
      logits = tf.tidy(() => model.logits(ids, mask).arraySync());
    });
    return { logits, fusedCalls: prof.kernels.filter((k) => k.name === CAUSAL_ATTENTION).length };
  }

  test('right padding: the fused kernel in every layer, the same logits at real positions as plain ops; left padding: plain ops', async () => {
    const model = LanguageModel.random(cfg, 7);
    const ids = tf.tensor2d([[1, 5, 9, 3, 0, 0], [4, 4, 2, 8, 6, 1]], undefined, 'int32');
    const right = tf.tensor2d([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]);
    const left = tf.tensor2d([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]);
    const fused = await logitsAndKernels(model, ids, right);
    setNativeOpsEnabled(false);
    const unfused = await logitsAndKernels(model, ids, right);
    setNativeOpsEnabled(true);
    expect([fused.fusedCalls, unfused.fusedCalls]).toEqual([cfg.num_hidden_layers, 0]);
    const real = (l: number[][][]) => [l[0].slice(0, 4), l[1]].flat(2);
    expect(relDiff(real(fused.logits), real(unfused.logits))).toBeLessThan(1e-5);
    expect((await logitsAndKernels(model, ids, left)).fusedCalls).toBe(0);
    tf.dispose([ids, right, left]);
    model.dispose();
  });

  test('GPT-2: the attention kernel in every layer (no RoPE), no RMSNorm or gate kernel; the same logits as plain ops; left padding: plain ops', async () => {
    const gcfg = parseGPT2Config({ vocab_size: 64, n_embd: 32, n_layer: 3, n_head: 4, n_positions: 16, n_inner: 48 });
    const model = LanguageModel.random(gcfg, 5, { std: 0.2 });
    const ids = tf.tensor2d([[1, 5, 9, 3, 0, 0], [4, 4, 2, 8, 6, 1]], undefined, 'int32');
    const right = tf.tensor2d([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]);
    const left = tf.tensor2d([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]);
    const kernels = async (mask: tf.Tensor2D) => {
      let logits: number[][][] = [];
      const prof = await tf.profile(() => {
        logits = tf.tidy(() => model.logits(ids, mask).arraySync());
      });
      return { logits, counts: [CAUSAL_ATTENTION, RMS_NORM, SILU_MUL].map((k) => prof.kernels.filter((x) => x.name === k).length) };
    };
    resetFusedOpsUsed();
    const fused = await kernels(right);
    expect(fusedOpsUsed()).toEqual(['causal_attention']);
    setNativeOpsEnabled(false);
    const unfused = await kernels(right);
    setNativeOpsEnabled(true);
    expect([fused.counts, unfused.counts]).toEqual([[gcfg.num_hidden_layers, 0, 0], [0, 0, 0]]);
    const real = (l: number[][][]) => [l[0].slice(0, 4), l[1]].flat(2);
    expect(relDiff(real(fused.logits), real(unfused.logits))).toBeLessThan(1e-5);
    expect((await kernels(left)).counts).toEqual([0, 0, 0]);
    tf.dispose([ids, right, left]);
    model.dispose();
  });

  test('rlhf env says the fused kernels are in use', () => {
    const env = describeEnvironment();
    expect(env.nativeOps).toEqual({ loaded: true, threads: expect.any(Number) });
    expect(env.text).toMatch(/^fused: +causal attention with RoPE, packed-row \(segment\) attention, RMSNorm, SwiGLU gate, gradient norm, AdamW \(native\/rlhf_ops\.cc, \d+ threads\)$/m);
  });

  test('is off on other backends', async () => {
    expect(fusedOpsAvailable()).toBe(true);
    await tf.setBackend('cpu');
    expect(fusedOpsAvailable()).toBe(false);
    await initBackend('tensorflow');
  });
});

describe('loading', () => {
  test('RLHF_NATIVE_OPS: unset, 0 and 1 are the choices; anything else names them', () => {
    expect([nativeOpsMode({}), nativeOpsMode({ RLHF_NATIVE_OPS: '0' }), nativeOpsMode({ RLHF_NATIVE_OPS: '1' })]).toEqual(['auto', 'off', 'required']);
    expect(() => nativeOpsMode({ RLHF_NATIVE_OPS: 'yes' })).toThrow(/RLHF_NATIVE_OPS="yes".*expected 0.*1/);
  });

  test('RLHF_NATIVE_THREADS: unset or an integer from 1 to 256; anything else names the range', () => {
    expect([nativeThreadsSetting({}), nativeThreadsSetting({ RLHF_NATIVE_THREADS: ' 3 ' }), nativeThreadsSetting({ RLHF_NATIVE_THREADS: '256' })]).toEqual([undefined, 3, 256]);
    for (const bad of ['0', '-2', '1.5', 'two', '257']) {
      expect(() => nativeThreadsSetting({ RLHF_NATIVE_THREADS: bad })).toThrow(new RegExp(`RLHF_NATIVE_THREADS="${bad}" is not valid; expected an integer from 1 to 256`));
    }
  });

  /** The pool size the addon picks in a fresh process (the pool is made once, when the addon loads). */
  function poolThreads(env: NodeJS.ProcessEnv, prefix: string[] = []): number {
    const script = `require('@tensorflow/tfjs-node'); process.stdout.write(String(require(${JSON.stringify(NATIVE_OPS_ADDON)}).threads));`;
    const cmd = [...prefix, process.execPath, '-e', script];
    const r = spawnSync(cmd[0], cmd.slice(1), { cwd: path.resolve(__dirname, '../..'), env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', ...env }, encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
    return Number(r.stdout.trim());
  }

  const unset = { RLHF_NATIVE_THREADS: '' };

  testIf(nativeOps, 'the kernels use at most the CPUs the process may run on, or RLHF_NATIVE_THREADS', () => {
    expect(poolThreads({ RLHF_NATIVE_THREADS: '3' })).toBe(3);
    // Sized by the host's core count, the pool would oversubscribe a process held to fewer CPUs (containers).
    // At most the CPUs of the affinity mask (os.availableParallelism); fewer where a cgroup quota says so.
    const auto = poolThreads(unset);
    expect(auto).toBeGreaterThanOrEqual(1);
    expect(auto).toBeLessThanOrEqual(os.availableParallelism());
  });

  testIf(allOf(nativeOps, cpus(2), executable('/usr/bin/taskset', 'to narrow the affinity mask')), 'the kernels honour the affinity mask: taskset -c 0 gives a pool of 1 thread', () => {
    expect(poolThreads(unset, ['/usr/bin/taskset', '-c', '0'])).toBe(1);
  });

  test('a missing addon or one built from another source version is not used, and says why', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-native-ops-'));
    const saved = process.env.RLHF_NATIVE_OPS;
    try {
      delete process.env.RLHF_NATIVE_OPS;
      const stale = path.join(dir, 'stale.js');
      fs.writeFileSync(stale, 'module.exports = { abi: 999, threads: 2 };');
      const load = (p: string) => {
        let s: unknown;
        jest.isolateModules(() => {
          s = (require('../../src/backend/native-ops') as typeof import('../../src/backend/native-ops')).loadNativeOps(p);
        });
        return s as { loaded: boolean; reason: string };
      };
      expect(load(path.join(dir, 'none.node'))).toEqual({ loaded: false, reason: expect.stringMatching(/none\.node is not built.*setup-native/) });
      expect(load(stale)).toEqual({ loaded: false, reason: expect.stringMatching(new RegExp(`another version.*abi 999, expected ${NATIVE_OPS_ABI}`)) });
      process.env.RLHF_NATIVE_OPS = '1';
      expect(() => load(path.join(dir, 'none.node'))).toThrow(/RLHF_NATIVE_OPS=1 but the fused native ops cannot be used: .*not built/);
    } finally {
      if (saved === undefined) delete process.env.RLHF_NATIVE_OPS;
      else process.env.RLHF_NATIVE_OPS = saved;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
