/**
 * The benchmark's real-size model: SmolLM2-135M's configuration (src/bench/models.ts), checked by shape and
 * parameter count only (building and training it is the benchmark's job, far too big for a unit test): the
 * count worked by hand, its FLOPs, and transformers' own LlamaForCausalLM built from the config.json we would
 * write (on the meta device: no memory) holding the same tensors.
 */
import { benchConfig, BENCH_MODELS, paramCount, SMOLLM2_135M } from '../../src/bench/models';
import { matmulWeights, trainFlopsPerToken } from '../../src/bench/flops';
import { weightSpecs } from '../../src/model/families';
import { llamaHfConfig } from '../../src/model/families/llama/config';
import { describeIf } from '../helpers/gates';
import { pythonWith, runPython } from '../helpers/python';

describe('smollm2-135m', () => {
  const c = benchConfig('smollm2-135m');

  test('is a bench model with SmolLM2-135M shapes', () => {
    expect(BENCH_MODELS).toContain('smollm2-135m');
    expect(c).toMatchObject({
      hidden_size: 576, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64, intermediate_size: 1536,
      vocab_size: 49152, tie_word_embeddings: true, rope_theta: 100000, max_position_embeddings: 8192,
    });
    expect(SMOLLM2_135M.vocab_size).toBe(49152);
  });

  test('134,515,008 parameters (~135M), worked by hand', () => {
    const layer = 576 * 576 + 2 * 576 * 192 + 576 * 576 + 3 * 576 * 1536 + 2 * 576; // q, k, v, o, MLP, 2 norms
    expect(layer).toBe(3540096);
    const total = 30 * layer + 49152 * 576 + 576; // + tied embedding + final norm
    expect(total).toBe(134515008);
    expect(paramCount(c)).toBe(total);
    // FLOPs: the matrix weights (tied head counted once more as the output projection), 6N + 12·L·T·d at T = 512.
    const N = 30 * (layer - 2 * 576) + 49152 * 576;
    expect(matmulWeights(c, 'lm')).toBe(N);
    expect(trainFlopsPerToken(c, 512, 'lm')).toBe(6 * N + 12 * 30 * 512 * 576);
  });

  test('the other random-init models keep their vocabulary of 512', () => {
    expect(benchConfig('15m').vocab_size).toBe(512);
    expect(paramCount(benchConfig('15m'))).toBe(6 * (4 * 288 * 288 + 3 * 288 * 768 + 2 * 288) + 512 * 288 + 288);
    expect(() => benchConfig('70b')).toThrow(/"70b" is not one of stories260K, 15m, smollm2-135m, tiny/);
  });
});

describeIf(pythonWith(['torch', 'transformers']), 'smollm2-135m in transformers', () => {
  test("LlamaForCausalLM from our config.json has our tensors' names and shapes, and 134,515,008 parameters", () => {
    const c = benchConfig('smollm2-135m');
    const script = [
      'import json, sys, torch',
      'from transformers import LlamaConfig, LlamaForCausalLM',
      'cfg = LlamaConfig(**json.load(sys.stdin))',
      "with torch.device('meta'):",
      '    m = LlamaForCausalLM(cfg)',
      'shapes = {k: list(v.shape) for k, v in m.state_dict().items()}',
      "print(json.dumps({'params': sum(p.numel() for p in m.parameters()), 'shapes': shapes}))",
    ].join('\n');
    const got = runPython<{ params: number; shapes: Record<string, number[]> }>(script, llamaHfConfig(c), 240000);
    expect(got.params).toBe(134515008);
    const ours = Object.fromEntries(weightSpecs(c, 'causal_lm').map((s) => [s.name, s.shape]));
    // transformers lists the tied head as its own entry of the state dict; the tensor is the embedding.
    const { ['lm_head.weight']: head, ...theirs } = got.shapes;
    expect(head).toEqual([49152, 576]);
    expect(theirs).toEqual(ours);
  });
});
