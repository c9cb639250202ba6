"""
Oracle for test/cli/export-trl.test.ts: reads an `rlhf export --trl` folder with TRL's own code.

Input (JSON on stdin): {"dir": the export folder, "stage": "reward" | "dpo" | "grpo", "fields": [TRL field names]}
Output (JSON on stdout):
  "config": {field: value} for the asked fields, as TRL's TrlParser reads <stage>.yaml (the same parser
            `trl <stage> --config` uses: ScriptArguments, RewardConfig / DPOConfig, ModelConfig,
            DatasetMixtureConfig), after the config classes' own __post_init__
  "ids":    the token ids TRL's trainer prepares from data/train.jsonl, row by row: the trainer is built as
            trl/scripts/<stage>.py builds it (model path, args, dataset) and its train_dataset is read, so these
            are the ids TRL trains on (reward: chosen_ids / rejected_ids, whole sequences; dpo: prompt_ids,
            chosen_ids, rejected_ids)
            grpo: "prompts", the prompt column of the GRPOTrainer's train_dataset (built as trl/scripts/grpo.py builds
            it, with reward_model_name_or_path as its reward function), instead of ids
  "versions": trl, transformers
Nothing is trained and nothing is downloaded (HF_HUB_OFFLINE).
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

_stdout = sys.stdout
sys.stdout = sys.stderr

import datasets  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from trl import DatasetMixtureConfig, DPOConfig, DPOTrainer, ModelConfig, RewardConfig, RewardTrainer, ScriptArguments, TrlParser  # noqa: E402

datasets.disable_caching()


def plain(v):
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if hasattr(v, "value"):  # enums (IntervalStrategy, SchedulerType, ...)
        return v.value
    return v


def main():
    req = json.load(sys.stdin)
    os.chdir(req["dir"])
    stage = req["stage"]
    if stage == "grpo":
        return grpo(req)
    config_cls, trainer_cls = {"reward": (RewardConfig, RewardTrainer), "dpo": (DPOConfig, DPOTrainer)}[stage]
    parser = TrlParser((ScriptArguments, config_cls, ModelConfig, DatasetMixtureConfig))
    script_args, args, model_args, _ = parser.parse_args_and_config(args=["--config", f"{stage}.yaml"])
    config = {}
    for name in req["fields"]:
        for obj in (script_args, args, model_args):
            if hasattr(obj, name):
                config[name] = plain(getattr(obj, name))
                break
    data = datasets.load_dataset(script_args.dataset_name)
    with tempfile.TemporaryDirectory() as out:
        args.output_dir = out
        trainer = trainer_cls(model=model_args.model_name_or_path, args=args, train_dataset=data[script_args.dataset_train_split])
        cols = ["chosen_ids", "rejected_ids"] + (["prompt_ids"] if stage == "dpo" else [])
        ids = [{c: list(row[c]) for c in cols} for row in trainer.train_dataset]
    _stdout.write(json.dumps({"config": config, "ids": ids, "splits": sorted(data.keys()), "versions": {"trl": trl.__version__, "transformers": transformers.__version__}}))


def grpo(req):
    from trl import GRPOTrainer
    from trl.scripts.grpo import make_parser

    script_args, args, model_args, _ = make_parser().parse_args_and_config(args=["--config", "grpo.yaml"])
    config = {}
    for name in req["fields"]:
        for obj in (script_args, args, model_args):
            if hasattr(obj, name):
                config[name] = plain(getattr(obj, name))
                break
    data = datasets.load_dataset(script_args.dataset_name)
    with tempfile.TemporaryDirectory() as out:
        args.output_dir = out
        trainer = GRPOTrainer(model=model_args.model_name_or_path, reward_funcs=[script_args.reward_model_name_or_path], args=args,
                              train_dataset=data[script_args.dataset_train_split])
        prompts = [row["prompt"] for row in trainer.train_dataset]
    _stdout.write(json.dumps({"config": config, "prompts": prompts, "splits": sorted(data.keys()), "versions": {"trl": trl.__version__, "transformers": transformers.__version__}}))


if __name__ == "__main__":
    main()
