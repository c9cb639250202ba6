"""Oracle for test/model/gpt2-reference.test.ts: transformers builds small random GPT-2 models, saves them as
Hugging Face folders, and reports what it computes on them; and it loads folders this toolkit wrote.

stdin: {"dir": ..., "ids": [[...]], "mask": [[...]], "prompt": [...], "new_tokens": n, "ours": [{"kind", "dir"}]}
stdout: {"made": {name: {"kind", "dir", "values"}}, "greedy": [...], "loaded": [{"cls", "values"}]}
  made:   folders transformers wrote, with its logits [B, T, V] (causal LM) or scores [B] (classifier) on ids/mask:
          "lm" (tied head), "lm_untied", "lm_legacy" (the original gpt2 upload's layout: no "transformer." prefix,
          the old attn.bias buffers), "rm" (GPT2ForSequenceClassification, pad_token_id set)
  greedy: generate(prompt, do_sample=False, max_new_tokens=n) on "lm", the new tokens only
  loaded: for each folder in "ours", AutoModelForCausalLM / AutoModelForSequenceClassification's class and outputs
"""
import json
import os
import sys

import safetensors.torch
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel


def config(**over):
    base = dict(vocab_size=50, n_embd=24, n_layer=2, n_head=3, n_positions=32, n_inner=40, initializer_range=0.2,
                bos_token_id=1, eos_token_id=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    base.update(over)
    return GPT2Config(**base)


def randomise_norms(model, seed):
    """LayerNorm weights and biases away from their init (ones, zeros), so those paths are exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" in name or name.endswith(".bias"):
                p.copy_(torch.rand(p.shape, generator=g) * 2 - 0.5)


def outputs(model, kind, ids, mask):
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask).logits.float()
    return out[:, 0].tolist() if kind == "reward" else out.tolist()


def main():
    req = json.load(sys.stdin)
    ids = torch.tensor(req["ids"])
    mask = torch.tensor(req["mask"])
    made = {}
    torch.manual_seed(0)
    cases = [("lm", GPT2LMHeadModel, config()), ("lm_untied", GPT2LMHeadModel, config(tie_word_embeddings=False)),
             ("rm", GPT2ForSequenceClassification, config(pad_token_id=0, num_labels=1))]
    lm = None
    for seed, (name, cls, cfg) in enumerate(cases):
        model = cls(cfg).eval()
        model.config._attn_implementation = "eager"
        randomise_norms(model, seed)
        kind = "reward" if name == "rm" else "policy"
        out_dir = os.path.join(req["dir"], name)
        model.save_pretrained(out_dir)
        made[name] = {"kind": kind, "dir": out_dir, "values": outputs(model, kind, ids, mask)}
        if name == "lm":
            lm = model
    # The original gpt2 upload's layout: tensors named without "transformer.", plus the old causal-mask buffers.
    legacy_dir = os.path.join(req["dir"], "lm_legacy")
    os.makedirs(legacy_dir, exist_ok=True)
    state = {k[len("transformer."):]: v.contiguous() for k, v in lm.state_dict().items() if k.startswith("transformer.")}
    for i in range(lm.config.n_layer):
        state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(32, 32)).view(1, 1, 32, 32)
    safetensors.torch.save_file(state, os.path.join(legacy_dir, "model.safetensors"), metadata={"format": "pt"})
    lm.config.save_pretrained(legacy_dir)
    reloaded = AutoModelForCausalLM.from_pretrained(legacy_dir, attn_implementation="eager").eval()
    made["lm_legacy"] = {"kind": "policy", "dir": legacy_dir, "values": outputs(reloaded, "policy", ids, mask)}

    prompt = torch.tensor([req["prompt"]])
    with torch.no_grad():
        gen = lm.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=req["new_tokens"],
                          min_new_tokens=req["new_tokens"], pad_token_id=0)
    greedy = gen[0, prompt.shape[1]:].tolist()

    loaded = []
    for case in req.get("ours", []):
        cls = AutoModelForSequenceClassification if case["kind"] == "reward" else AutoModelForCausalLM
        model = cls.from_pretrained(case["dir"], torch_dtype=torch.float32, attn_implementation="eager").eval()
        loaded.append({"cls": type(model).__name__, "values": outputs(model, case["kind"], ids, mask)})
    json.dump({"made": made, "greedy": greedy, "loaded": loaded, "transformers": transformers.__version__}, sys.stdout)


if __name__ == "__main__":
    main()
