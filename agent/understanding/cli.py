"""``tastebud train understanding``: build the data, train the heads and the linker, save, report."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The command's options (defaults reproduce the shipped model)."""
    from agent.understanding.config import TrainConfig

    d = TrainConfig()
    p.add_argument(
        "--redial", type=Path, default=d.redial_path, help="redial-dev utterances.jsonl (its study part is trained on)"
    )
    p.add_argument("--labels", type=Path, default=d.labels_path, help="labels of the redial-dev messages")
    p.add_argument(
        "--written", type=Path, nargs="+", default=list(d.written_paths), help="the team-written corpus files"
    )
    p.add_argument("--out", type=Path, default=d.out, help="folder to save the model to (default: the shipped model's)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs (the best development epoch is kept)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of every random choice")
    p.add_argument("--copies", type=int, default=d.copies, help="filled copies of each written row with placeholders")
    p.add_argument(
        "--genre-swaps",
        type=int,
        default=d.genre_swaps,
        help="copies of each written row naming its genres outright, with other genres swapped in",
    )
    p.add_argument(
        "--recommender-turns",
        action="store_true",
        help="also train the title tags on the recommenders' turns of the study part (off in the shipped model)",
    )
    p.add_argument("--dataset", default="ml-100k", help="catalog whose titles the linker learns on")
    p.add_argument("--json", action="store_true", help="print one JSON object last")


def run(args: argparse.Namespace) -> int:
    """Train and save; exits 2 with a clear message when redial-dev or the labels are missing."""
    from agent.understanding.config import TrainConfig
    from agent.understanding.features import TokenEncoder
    from agent.understanding.titles import TitleIndex
    from agent.understanding.train import run as train
    from recsys.datasets import load_catalog
    from recsys.encoder import TextEncoder
    from recsys.settings import Settings

    config = replace(
        TrainConfig(),
        redial_path=args.redial,
        labels_path=args.labels,
        written_paths=tuple(args.written),
        out=args.out,
        epochs=args.epochs,
        seed=args.seed,
        copies=args.copies,
        genre_swaps=args.genre_swaps,
        recommender_turns=args.recommender_turns,
    )
    needed = [
        (config.redial_path, "redial-dev (../shared/data/redial-dev/utterances.jsonl; --redial PATH)"),
        (config.labels_path, "the labels (--labels)"),
        *[(path, "a written corpus file (--written)") for path in config.written_paths],
    ]
    for path, what in needed:
        if not path.is_file():
            print(f"error: {what} not found at {path}", flush=True)  # noqa: T201
            return 2
    logging.getLogger("agent.understanding").setLevel(logging.INFO)  # progress: encoding and every epoch
    settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None))
    catalog = load_catalog(args.dataset, settings)
    meta = train(config, TokenEncoder(TextEncoder(settings=settings)), TitleIndex(catalog))
    dev, lk = meta["training"]["dev"], meta["training"]["linker"]
    human = (
        f"saved to {config.out} (best epoch {meta['training']['best_epoch']}, {meta['training']['seconds']} s); "
        f"development: intent {dev['intent']:.3f}, lasting {dev['lasting']:.3f}, genres F1 {dev['genre_f1']:.3f}, "
        f"opinion {dev['opinion']:.3f}, title tags F1 {dev['tag_f1']:.3f}; linker ({lk['kind']}, threshold "
        f"{lk['cross_fitted']['threshold']:.2f}) cross-fitted P {lk['cross_fitted']['precision']:.3f} / "
        f"R {lk['cross_fitted']['recall']:.3f}, development P {lk['dev']['precision']:.3f} / R {lk['dev']['recall']:.3f}"
    )
    if args.json:
        print(json.dumps({k: v for k, v in meta.items() if k != "history"}, default=str))  # noqa: T201
    else:
        print(human)  # noqa: T201
    return 0
