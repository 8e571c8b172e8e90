"""``tastebud tune llm``: flags and the command (wired in ``tastebud/cli.py``). Imports only the standard library at load."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

METHODS = ("dpo", "ipo", "robust", "kto")  # agent.tuning.llm.METHODS, repeated so --help imports nothing heavy


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``tastebud tune llm``."""
    p.add_argument(
        "--method",
        choices=METHODS,
        default="dpo",
        help="dpo, ipo, robust (robust DPO under label noise) on pairs.jsonl; kto on unpaired.jsonl",
    )
    p.add_argument("--data", required=True, help="a 'tastebud tune data' output folder")
    p.add_argument("--out", help="run folder (default: runs/tune/llm-METHOD)")
    p.add_argument("--model-path", help="a Hugging Face model folder to tune (default: the embedded SmolLM2)")
    p.add_argument(
        "--preset",
        choices=["tiny", "cpu", "gpu"],
        default="cpu",
        help="tiny: two steps on a CPU (tests); cpu: one epoch on a CPU; gpu: bf16, 3 epochs "
        "(several GPUs: accelerate launch -m tastebud tune llm ...)",
    )
    p.add_argument("--full", action="store_true", help="tune every weight (against a frozen copy) instead of LoRA")
    p.add_argument("--epochs", type=float, help="passes over the data (overrides the preset)")
    p.add_argument("--max-steps", type=int, help="optimizer steps (overrides the preset and --epochs)")
    p.add_argument("--batch-size", type=int, help="rows per device per step (overrides the preset)")
    p.add_argument("--learning-rate", type=float, help="peak learning rate (overrides the preset)")
    p.add_argument("--beta", type=float, help="pull toward the reference model (default 0.1)")
    p.add_argument("--label-smoothing", type=float, help="robust: assumed share of flipped labels (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="adapter initialisation, dropout and data order")
    p.add_argument(
        "--no-save",
        action="store_true",
        help="keep the adapter in the run folder only (by default it is also installed where the agent loads it)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")


def run(args: argparse.Namespace) -> int:
    """Tune, write ``result.json``, and install the adapter for the agent."""
    import shutil
    from dataclasses import asdict

    from agent.llm.adapter import adapter_dir, write_record
    from agent.tuning.llm import preset, tune
    from recsys.assets import AssetManager
    from recsys.settings import Settings

    overrides = {
        name: value
        for name, value in (
            ("epochs", args.epochs),
            ("max_steps", args.max_steps),
            ("batch_size", args.batch_size),
            ("learning_rate", args.learning_rate),
            ("beta", args.beta),
            ("label_smoothing", args.label_smoothing),
        )
        if value is not None
    }
    config = preset(args.preset, method=args.method, lora=not args.full, seed=args.seed, **overrides)
    settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None))
    given = Path(args.model_path).expanduser() if args.model_path else None
    model_path = given if given is not None else AssetManager(settings).path("smollm2")
    out = Path(args.out or f"runs/tune/llm-{args.method}")
    result = tune(config, Path(args.data), model_path, out)
    installed = None
    if config.lora and not args.no_save and result.saved_to:
        target = adapter_dir(settings, given)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(result.saved_to, target)
        write_record(target, given, method=args.method, data=str(Path(args.data).resolve()), preset=args.preset)
        installed = str(target)
    payload = {**asdict(result), "installed": installed, "out": str(out)}
    (out / "result.json").write_text(json.dumps(payload, indent=2))
    losses = result.losses
    human = (
        f"{args.method}: {result.rows} rows, {result.steps} steps in {result.train_s:.1f} s on {result.device} "
        f"({result.rows_per_s:.2f} rows/s, {result.tokens_per_s:.0f} tokens/s, peak {result.peak_memory_mb:.0f} MB)"
        + (f"; logged loss {losses[0]:.4f} -> {losses[-1]:.4f}" if losses else "")
        + f"\nadapter: {installed or result.saved_to}"
        + ("  (the agent uses it from its next start; --no-adapter leaves it out)" if installed else "")
    )
    if getattr(args, "json", False):
        print(json.dumps(payload))  # noqa: T201
    else:
        print(human)  # noqa: T201
    return 0
