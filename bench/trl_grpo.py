"""
TRL side of bench/grpo.ts: TRL 1.13's GRPOTrainer, one optimiser step per generation batch, on the HF folders the
TypeScript side wrote (policy LlamaForCausalLM, reward LlamaForSequenceClassification), the same prompt ids.

Input (JSON on stdin): {"policy_dir", "reward_dir", "prompts": [[ids]], "num_generations", "new_tokens", "steps",
  "warmup", "vocab", "pad", "bos", "eos"}. Output (last stdout line): {"ms": [...], "versions": {...}}.
Settings: per_device_train_batch_size = prompts x num_generations (one generation batch per step), dapo loss,
beta 0, temperature 1, top_p 1, top_k off, min_new_tokens = max_completion_length = new_tokens (every row full
length, as our side without stop tokens), lr 1e-6, max_grad_norm 1, CPU, fp32. Token i is the word "<i>" (an id
tokenizer), so prompts given as text tokenise to the given ids and the reward model re-reads completions exactly.
Each step is timed from on_step_begin to on_step_end (generation, reward scoring, forward, backward, AdamW).
"""
import json
import os
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
_real_stdout = sys.stdout
sys.stdout = sys.stderr

import torch  # noqa: E402
sys.path.insert(0, os.path.dirname(__file__))
from cpus import usable_cpus  # noqa: E402

THREADS = usable_cpus()
torch.set_num_threads(THREADS)
torch.set_num_interop_threads(THREADS)

import tempfile  # noqa: E402
import datasets  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from datasets import Dataset  # noqa: E402
from tokenizers import Regex, Tokenizer, models as tok_models, pre_tokenizers  # noqa: E402
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast, TrainerCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402


class StepTimer(TrainerCallback):
    def __init__(self):
        self.ms = []
        self._t0 = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.ms.append((time.perf_counter() - self._t0) * 1000)


def id_tokenizer(job):
    vocab = {f"<{i}>": i for i in range(job["vocab"])}
    tk = Tokenizer(tok_models.WordLevel(vocab, unk_token=f"<{job['pad']}>"))
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(r"<\d+>"), behavior="isolated")])
    special = {"pad_token": f"<{job['pad']}>", "eos_token": f"<{job['eos']}>"}
    if job.get("bos") is not None:
        special["bos_token"] = f"<{job['bos']}>"
    return PreTrainedTokenizerFast(tokenizer_object=tk, **special)


def main():
    job = json.load(sys.stdin)
    tok = id_tokenizer(job)
    prompts = ["".join(f"<{i}>" for i in p) for p in job["prompts"]]
    G, N = job["num_generations"], job["new_tokens"]
    steps = job["warmup"] + job["steps"]
    rows = [{"prompt": p} for _ in range(steps) for p in prompts]
    reward = AutoModelForSequenceClassification.from_pretrained(job["reward_dir"], dtype=torch.float32, num_labels=1)
    reward.config.pad_token_id = job["pad"]
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out, per_device_train_batch_size=len(prompts) * G, num_generations=G, max_completion_length=N,
            gradient_accumulation_steps=1, max_steps=steps, learning_rate=1e-6, max_grad_norm=1.0, weight_decay=0.0,
            beta=0.0, loss_type="dapo", temperature=1.0, top_p=1.0, top_k=0, generation_kwargs={"min_new_tokens": N},
            logging_steps=10**9, save_strategy="no", report_to="none", use_cpu=True, bf16=False, fp16=False, seed=0,
            disable_tqdm=True, dataloader_num_workers=0, shuffle_dataset=False,
        )
        trainer = GRPOTrainer(model=job["policy_dir"], reward_funcs=reward, args=args, train_dataset=Dataset.from_list(rows),
                              processing_class=tok, reward_processing_classes=[tok], callbacks=[timer])
        trainer.train()
    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__, "datasets": datasets.__version__, "threads": str(THREADS)}
    _real_stdout.write(json.dumps({"ms": [round(x, 1) for x in timer.ms[job["warmup"]:]], "versions": versions}) + "\n")


if __name__ == "__main__":
    main()
