"""Oracle for test/losses/trl-reference.test.ts: runs TRL 1.13's own loss code on given log-probs.

Reads a JSON request on stdin, writes a JSON answer on stdout.

DPO: calls DPOTrainer._compute_loss (TRL's real method, unmodified) with `self` replaced by a small
namespace holding only the attributes that method reads (beta, loss_types, ...). The "model" is a
function returning logits built so that the per-token log-probs TRL extracts equal the requested
sequence sums: vocabulary {0, 1}, every label is 1, and logit a = v - log(1 - e^v) at label 1 (0 at
label 0) gives log_softmax = log sigmoid(a) = v, with v = sum / n_tokens on each completion token.
Reference log-probs go in as precomputed (precompute_ref_logps=True), exactly as given.
Everything runs in float64, so the answer is TRL's formula free of float32 rounding.

Reward: calls RewardTrainer.compute_loss the same way, the "model" returning the given scores.
"""
import json
import math
import sys
from collections import defaultdict
from types import SimpleNamespace

import torch
import trl
from trl.trainer.dpo_trainer import DPOTrainer
from trl.trainer.reward_trainer import RewardTrainer
from trl.trainer.utils import selective_log_softmax

torch.set_default_dtype(torch.float64)


def stub_common():
    return dict(
        model=SimpleNamespace(training=True),
        accelerator=SimpleNamespace(device=torch.device("cpu"), gather=lambda x: x, gather_for_metrics=lambda x: x),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
    )


def dpo_batch(case):
    """input_ids / masks / logits for rows [chosen..., rejected...] realising the requested sums."""
    sums = case["chosen_logps"] + case["rejected_logps"]
    counts = case["chosen_tokens"] + case["rejected_tokens"]
    rows, width = len(sums), 1 + max(counts)  # position 0 is a one-token prompt
    input_ids = torch.ones(rows, width, dtype=torch.long)
    attention_mask = torch.zeros(rows, width, dtype=torch.long)
    completion_mask = torch.zeros(rows, width, dtype=torch.long)
    logits = torch.zeros(rows, width, 2)
    for i, (s, n) in enumerate(zip(sums, counts)):
        v = s / n
        assert v < 0, "per-token log-prob must be negative"
        a = v - math.log(-math.expm1(v))
        attention_mask[i, : n + 1] = 1
        completion_mask[i, 1 : n + 1] = 1
        logits[i, :n, 1] = a  # logits at t predict token t+1
    return input_ids, attention_mask, completion_mask, logits


def run_dpo(case):
    input_ids, attention_mask, completion_mask, logits = dpo_batch(case)
    inputs = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "completion_mask": completion_mask,
        "ref_chosen_logps": torch.tensor(case["ref_chosen_logps"]),
        "ref_rejected_logps": torch.tensor(case["ref_rejected_logps"]),
    }
    stub = SimpleNamespace(
        **stub_common(),
        aux_loss_enabled=False,
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=case["loss_type"],
        loss_weights=case.get("loss_weights") or [1.0] * len(case["loss_type"]),
        beta=case["beta"],
        label_smoothing=case.get("label_smoothing", 0.0),
        use_weighting=False,
        args=SimpleNamespace(discopop_tau=case.get("discopop_tau", 0.05)),
    )
    model = lambda **kw: SimpleNamespace(logits=logits)  # noqa: E731
    loss = DPOTrainer._compute_loss(stub, model, inputs, return_outputs=False)
    # The sums TRL actually used (same extraction as _compute_loss), so both sides start from the same numbers.
    per_token = selective_log_softmax(logits[:, :-1, :], input_ids[:, 1:])
    per_token[completion_mask[:, 1:] == 0] = 0.0
    realised = per_token.sum(dim=1).tolist()
    b = len(case["chosen_logps"])
    metrics = {k: v[-1] for k, v in stub._metrics["train"].items()}
    return {"loss": float(loss), "metrics": metrics, "chosen_logps": realised[:b], "rejected_logps": realised[b:]}


def run_reward(case):
    scores = torch.tensor(case["chosen_rewards"] + case["rejected_rewards"]).unsqueeze(-1)
    rows = scores.shape[0]
    inputs = {"input_ids": torch.ones(rows, 3, dtype=torch.long), "attention_mask": torch.ones(rows, 3, dtype=torch.long)}
    if case.get("margin") is not None:
        inputs["margin"] = torch.tensor(case["margin"])
    stub = SimpleNamespace(**stub_common(), args=SimpleNamespace(center_rewards_coefficient=case.get("center_rewards_coefficient")))
    model = lambda **kw: SimpleNamespace(logits=scores)  # noqa: E731
    loss = RewardTrainer.compute_loss(stub, model, inputs)
    metrics = {k: v[-1] for k, v in stub._metrics["train"].items()}
    return {"loss": float(loss), "metrics": metrics}


def main():
    req = json.load(sys.stdin)
    out = {"trl_version": trl.__version__, "dpo": [run_dpo(c) for c in req.get("dpo", [])], "reward": [run_reward(c) for c in req.get("reward", [])]}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
