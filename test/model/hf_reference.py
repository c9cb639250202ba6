"""Oracle for test/model/hf-reference.test.ts: runs Hugging Face transformers on weights sent as JSON.

stdin: {"cases": [{"config": {...HF config...}, "arch": "LlamaForCausalLM" | "Qwen2ForCausalLM" |
        "LlamaForSequenceClassification", "weights": {name: {"shape": [...], "data": [...]}},
        "ids": [[...]], "mask": [[...]]}]}
stdout: {"outputs": [logits [B, T, V] or scores [B]]}
"""
import json
import sys

import torch
import transformers


def main():
    req = json.load(sys.stdin)
    outs = []
    for case in req["cases"]:
        cfg_cls = transformers.Qwen2Config if case["arch"].startswith("Qwen2") else transformers.LlamaConfig
        cfg = cfg_cls(**case["config"])
        cfg._attn_implementation = "eager"
        model = getattr(transformers, case["arch"])(cfg).eval()
        state = {k: torch.tensor(v["data"], dtype=torch.float32).reshape(v["shape"]) for k, v in case["weights"].items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [m for m in missing if not (cfg.tie_word_embeddings and m == "lm_head.weight")]
        if missing or unexpected:
            raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
        ids = torch.tensor(case["ids"], dtype=torch.long)
        mask = torch.tensor(case["mask"], dtype=torch.long)
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=mask).logits
        if case["arch"].endswith("SequenceClassification"):
            out = out[:, 0]
        outs.append(out.tolist())
    json.dump({"outputs": outs}, sys.stdout)


if __name__ == "__main__":
    main()
