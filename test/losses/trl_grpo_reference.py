"""Oracle for test/losses/grpo-reference.test.ts: TRL 1.13's GRPO / RLOO losses and advantages, online DPO's labels.

Reads a JSON request on stdin, writes a JSON answer on stdout; everything in float64.

Losses: calls GRPOTrainer._compute_loss and RLOOTrainer._compute_loss (TRL's real methods, unmodified) with `self`
replaced by a namespace holding only what they read; its `_get_per_token_logps_and_entropies` returns the given
per-token log-probs (as a leaf tensor, so the gradient of the loss with respect to them comes back too).

Advantages and labels live inline in TRL's _generate_and_score_completions / training_step (they need a model and
a generator to call); they are re-derived here line by line from those methods (TRL 1.13), using TRL's nanstd.
"""
import json
import sys
from collections import defaultdict
from types import SimpleNamespace

import torch
import trl
from trl.trainer.grpo_trainer import GRPOTrainer
from trl.trainer.rloo_trainer import RLOOTrainer
from trl.trainer.utils import nanstd

torch.set_default_dtype(torch.float64)


def stub(case, per_token_logps):
    accel = SimpleNamespace(
        num_processes=1,
        gather=lambda x: x,
        gather_for_metrics=lambda x: x,
        reduce=lambda x, reduction="sum": x,
        sync_gradients=True,
    )
    args = SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1)
    eps = case["epsilon"]
    eps_high = case.get("epsilon_high") if case.get("epsilon_high") is not None else eps
    return SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (per_token_logps, torch.zeros_like(per_token_logps), None),
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=case["beta"],
        args=args,
        loss_type=case.get("loss_type"),
        epsilon_low=eps,
        epsilon_high=eps_high,
        use_vllm=False,
        vllm_importance_sampling_correction=False,
        model=SimpleNamespace(training=True),
        current_gradient_accumulation_steps=1,
        max_completion_length=case["max_completion_length"],
        accelerator=accel,
        _entropy_bonus_enabled=False,
        aux_loss_enabled=False,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
    )


def loss_case(case, trainer):
    logps = torch.tensor(case["per_token_logps"], dtype=torch.float64, requires_grad=True)
    mask = torch.tensor(case["mask"], dtype=torch.long)
    B, T = logps.shape
    inputs = {
        "prompt_ids": torch.ones(B, 1, dtype=torch.long),
        "prompt_mask": torch.ones(B, 1, dtype=torch.long),
        "completion_ids": torch.ones(B, T, dtype=torch.long),
        "completion_mask": mask,
        "advantages": torch.tensor(case["advantages"], dtype=torch.float64),
        "num_items_in_batch": mask.sum(),
    }
    if case.get("old_per_token_logps") is not None:
        inputs["old_per_token_logps"] = torch.tensor(case["old_per_token_logps"])
        # RLOO reads sequence sums of the old log-probs
        inputs["old_logps"] = (inputs["old_per_token_logps"] * mask).sum(1)
    elif trainer is RLOOTrainer:
        inputs["old_logps"] = (logps.detach() * mask).sum(1)
    if case.get("ref_per_token_logps") is not None:
        inputs["ref_per_token_logps"] = torch.tensor(case["ref_per_token_logps"])
    s = stub(case, logps)
    loss = trainer._compute_loss(s, None, inputs)
    loss.backward()
    metrics = {k: v[-1] for k, v in s._metrics["train"].items() if k != "entropy"}
    return {"loss": loss.item(), "grad": logps.grad.tolist(), "metrics": metrics}


def grpo_advantages(case):
    # GRPOTrainer._generate_and_score_completions, multi_objective_aggregation == "sum_then_normalize"
    rewards = torch.tensor(case["rewards"], dtype=torch.float64)
    G = case["num_generations"]
    scale = case["scale_rewards"]
    mean_grouped = torch.nanmean(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    if scale in ["group", "none"]:
        std = nanstd(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    else:
        std = nanstd(rewards).expand_as(rewards)
    adv = rewards - mean_grouped
    if scale != "none":
        adv = adv / (std + 1e-4)
    is_std_zero = torch.isclose(std, torch.zeros_like(std))
    return {"advantages": adv.tolist(), "frac_reward_zero_std": is_std_zero.double().mean().item()}


def rloo_advantages(case):
    # RLOOTrainer._generate_and_score_completions
    rewards = torch.tensor(case["rewards"], dtype=torch.float64)
    G = case["num_generations"]
    beta = case["beta"]
    if beta != 0.0:
        old = torch.tensor(case["old_per_token_logps"])
        ref = torch.tensor(case["ref_per_token_logps"])
        mask = torch.tensor(case["mask"], dtype=torch.long)
        kl = ((old - ref) * mask).sum(-1)
        rewards = rewards - beta * kl
    grouped = rewards.view(-1, G)
    std = nanstd(grouped, dim=1)
    counts = (~torch.isnan(grouped)).sum(dim=1, keepdim=True)
    gsum = torch.nansum(grouped, dim=1, keepdim=True)
    baselines = ((gsum - grouped) / (counts - 1)).view(-1)
    adv = rewards - baselines
    if case["normalize_advantages"]:
        adv = (adv - torch.nanmean(adv)) / (nanstd(adv) + 1e-4)
    adv = torch.nan_to_num(adv, nan=0.0)
    is_std_zero = torch.isclose(std, torch.zeros_like(std))
    return {"advantages": adv.tolist(), "frac_reward_zero_std": is_std_zero.double().mean().item()}


def online_dpo_labels(case):
    # OnlineDPOTrainer.training_step: rewards of [first samples..., second samples...]
    rewards = torch.tensor(case["first"] + case["second"], dtype=torch.float64)
    batch_size = len(case["first"])
    first_half, second_half = rewards.split(batch_size)
    mask = first_half >= second_half
    batch_range = torch.arange(batch_size)
    chosen_indices = batch_range + (~mask * batch_size)
    return {"chosen_is_first": (chosen_indices < batch_size).tolist()}


def main():
    req = json.load(sys.stdin)
    out = {
        "trl_version": trl.__version__,
        "grpo": [loss_case(c, GRPOTrainer) for c in req["grpo"]],
        "rloo": [loss_case(c, RLOOTrainer) for c in req["rloo"]],
        "grpo_advantages": [grpo_advantages(c) for c in req["grpo_advantages"]],
        "rloo_advantages": [rloo_advantages(c) for c in req["rloo_advantages"]],
        "online_dpo": [online_dpo_labels(c) for c in req["online_dpo"]],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
