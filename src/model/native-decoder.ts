/**
 * The native decoder (native/decoder.h through backend/native-ops.ts): the model's weights are read once
 * (dataSync) and copied into a native session that owns the KV cache and runs a whole prompt pass or decode
 * step per call, multi-threaded, returning next-token logits. `refresh()` copies the weights again (a trainer
 * calls it after each optimiser step that the next sampling should see).
 *
 * The weights go over in the order native/decoder.h's Session::WeightSizes expects, named here by their
 * Hugging Face names. Native memory is freed by dispose() (and by the handle's finaliser if it is forgotten).
 *
 * Does: marshal weights and ids. Does NOT: sample (sampling.ts) or decide when rows end (sample-batch.ts).
 */
import { nativeDecoderAddon, type DecoderAddon } from '../backend/native-ops';
import type { Decoder } from './types';
import { ModelError } from './errors';
import type { LanguageModel } from './language-model';
import { layerPrefix, type LlamaConfig } from './families/llama';

/**
 * The session's family code (native/decoder.h DecoderSpec::family) for this model, or why it has none: only
 * Llama-family layers (Llama, Qwen2) are written natively; other families (GPT-2) sample on the TF.js decoder.
 */
export function nativeFamily(model: LanguageModel): { code: number } | { reason: string } {
  if (model.family.name === 'llama') return { code: 0 };
  return { reason: `the native decoder implements Llama-family layers only; this model is ${model.family.name} (model_type ${model.config.model_type})` };
}

/** HF weight names in the session's order: embed, final norm, [lm_head], then per layer norm, q, k, v, [biases], o, norm, gate, up, down. */
export function nativeWeightOrder(model: LanguageModel<LlamaConfig>): string[] {
  const c = model.config;
  const names = ['model.embed_tokens.weight', 'model.norm.weight'];
  if (!c.tie_word_embeddings) names.push('lm_head.weight');
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = layerPrefix(i);
    names.push(`${p}.input_layernorm.weight`, `${p}.self_attn.q_proj.weight`, `${p}.self_attn.k_proj.weight`, `${p}.self_attn.v_proj.weight`);
    if (c.attention_bias) names.push(`${p}.self_attn.q_proj.bias`, `${p}.self_attn.k_proj.bias`, `${p}.self_attn.v_proj.bias`);
    names.push(`${p}.self_attn.o_proj.weight`, `${p}.post_attention_layernorm.weight`, `${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`, `${p}.mlp.down_proj.weight`);
  }
  return names;
}

export class NativeDecoder implements Decoder {
  readonly name = 'native';
  private handle: object | null;
  private rows = 0;
  private out = new Float32Array(0);

  private constructor(private readonly model: LanguageModel<LlamaConfig>, private readonly addon: DecoderAddon, family: number) {
    const c = model.config;
    const spec = Int32Array.from([family, c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
      c.intermediate_size, c.vocab_size, c.max_position_embeddings, c.tie_word_embeddings ? 1 : 0, c.attention_bias ? 1 : 0]);
    this.handle = addon.decoderCreate(spec, Float32Array.from([c.rms_norm_eps, c.rope_theta]), this.weights());
  }

  /**
   * A session holding a copy of the model's current weights. Call only when nativeDecoderStatus() is null; a
   * family without native layers (nativeFamily) is an error here (pickDecoder falls back to TF.js before this).
   */
  static create(model: LanguageModel): NativeDecoder {
    const fam = nativeFamily(model);
    if ('reason' in fam) throw new ModelError(`${fam.reason}; use decoder "tfjs" or "auto"`);
    return new NativeDecoder(model as LanguageModel<LlamaConfig>, nativeDecoderAddon(), fam.code);
  }

  async prefill(prompts: number[][], capacity: number[]): Promise<Float32Array> {
    const B = prompts.length;
    this.rows = B;
    if (this.out.length !== B * this.model.config.vocab_size) this.out = new Float32Array(B * this.model.config.vocab_size);
    this.addon.decoderPrefill(this.live(), Int32Array.from(prompts.flat()), Int32Array.from(prompts, (p) => p.length), Int32Array.from(capacity), this.out);
    return this.out;
  }

  async step(tokens: Int32Array, active: Uint8Array): Promise<Float32Array> {
    this.addon.decoderStep(this.live(), tokens, active, this.out);
    return this.out;
  }

  refresh(): void {
    this.addon.decoderSetWeights(this.live(), this.weights());
  }

  dispose(): void {
    if (this.handle) this.addon.decoderFree(this.handle);
    this.handle = null;
  }

  private live(): object {
    if (!this.handle) throw new ModelError('this native decoder was disposed');
    return this.handle;
  }

  /** The weights as Float32Arrays in the session's order (dataSync: a copy of each variable's values). */
  private weights(): Float32Array[] {
    return nativeWeightOrder(this.model).map((name) => {
      const v = this.model.weights.get(name);
      if (!v) throw new ModelError(`the native decoder needs weight ${name}, which this model lacks (a headless reward backbone has no LM head)`);
      return v.dataSync() as Float32Array;
    });
  }
}
