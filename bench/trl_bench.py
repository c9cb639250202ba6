"""
TRL / PyTorch side of `rlhf bench` (src/bench/trl.ts runs it): the same steps as the TF.js side, on the
same weights (HF folders written by the TypeScript side), the same token ids, batch and lengths.

Input (JSON on stdin):
  {"models": [{"name", "policy_dir", "reward_dir", "vocab", "pad_id", "bos_id", "eos_id",
               "pairs": [{"prompt_ids", "chosen_ids", "rejected_ids"}, ...], "sample_prompts": [[ids], ...]}],
   "kinds": ["dpo", "reward", "sft", "score", "sample", "greedy"], "steps": N, "warmup": W, "batch": B,
   "lr": float, "max_grad_norm": float, "beta": float,
   "new_tokens": N, "grpo": {"num_generations", "beta", "loss_type", "temperature", "top_p", "top_k", "num_iterations"},
   (each model also has "grpo_prompts": [[ids], ...]) "sample": {"sample": {"temperature", "topP"}, "greedy": {"temperature": 0}},
   "matmul_n": n (the tensorflow side's matmul size; 0 skips it), "matmul_reps": R (its repetitions)}
Output (JSON on stdout): {"versions", "threads" (intra-op), "interop_threads", "usable_cpus",
  "build": {"config": torch.__config__.show(), "parallel": torch.__config__.parallel_info()},
  "matmul": {"n", "ms", "gflops", "median_gflops"} and "matmul_gflops" (= matmul.gflops),
  "mkl_shim" (MKL's vendor query answered by src/bench/mkl-shim.ts's preloaded library: bench/mkl_shim.py),
  "results": [{"model", "kind", "tokens", "ms", "median_ms", "peak_rss_mib", "rss_source"}],
  "errors": [{"model", "kind", "message"}]}
  peak_rss_mib: this process's peak RSS after the kind's timed steps, read as src/bench/rss.ts reads ours
  (/proc/self/status VmHWM, else getrusage ru_maxrss). src/bench/run.ts runs one process per model and kind.

What is timed:
  dpo / reward / sft: TRL's own trainers (DPOTrainer with precompute_ref_log_probs=True and the sigmoid loss,
    RewardTrainer on LlamaForSequenceClassification, SFTTrainer with completion-only loss), run by
    Trainer.train(); each step is timed from on_step_begin to on_step_end, i.e. forward + loss + backward +
    grad clipping + AdamW step + scheduler + zero_grad, without data loading or logging. The first W steps are
    not counted (warm-up).
  score: what `rlhf compare` does per batch, in plain PyTorch under torch.no_grad(): reward scores of the
    2B rows, then summed completion log-probs of the policy and of the reference (TRL has no such scorer;
    log-probs use TRL's selective_log_softmax).
  grpo: TRL's GRPOTrainer, one Trainer step = generation (transformers' generate; no vLLM here) of
    num_generations completions of each of the job's grpo_prompts (per_device_train_batch_size = prompts ×
    num_generations, steps_per_generation 1), scoring them with the reward folder's
    LlamaForSequenceClassification (TRL decodes, re-encodes prompt + completion, one forward), reference
    log-probs (beta > 0), advantages, the loss, backward, clipping, AdamW; timed from on_step_begin to
    on_step_end as the other trainers. Text is an id tokenizer (token i = "<i>", concatenated), the same as
    src/bench/grpo-step.ts's; its EOS is an extra id outside the model's vocabulary, so no row stops early.
  sample / greedy: transformers' `model.generate` (what TRL's GRPO and online-DPO trainers call when vLLM is
    off) on the job's ragged prompts, left-padded with an attention mask, exactly `new_tokens` new tokens per
    row (no EOS: eos_token_id None), do_sample with top-p 0.9 at temperature 1 and top-k off (transformers
    would add top-k 50 by default), or greedy; KV cache on (the default). Timed per whole generate call.
What this script changes in TRL, and why: DPOTrainer._prepare_dataset is the identity, because TRL's DPO
preparation re-tokenises text and cannot take ids as they are (the ids already are what it would produce).
Threads: torch's intra-op and inter-op pools get the CPUs this process may use (bench/cpus.py: affinity mask
capped by the cgroup CPU quota), the count native/rlhf_ops.cc sizes our kernels' pool by; set before any
parallel work, as set_num_interop_threads requires. Nothing is downloaded.
"""
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

_real_stdout = sys.stdout
sys.stdout = sys.stderr  # Trainer prints logs to stdout; keep it for the JSON answer

import torch  # noqa: E402
from cpus import usable_cpus  # noqa: E402  (bench/cpus.py, beside this script)
from mkl_shim import mkl_shim_loaded  # noqa: E402  (bench/mkl_shim.py)

THREADS = usable_cpus()
torch.set_num_threads(THREADS)
torch.set_num_interop_threads(THREADS)

import datasets  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from datasets import Dataset  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models as tok_models, pre_tokenizers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    PreTrainedTokenizerFast,
    TrainerCallback,
)
from trl import DPOConfig, DPOTrainer, GRPOConfig, GRPOTrainer, RewardConfig, RewardTrainer, SFTConfig, SFTTrainer  # noqa: E402
from trl.trainer.utils import selective_log_softmax  # noqa: E402

datasets.disable_caching()


def log(msg):
    sys.stderr.write(f"[trl-bench] {msg}\n")
    sys.stderr.flush()


class PretokenizedDPOTrainer(DPOTrainer):
    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset


class StepTimer(TrainerCallback):
    def __init__(self):
        self.ms = []
        self._t0 = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.ms.append((time.perf_counter() - self._t0) * 1000)


def id_tokenizer(m):
    """A tokenizer whose token i is "<i>": TRL only reads pad/eos ids from it, the data are ids already."""
    vocab = {f"<{i}>": i for i in range(m["vocab"])}
    tk = Tokenizer(tok_models.WordLevel(vocab, unk_token="<0>"))
    special = {"pad_token": f"<{m['pad_id']}>", "eos_token": f"<{m['eos_id']}>"}
    if m.get("bos_id") is not None:
        special["bos_token"] = f"<{m['bos_id']}>"
    return PreTrainedTokenizerFast(tokenizer_object=tk, **special)


def grpo_tokenizer(m):
    """Token i <-> text "<i>", concatenated (src/bench/grpo-step.ts IdTokenizer); EOS is an extra token past the
    model's vocabulary, so generation never draws it and every row makes max_completion_length tokens."""
    vocab = {f"<{i}>": i for i in range(m["vocab"])}
    vocab["<eos>"] = m["vocab"]
    tk = Tokenizer(tok_models.WordLevel(vocab, unk_token="<0>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"<[0-9]+>"), behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token=f"<{m['pad_id']}>", eos_token="<eos>")


def grpo_ms(m, job, out_dir):
    g = job["grpo"]
    tok = grpo_tokenizer(m)
    prompts = ["".join(f"<{i}>" for i in p) for p in m["grpo_prompts"]]
    if [tok(p)["input_ids"] for p in prompts] != m["grpo_prompts"]:
        raise RuntimeError("the id tokenizer does not give back the prompts' ids")
    steps = job["warmup"] + job["steps"]
    base = common_args(job, out_dir, steps)
    base["per_device_train_batch_size"] = len(prompts) * g["num_generations"]
    args = GRPOConfig(**base, num_generations=g["num_generations"], max_completion_length=job["new_tokens"], beta=g["beta"],
                      loss_type=g["loss_type"], num_iterations=g["num_iterations"], temperature=g["temperature"], top_p=g["top_p"],
                      top_k=g["top_k"], steps_per_generation=1, shuffle_dataset=False, log_completions=False)
    reward = AutoModelForSequenceClassification.from_pretrained(m["reward_dir"], dtype=torch.float32, num_labels=1)
    timer = StepTimer()
    trainer = GRPOTrainer(model=m["policy_dir"], reward_funcs=reward, args=args,
                          train_dataset=Dataset.from_list([{"prompt": p} for p in prompts] * steps),
                          processing_class=tok, reward_processing_classes=tok, callbacks=[timer])
    trainer.train()
    return timer.ms[job["warmup"]:]


def common_args(job, out_dir, steps):
    return dict(
        output_dir=out_dir,
        per_device_train_batch_size=job["batch"],
        gradient_accumulation_steps=1,
        max_steps=steps,
        learning_rate=job["lr"],
        max_grad_norm=job["max_grad_norm"],
        weight_decay=0.0,
        logging_steps=10**9,
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
    )


def train_ms(kind, m, job, out_dir):
    tok = id_tokenizer(m)
    pairs = m["pairs"]
    steps = job["warmup"] + job["steps"]
    timer = StepTimer()
    if kind == "dpo":
        args = DPOConfig(**common_args(job, out_dir, steps), loss_type=["sigmoid"], beta=job["beta"],
                         precompute_ref_log_probs=True, max_length=None)
        trainer = PretokenizedDPOTrainer(model=m["policy_dir"], args=args, train_dataset=Dataset.from_list(pairs),
                                         processing_class=tok, callbacks=[timer])
    elif kind == "reward":
        rows = [{"chosen_ids": p["prompt_ids"] + p["chosen_ids"], "rejected_ids": p["prompt_ids"] + p["rejected_ids"]} for p in pairs]
        args = RewardConfig(**common_args(job, out_dir, steps), max_length=None)
        trainer = RewardTrainer(model=m["reward_dir"], args=args, train_dataset=Dataset.from_list(rows),
                                processing_class=tok, callbacks=[timer])
    else:
        rows = [{"input_ids": p["prompt_ids"] + p["chosen_ids"],
                 "completion_mask": [0] * len(p["prompt_ids"]) + [1] * len(p["chosen_ids"])} for p in pairs]
        args = SFTConfig(**common_args(job, out_dir, steps), completion_only_loss=True, max_length=None)
        trainer = SFTTrainer(model=m["policy_dir"], args=args, train_dataset=Dataset.from_list(rows),
                             processing_class=tok, callbacks=[timer])
    trainer.train()
    return timer.ms[job["warmup"]:]


def score_ms(m, job):
    pairs = m["pairs"]
    policy = AutoModelForCausalLM.from_pretrained(m["policy_dir"], dtype=torch.float32).eval()
    reference = AutoModelForCausalLM.from_pretrained(m["policy_dir"], dtype=torch.float32).eval()
    reward = AutoModelForSequenceClassification.from_pretrained(m["reward_dir"], dtype=torch.float32, num_labels=1).eval()
    ids = torch.tensor([p["prompt_ids"] + p["chosen_ids"] for p in pairs] + [p["prompt_ids"] + p["rejected_ids"] for p in pairs])
    attn = torch.ones_like(ids)
    P = len(pairs[0]["prompt_ids"])
    comp = torch.zeros_like(ids)
    comp[:, P:] = 1

    def logps(model):
        logits = model(input_ids=ids, attention_mask=attn, use_cache=False).logits[:, :-1]
        lp = selective_log_softmax(logits, ids[:, 1:])
        return (lp * comp[:, 1:]).sum(1)

    ms = []
    with torch.no_grad():
        for i in range(job["warmup"] + job["steps"]):
            t0 = time.perf_counter()
            reward(input_ids=ids, attention_mask=attn).logits.squeeze(-1).tolist()
            torch.stack([logps(policy), logps(reference), comp.sum(1).float()]).tolist()
            if i >= job["warmup"]:
                ms.append((time.perf_counter() - t0) * 1000)
    return ms


def generate_ms(kind, m, job):
    model = AutoModelForCausalLM.from_pretrained(m["policy_dir"], dtype=torch.float32).eval()
    model.generation_config.eos_token_id = None  # every row makes exactly new_tokens tokens, as on our side
    prompts = m["sample_prompts"]
    L = max(len(p) for p in prompts)
    pad = m["pad_id"]
    ids = torch.tensor([[pad] * (L - len(p)) + p for p in prompts])
    attn = torch.tensor([[0] * (L - len(p)) + [1] * len(p) for p in prompts])
    n = job["new_tokens"]
    o = job["sample"][kind]
    settings = dict(do_sample=False) if kind == "greedy" else dict(do_sample=True, temperature=float(o["temperature"]), top_p=float(o["topP"]), top_k=0)
    ms = []
    with torch.no_grad():
        for i in range(job["warmup"] + job["steps"]):
            torch.manual_seed(i)
            t0 = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=attn, max_new_tokens=n, min_new_tokens=0, pad_token_id=pad, eos_token_id=None,
                                 use_cache=True, **settings)
            if i >= job["warmup"]:
                ms.append((time.perf_counter() - t0) * 1000)
            if out.shape != (len(prompts), L + n):
                raise RuntimeError(f"generate returned {tuple(out.shape)}, expected {(len(prompts), L + n)}")
    return ms


def matmul(n, reps):
    """torch's own large-matmul speed, measured as src/bench/matmul.ts measures ours: a square float32 product
    n×n · n×n (2n³ FLOPs) timed up to a host copy of its result (TF.js's data() copies it out too), one
    warm-up, then `reps` repetitions; the fastest gives the peak, the median is kept beside it."""
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    ms = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        torch.mm(a, b).numpy().copy()
        if i > 0:
            ms.append((time.perf_counter() - t0) * 1000)

    def rate(t):
        return float(f"{2 * n**3 / (t / 1000) / 1e9:.4g}")  # 4 significant digits, as matmul.ts

    return {"n": n, "ms": [round(x, 2) for x in ms], "gflops": rate(min(ms)), "median_gflops": rate(median(ms))}


def peak_rss():
    """(MiB, source): the kernel's high-water mark VmHWM, else getrusage's ru_maxrss (KiB on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1), "/proc/self/status VmHWM"
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "getrusage ru_maxrss"


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def main():
    job = json.load(sys.stdin)
    out = {"versions": {"trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
           "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(), "usable_cpus": THREADS,
           "build": {"config": torch.__config__.show(), "parallel": torch.__config__.parallel_info()},
           "mkl_shim": mkl_shim_loaded(), "results": [], "errors": []}
    if job.get("matmul_n", 2048) > 0:
        mm = matmul(job.get("matmul_n", 2048), job.get("matmul_reps", 10))
        log(f"torch matmul {mm['n']}² {mm['gflops']} GFLOP/s on {torch.get_num_threads()} threads")
        out["matmul"], out["matmul_gflops"] = mm, mm["gflops"]
    for m in job["models"]:
        B, T = len(m["pairs"]), len(m["pairs"][0]["prompt_ids"]) + len(m["pairs"][0]["chosen_ids"])
        for kind in job["kinds"]:
            try:
                with tempfile.TemporaryDirectory() as out_dir:
                    if kind in ("sample", "greedy"):
                        ms = generate_ms(kind, m, job)
                    elif kind == "grpo":
                        ms = grpo_ms(m, job, out_dir)
                    else:
                        ms = score_ms(m, job) if kind == "score" else train_ms(kind, m, job, out_dir)
                rss, rss_source = peak_rss()
                if kind in ("sample", "greedy"):
                    tokens = len(m["sample_prompts"]) * job["new_tokens"]
                elif kind == "grpo":
                    tokens = len(m["grpo_prompts"]) * job["grpo"]["num_generations"] * job["new_tokens"]
                else:
                    tokens = B * T if kind == "sft" else 2 * B * T
                out["results"].append({"model": m["name"], "kind": kind, "tokens": tokens, "ms": [round(x, 1) for x in ms],
                                       "median_ms": median(ms), "peak_rss_mib": rss, "rss_source": rss_source})
                log(f"{m['name']} {kind}: {' '.join(f'{x / 1000:.2f}' for x in ms)} s -> {tokens / (median(ms) / 1000):.0f} tok/s, "
                    f"peak RSS {rss} MiB")
            except Exception as e:  # noqa: BLE001 - reported per step kind, the others still run
                out["errors"].append({"model": m["name"], "kind": kind, "message": f"{type(e).__name__}: {e}"})
                log(f"{m['name']} {kind}: failed: {type(e).__name__}: {e}")
    _real_stdout.write(json.dumps(out) + "\n")
    _real_stdout.flush()


if __name__ == "__main__":
    main()
