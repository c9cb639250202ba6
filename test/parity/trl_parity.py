"""
TRL side of the parity test (test/parity/trl.test.ts): runs TRL's own DPOTrainer / RewardTrainer for a few
steps on token ids that the TypeScript side built, and reports TRL's per-step logs and its final evaluation.

Input (JSON on stdin): {"jobs": [job, ...]}, each job
  {"name", "kind": "dpo" | "reward" | "sft", "model_dir", "tokenizer_dir", "ref_model_dir" (dpo, optional),
   "examples": [{"prompt_ids", "chosen_ids", "rejected_ids"}] (dpo) | [{"chosen_ids", "rejected_ids"}] (reward)
             | [{"input_ids", "completion_mask"}] (sft),
   "eval_examples": the same form (optional; evaluated once after training, batch_size per eval batch),
   "batch_size", "steps", "lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm",
   "scheduler", "warmup_steps", "loss_type", "beta", "precompute" (dpo), "pad_token" (optional)}
Output (JSON on stdout): {"versions": {...}, "jobs": {name: {"logs": [per-step log dicts],
   "eval": {eval_* metrics} (when eval_examples), "first_batch": {input_ids, attention_mask, completion_mask?}}}}

What this script changes in TRL, and why (everything else is TRL's code path):
  * DPOTrainer._prepare_dataset is replaced by the identity: trl 1.13's DPO preparation always re-extracts
    the prompt, appends EOS to the completion text and re-tokenises, so it cannot take ids as they are.
    The ids we pass already hold BOS (in the prompt) and EOS (at the end of each completion), which is what
    TRL's own preparation would produce for this tokenizer. RewardTrainer takes `chosen_ids`/`rejected_ids`
    natively (its "is_processed" branch), so nothing is replaced there.
  * Training arguments that TRL defaults differently from a plain fp32 run are set explicitly: bf16=False
    (TRL's base config turns bf16 on when fp16 is off), gradient_checkpointing=False (same numbers, faster),
    train_sampling_strategy="sequential" (Trainer shuffles by default), logging_steps=1.
  * SFT: completion_only_loss=True and max_length=None, so the labels are our ids where our completion mask is 1.
It never downloads anything: models and tokenizers come from local folders.
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

# Trainer's PrinterCallback writes log dicts to stdout; keep stdout for the JSON answer only.
_real_stdout = sys.stdout
sys.stdout = sys.stderr

import torch  # noqa: E402
import datasets  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback  # noqa: E402
from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer, SFTConfig, SFTTrainer  # noqa: E402

torch.set_num_threads(1)
datasets.disable_caching()


class PretokenizedDPOTrainer(DPOTrainer):
    """DPOTrainer that takes prompt_ids / chosen_ids / rejected_ids exactly as given."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset


class StepLogs(TrainerCallback):
    def __init__(self):
        self.rows = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:  # training rows only; evaluate() returns the eval row
            self.rows.append({"step": state.global_step, **{k: float(v) for k, v in logs.items() if isinstance(v, (int, float))}})


def common_args(job, out_dir):
    return dict(
        output_dir=out_dir,
        per_device_train_batch_size=job["batch_size"],
        per_device_eval_batch_size=job["batch_size"],
        gradient_accumulation_steps=1,
        max_steps=job["steps"],
        learning_rate=job["lr"],
        adam_beta1=job["beta1"],
        adam_beta2=job["beta2"],
        adam_epsilon=job["eps"],
        weight_decay=job["weight_decay"],
        max_grad_norm=job["max_grad_norm"],
        lr_scheduler_type=job["scheduler"],
        warmup_steps=job["warmup_steps"],
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        bf16=False,
        fp16=False,
        use_cpu=True,
        seed=0,
        gradient_checkpointing=False,
        train_sampling_strategy="sequential",
        dataloader_num_workers=0,
        disable_tqdm=True,
        disable_dropout=True,
    )


def tensor_lists(batch):
    return {k: v.tolist() for k, v in batch.items() if isinstance(v, torch.Tensor)}


def eval_dataset(job):
    return Dataset.from_list(job["eval_examples"]) if job.get("eval_examples") else None


def finish(trainer, logs, first):
    """Trains, then evaluates the trained model once when there is an eval set."""
    trainer.train()
    out = {"logs": logs.rows, "first_batch": tensor_lists(first)}
    if trainer.eval_dataset is not None:
        out["eval"] = {k: float(v) for k, v in trainer.evaluate().items() if isinstance(v, (int, float))}
    return out


def run_dpo(job, out_dir):
    tok = AutoTokenizer.from_pretrained(job["tokenizer_dir"])
    args = DPOConfig(
        **common_args(job, out_dir),
        loss_type=[job["loss_type"]],
        beta=job["beta"],
        precompute_ref_log_probs=job["precompute"],
        max_length=None,
    )
    ref = AutoModelForCausalLM.from_pretrained(job["ref_model_dir"], dtype=torch.float32) if job.get("ref_model_dir") else None
    logs = StepLogs()
    trainer = PretokenizedDPOTrainer(
        model=job["model_dir"],
        ref_model=ref,
        args=args,
        train_dataset=Dataset.from_list(job["examples"]),
        eval_dataset=eval_dataset(job),
        processing_class=tok,
        callbacks=[logs],
    )
    first = trainer.data_collator([dict(e) for e in job["examples"][: job["batch_size"]]])
    out = finish(trainer, logs, first)
    if job["precompute"]:
        ds = trainer.train_dataset
        out["ref_logps"] = {"chosen": [float(x) for x in ds["ref_chosen_logps"]], "rejected": [float(x) for x in ds["ref_rejected_logps"]]}
    return out


def run_reward(job, out_dir):
    tok = AutoTokenizer.from_pretrained(job["tokenizer_dir"])
    args = RewardConfig(**common_args(job, out_dir), pad_token=job.get("pad_token"), max_length=None)
    logs = StepLogs()
    trainer = RewardTrainer(
        model=job["model_dir"],
        args=args,
        train_dataset=Dataset.from_list(job["examples"]),
        eval_dataset=eval_dataset(job),
        processing_class=tok,
        callbacks=[logs],
    )
    first = trainer.data_collator([dict(e) for e in job["examples"][: job["batch_size"]]])
    # Scores of the untrained model on the first batch, read the way HF's classifier reads them.
    with torch.no_grad():
        scores = trainer.model(input_ids=first["input_ids"], attention_mask=first["attention_mask"]).logits.squeeze(-1)
    out = finish(trainer, logs, first)
    return {**out, "initial_scores": scores.tolist(), "pad_token_id": trainer.model.config.pad_token_id}


def run_sft(job, out_dir):
    tok = AutoTokenizer.from_pretrained(job["tokenizer_dir"])
    common = common_args(job, out_dir)
    del common["disable_dropout"]  # not an SFTConfig field; stories260K has no dropout anyway
    args = SFTConfig(**common, completion_only_loss=True, max_length=None)
    logs = StepLogs()
    trainer = SFTTrainer(
        model=job["model_dir"],
        args=args,
        train_dataset=Dataset.from_list(job["examples"]),
        eval_dataset=eval_dataset(job),
        processing_class=tok,
        callbacks=[logs],
    )
    first = trainer.data_collator([dict(trainer.train_dataset[i]) for i in range(job["batch_size"])])
    return finish(trainer, logs, first)


RUNNERS = {"dpo": run_dpo, "reward": run_reward, "sft": run_sft}


def main():
    req = json.load(sys.stdin)
    results = {}
    for job in req["jobs"]:
        with tempfile.TemporaryDirectory() as out_dir:
            results[job["name"]] = RUNNERS[job["kind"]](job, out_dir)
    versions = {"trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__}
    _real_stdout.write(json.dumps({"versions": versions, "jobs": results}))
    _real_stdout.flush()


if __name__ == "__main__":
    main()
