/**
 * An independent, deliberately plain reference for the tests: the Llama forward pass written with
 * nested loops over JS numbers (float64), following HF's modeling_llama step by step (explicit
 * repeat_kv, rotate_half, additive masks). Slow; only for tiny models.
 */
import * as tf from '@tensorflow/tfjs';
import type { LlamaConfig } from '../../src/model/families/llama';

type Mat = number[][];
export type Weights = Map<string, { data: Float32Array; shape: number[] }>;

export function snapshot(weights: Map<string, tf.Tensor>): Weights {
  const out: Weights = new Map();
  for (const [k, v] of weights) out.set(k, { data: v.dataSync() as Float32Array, shape: v.shape });
  return out;
}

function mat(w: Weights, name: string): Mat {
  const t = w.get(name)!;
  const [r, c] = t.shape;
  return Array.from({ length: r }, (_, i) => Array.from(t.data.subarray(i * c, (i + 1) * c)));
}
const vec = (w: Weights, name: string): number[] => Array.from(w.get(name)!.data);
/** x [T, in] · Wᵀ for W [out, in] (+ b). */
const lin = (x: Mat, W: Mat, b?: number[]): Mat =>
  x.map((row) => W.map((wr, o) => wr.reduce((s, wv, i) => s + wv * row[i], b ? b[o] : 0)));
const rms = (x: Mat, g: number[], eps: number): Mat =>
  x.map((row) => {
    const ms = row.reduce((s, v) => s + v * v, 0) / row.length;
    return row.map((v, i) => (v / Math.sqrt(ms + eps)) * g[i]);
  });

/** logits [T, V] for one unpadded sequence (callers slice rows for padding checks), or with a key mask. */
export function naiveLogits(cfg: LlamaConfig, w: Weights, ids: number[], keyMask?: number[]): Mat {
  const T = ids.length;
  const { num_attention_heads: H, num_key_value_heads: KV, head_dim: d } = cfg;
  const E = mat(w, 'model.embed_tokens.weight');
  let x: Mat = ids.map((id) => [...E[id]]);
  const inv = Array.from({ length: d / 2 }, (_, i) => 1 / Math.pow(cfg.rope_theta, (2 * i) / d));
  const rope = (v: number[], pos: number): number[] => {
    const cos = [...inv, ...inv].map((f) => Math.cos(pos * f));
    const sin = [...inv, ...inv].map((f) => Math.sin(pos * f));
    const rot = [...v.slice(d / 2).map((a) => -a), ...v.slice(0, d / 2)]; // rotate_half
    return v.map((a, i) => a * cos[i] + rot[i] * sin[i]);
  };
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const bias = (n: string) => (cfg.attention_bias ? vec(w, `${p}.self_attn.${n}_proj.bias`) : undefined);
    const h = rms(x, vec(w, `${p}.input_layernorm.weight`), cfg.rms_norm_eps);
    const q = lin(h, mat(w, `${p}.self_attn.q_proj.weight`), bias('q'));
    const k = lin(h, mat(w, `${p}.self_attn.k_proj.weight`), bias('k'));
    const v = lin(h, mat(w, `${p}.self_attn.v_proj.weight`), bias('v'));
    const att: Mat = Array.from({ length: T }, () => new Array(H * d).fill(0));
    for (let hh = 0; hh < H; hh++) {
      const kvh = Math.floor(hh / (H / KV)); // repeat_kv
      const qs = q.map((r, t) => rope(r.slice(hh * d, (hh + 1) * d), t));
      const ks = k.map((r, t) => rope(r.slice(kvh * d, (kvh + 1) * d), t));
      const vs = v.map((r) => r.slice(kvh * d, (kvh + 1) * d));
      for (let t = 0; t < T; t++) {
        const s = ks.map((kr, j) =>
          j > t || (keyMask && keyMask[j] === 0) ? -Infinity : kr.reduce((a, kv, i) => a + kv * qs[t][i], 0) / Math.sqrt(d));
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < T; j++) for (let i = 0; i < d; i++) att[t][hh * d + i] += (e[j] / z) * vs[j][i];
      }
    }
    const o = lin(att, mat(w, `${p}.self_attn.o_proj.weight`));
    x = x.map((r, t) => r.map((a, i) => a + o[t][i]));
    const h2 = rms(x, vec(w, `${p}.post_attention_layernorm.weight`), cfg.rms_norm_eps);
    const g = lin(h2, mat(w, `${p}.mlp.gate_proj.weight`));
    const u = lin(h2, mat(w, `${p}.mlp.up_proj.weight`));
    const act = g.map((r, t) => r.map((a, i) => (a / (1 + Math.exp(-a))) * u[t][i]));
    const dn = lin(act, mat(w, `${p}.mlp.down_proj.weight`));
    x = x.map((r, t) => r.map((a, i) => a + dn[t][i]));
  }
  const hf = rms(x, vec(w, 'model.norm.weight'), cfg.rms_norm_eps);
  return lin(hf, mat(w, cfg.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'));
}

export function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}
