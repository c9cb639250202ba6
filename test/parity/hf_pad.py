"""
Python side of test/parity/hf-pad.test.ts: reads a reward checkpoint folder that the TypeScript side wrote for a
tokenizer with neither pad nor unk token (GPT-2's tokenizer.json), the way a Hugging Face user would
(AutoTokenizer + AutoModelForSequenceClassification on the folder), and takes one TRL RewardTrainer step from it.

Input (JSON on stdin): {"reward_dir", "policy_dir", "texts": [{"prompt", "chosen", "rejected"}],
  "examples": [{"chosen_ids", "rejected_ids"}] (our token ids, EOS last), "weights_out" (a .safetensors path),
  "batch_size", "lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm"}
Output (JSON on stdout):
  "tokenizer": pad/eos tokens and ids and len(tokenizer) as AutoTokenizer reads them,
  "hf_ids": [{"chosen_ids", "rejected_ids"}] the texts tokenised by AutoTokenizer (prompt, then completion + EOS,
            each without special tokens: the convention of our data/collate for a tokenizer without BOS),
  "padded_ids", "scores": rows chosen..., rejected... padded by tokenizer.pad() and scored by the classifier,
  "scores_eos_pad": the same rows padded with EOS and scored with config.pad_token_id = EOS (the layout of a
            reward checkpoint without a pad of its own; the test expects these to differ from ours),
  "reward_padding_idx", "policy_padding_idx": nn.Embedding.padding_idx of the two folders' models,
  "trl": {"logs": per-step logs, "first_batch": TRL's collated batch} after one RewardTrainer step, whose
         weights are written to weights_out.
Nothing is downloaded; everything comes from the two folders.
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

_real_stdout = sys.stdout
sys.stdout = sys.stderr  # Trainer prints its logs; stdout carries the JSON answer only

import torch  # noqa: E402
import datasets  # noqa: E402
from datasets import Dataset  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback  # noqa: E402
from trl import RewardConfig, RewardTrainer  # noqa: E402

torch.set_num_threads(1)
datasets.disable_caching()


class StepLogs(TrainerCallback):
    def __init__(self):
        self.rows = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.rows.append({"step": state.global_step, **{k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}})


def hf_ids(tok, texts):
    enc = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    out = []
    for t in texts:
        p = enc(t["prompt"])
        out.append({"chosen_ids": p + enc(t["chosen"]) + [tok.eos_token_id], "rejected_ids": p + enc(t["rejected"]) + [tok.eos_token_id]})
    return out


def score(model, input_ids, attention_mask):
    with torch.no_grad():
        return model(input_ids=input_ids, attention_mask=attention_mask).logits.squeeze(-1).tolist()


def trl_step(req, tok):
    with tempfile.TemporaryDirectory() as out_dir:
        args = RewardConfig(
            output_dir=out_dir, per_device_train_batch_size=req["batch_size"], gradient_accumulation_steps=1, max_steps=1,
            learning_rate=req["lr"], adam_beta1=req["beta1"], adam_beta2=req["beta2"], adam_epsilon=req["eps"],
            weight_decay=req["weight_decay"], max_grad_norm=req["max_grad_norm"], lr_scheduler_type="constant", warmup_steps=0,
            logging_steps=1, save_strategy="no", eval_strategy="no", report_to="none", bf16=False, fp16=False, use_cpu=True,
            seed=0, gradient_checkpointing=False, train_sampling_strategy="sequential", dataloader_num_workers=0,
            disable_tqdm=True, disable_dropout=True, max_length=None,
        )
        logs = StepLogs()
        trainer = RewardTrainer(model=req["reward_dir"], args=args, train_dataset=Dataset.from_list(req["examples"]),
                                processing_class=tok, callbacks=[logs])
        first = trainer.data_collator([dict(e) for e in req["examples"][: req["batch_size"]]])
        trainer.train()
        save_file({k: v.detach().contiguous() for k, v in trainer.model.state_dict().items()}, req["weights_out"])
        return {"logs": logs.rows, "first_batch": {k: v.tolist() for k, v in first.items() if isinstance(v, torch.Tensor)},
                "pad_token_id": trainer.model.config.pad_token_id}


def main():
    req = json.load(sys.stdin)
    tok = AutoTokenizer.from_pretrained(req["reward_dir"])
    model = AutoModelForSequenceClassification.from_pretrained(req["reward_dir"], dtype=torch.float32).eval()
    rows = [e["chosen_ids"] for e in req["examples"]] + [e["rejected_ids"] for e in req["examples"]]
    batch = tok.pad({"input_ids": rows}, return_tensors="pt")
    scores = score(model, batch["input_ids"], batch["attention_mask"])
    # The same rows as a checkpoint with pad = EOS would be read: padded with EOS, pooled before the last non-EOS.
    eos = tok.eos_token_id
    eos_ids = batch["input_ids"].clone()
    eos_ids[batch["attention_mask"] == 0] = eos
    model.config.pad_token_id = eos
    scores_eos_pad = score(model, eos_ids, batch["attention_mask"])
    model.config.pad_token_id = tok.pad_token_id
    reward_padding_idx = model.model.embed_tokens.padding_idx
    policy = AutoModelForCausalLM.from_pretrained(req["policy_dir"], dtype=torch.float32)
    answer = {
        "tokenizer": {"pad_token": tok.pad_token, "pad_token_id": tok.pad_token_id, "eos_token": tok.eos_token,
                      "eos_token_id": tok.eos_token_id, "len": len(tok)},
        "hf_ids": hf_ids(tok, req["texts"]),
        "padded_ids": batch["input_ids"].tolist(),
        "scores": scores,
        "scores_eos_pad": scores_eos_pad,
        "reward_padding_idx": reward_padding_idx,
        "policy_padding_idx": policy.model.embed_tokens.padding_idx,
        "trl": trl_step(req, tok),
    }
    _real_stdout.write(json.dumps(answer))
    _real_stdout.flush()


if __name__ == "__main__":
    main()
