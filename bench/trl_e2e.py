"""
The TRL side of the end-to-end benchmark (src/bench/e2e.ts runs it under bench/measure.py, beside
`rlhf reward|dpo` on the same files): one whole training run the way a TRL user writes it, from a preference
JSONL to a saved model and an evaluation on held-out pairs.

  python bench/trl_e2e.py JOB.json

JOB.json: {"stage": "reward" | "dpo", "model": HF folder (policy; the reward model starts from it with a new
  score head), "train": JSONL, "eval": JSONL, "out": folder, "epochs", "batch_size", "learning_rate",
  "lr_scheduler_type", "warmup_steps", "weight_decay", "max_grad_norm", "max_length", "seed", "logging_steps",
  "beta" (dpo), "loss_type" (dpo), "precompute_ref_log_probs" (dpo), "paired"}
  paired (src/bench/e2e.ts makes the files): the train file is already in the order to train in, so the sampler is
  transformers' sequential one; "model" is a folder written by --paired-start, and where the tokenizer has no pad
  token the reward model's rows are padded with its unk token rather than EOS, so that transformers reads the score
  at the EOS token as rlhf does (with EOS as pad it reads the token before it).

  python bench/trl_e2e.py --paired-start MODEL OUT SEED STAGES

writes the folders both sides start from when paired (STAGES: reward,dpo or one of them): OUT/policy, MODEL as
transformers loads and saves it (for DPO), and OUT/reward, MODEL's backbone with a score head drawn by transformers
(set_seed(SEED), as RewardTrainer would). Each gets MODEL's tokenizer as transformers saves it, so both sides read one
tokenizer.json (transformers 5 writes a Metaspace pre-tokenizer where a Llama folder may have a normalizer; read by
rlhf, it gives transformers' ids). The reward config's pad_token_id stays as MODEL has it: a pad id there would make
transformers' embedding freeze that row (nn.Embedding padding_idx), and for EOS-as-pad every row trains on EOS.
Output: one JSON line on stdout: {"stage", "versions", "threads", "records": {train, eval}, "train_pairs",
  "eval_pairs" (after filtering), "steps", "tokens" (real tokens of one epoch: every row of every kept pair),
  "eval_accuracy", "eval_metrics", "train_metrics", "phases" (seconds: imports, read = the JSONL and the tokenizer, init = model load + data
  preparation + for DPO the reference pass, reference = that pass alone, train, eval, save), "peak_rss_mib",
  "rss_source"}.

What it does, in order: reads the JSONL (prompt, chosen, rejected columns; the others are dropped) into an
in-memory datasets.Dataset (no on-disk cache: a second run does not start warm), builds RewardTrainer on
AutoModelForSequenceClassification / DPOTrainer on the causal LM from the model folder with the folder's
tokenizer, trains one epoch, evaluates the held-out pairs, saves the model.
Filtering, the same rule as `rlhf` with truncation_mode "drop": a pair is dropped when prompt + completion of
either side is longer than max_length tokens. RewardTrainer does this itself; DPOTrainer would truncate
instead, so _prepare_dataset is extended by that filter after TRL's own tokenisation (the one change to TRL).
Threads: torch's pools get the CPUs this process may use (bench/cpus.py), as in trl_bench.py.
Nothing is downloaded.
"""
import json
import os
import sys
import time

T_START = time.perf_counter()
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

_real_stdout = sys.stdout
sys.stdout = sys.stderr  # Trainer prints logs to stdout; keep it for the JSON answer

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpus import usable_cpus  # noqa: E402
from mkl_shim import mkl_shim_loaded  # noqa: E402

THREADS = usable_cpus()
torch.set_num_threads(THREADS)
torch.set_num_interop_threads(THREADS)

import datasets  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer  # noqa: E402

datasets.disable_caching()
T_IMPORTED = time.perf_counter()


def log(msg):
    sys.stderr.write(f"[trl-e2e] {msg}\n")
    sys.stderr.flush()


class DropLongDPOTrainer(DPOTrainer):
    """DPOTrainer that drops over-long pairs (the reward trainer's rule) instead of truncating them, and times
    its reference pass."""

    reference_seconds = 0.0

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        m = args.max_length
        if m is None:
            return dataset
        return dataset.filter(lambda e: len(e["prompt_ids"]) + max(len(e["chosen_ids"]), len(e["rejected_ids"])) <= m)

    def _precompute_ref_logps(self, dataset, name, batch_size):
        t0 = time.perf_counter()
        out = super()._precompute_ref_logps(dataset, name, batch_size)
        DropLongDPOTrainer.reference_seconds += time.perf_counter() - t0
        return out


def read_pairs(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows.append({"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]})
    return rows


def peak_rss():
    """(MiB, source), as src/bench/rss.ts reads ours: VmHWM, else getrusage's ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1), "/proc/self/status VmHWM"
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "getrusage ru_maxrss"


def common_args(job):
    return dict(
        output_dir=job["out"],
        num_train_epochs=job["epochs"],
        per_device_train_batch_size=job["batch_size"],
        per_device_eval_batch_size=job["batch_size"],
        gradient_accumulation_steps=1,
        learning_rate=job["learning_rate"],
        lr_scheduler_type=job["lr_scheduler_type"],
        warmup_steps=job["warmup_steps"],
        weight_decay=job["weight_decay"],
        max_grad_norm=job["max_grad_norm"],
        max_length=job["max_length"],
        logging_steps=job["logging_steps"],
        seed=job["seed"],
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        bf16=False,
        fp16=False,
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        train_sampling_strategy="sequential" if job.get("paired") else "random",
    )


def reward_pad_token(job, tok):
    """Paired runs read the reward where rlhf does, at EOS: pad with unk when the tokenizer has no pad token."""
    if not job.get("paired") or tok.pad_token is not None:
        return None
    if tok.unk_token is None or tok.unk_token == tok.eos_token:
        log("paired: the tokenizer has no pad and no unk token apart from EOS; transformers reads the reward at the token before EOS")
        return None
    return tok.unk_token


def paired_start(model, out, seed, stages):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, set_seed

    tok = AutoTokenizer.from_pretrained(model)
    for stage in stages.split(","):
        if stage == "dpo":
            folder, m = os.path.join(out, "policy"), AutoModelForCausalLM.from_pretrained(model)
        elif stage == "reward":
            set_seed(seed)
            folder, m = os.path.join(out, "reward"), AutoModelForSequenceClassification.from_pretrained(model, num_labels=1)
        else:
            raise SystemExit(f"--paired-start: stage {stage!r}: expected reward or dpo")
        m.save_pretrained(folder)
        tok.save_pretrained(folder)
        log(f"paired start for {stage} (seed {seed}) written to {folder}")


def main():
    if sys.argv[1] == "--paired-start":
        paired_start(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
    job = json.load(open(sys.argv[1]))
    stage = job["stage"]
    train_rows, eval_rows = read_pairs(job["train"]), read_pairs(job["eval"])
    tok = AutoTokenizer.from_pretrained(job["model"])
    t_init = time.perf_counter()
    if stage == "reward":
        pad = reward_pad_token(job, tok)
        if pad is not None:
            tok.pad_token = pad
        args = RewardConfig(**common_args(job))
        trainer = RewardTrainer(model=job["model"], args=args, train_dataset=Dataset.from_list(train_rows),
                                eval_dataset=Dataset.from_list(eval_rows), processing_class=tok)
        acc_key = "eval_accuracy"
        lengths = [len(e["chosen_ids"]) + len(e["rejected_ids"]) for e in trainer.train_dataset]
    elif stage == "dpo":
        args = DPOConfig(**common_args(job), beta=job["beta"], loss_type=[job["loss_type"]],
                         precompute_ref_log_probs=job["precompute_ref_log_probs"])
        trainer = DropLongDPOTrainer(model=job["model"], args=args, train_dataset=Dataset.from_list(train_rows),
                                     eval_dataset=Dataset.from_list(eval_rows), processing_class=tok)
        acc_key = "eval_rewards/accuracies"
        lengths = [2 * len(e["prompt_ids"]) + len(e["chosen_ids"]) + len(e["rejected_ids"]) for e in trainer.train_dataset]
    else:
        raise SystemExit(f"{sys.argv[1]}: stage {stage!r}: expected 'reward' or 'dpo'")
    t_train = time.perf_counter()
    result = trainer.train()
    t_eval = time.perf_counter()
    metrics = trainer.evaluate()
    t_save = time.perf_counter()
    trainer.save_model(job["out"])
    t_end = time.perf_counter()
    rss, rss_source = peak_rss()
    out = {
        "stage": stage,
        "versions": {"trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
        "threads": torch.get_num_threads(),
        "mkl_shim": mkl_shim_loaded(),
        "mkl": torch.backends.mkl.is_available(),
        "records": {"train": len(train_rows), "eval": len(eval_rows)},
        "train_pairs": len(trainer.train_dataset),
        "eval_pairs": len(trainer.eval_dataset),
        "steps": trainer.state.global_step,
        "tokens": int(sum(lengths) * job["epochs"]),
        "eval_accuracy": metrics.get(acc_key),
        "eval_loss": metrics.get("eval_loss"),
        "eval_metrics": metrics,
        "train_metrics": result.metrics,
        "phases": {
            "imports": round(T_IMPORTED - T_START, 3),
            "read": round(t_init - T_IMPORTED, 3),
            "init": round(t_train - t_init, 3),
            "reference": round(DropLongDPOTrainer.reference_seconds, 3) if stage == "dpo" else None,
            "train": round(t_eval - t_train, 3),
            "eval": round(t_save - t_eval, 3),
            "save": round(t_end - t_save, 3),
            "total_in_process": round(t_end - T_START, 3),
        },
        "peak_rss_mib": rss,
        "rss_source": rss_source,
    }
    log(f"{stage}: {out['train_pairs']} train pairs, {out['steps']} steps, eval accuracy {out['eval_accuracy']}, "
        f"train {out['phases']['train']:.1f} s, peak RSS {rss} MiB")
    _real_stdout.write(json.dumps(out) + "\n")
    _real_stdout.flush()


if __name__ == "__main__":
    main()
