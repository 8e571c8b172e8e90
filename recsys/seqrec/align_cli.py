"""``tastebud tune recommender``: align a trained SASRec with list preferences (S-DPO or DPO).

Wired in ``tastebud/cli.py``; imports only the standard library at load, so ``--help`` is instant.
The aligned model is saved like a trained one (``recommender.save``) into the cache folder
``models/<dataset>-<kind>-aligned``, where the agent looks for it first (``--no-aligned`` in
``tastebud chat`` / ``demo`` leaves it out). With ``--json`` the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

METHODS = ("sdpo", "dpo")  # recsys.seqrec.align.METHODS, repeated so --help imports nothing heavy
ALIGNMENT_RECORD = "alignment.json"
TRAIN_COMMAND = "tastebud train seqrec --dataset {dataset} --model sasrec-ce --window-stride 16 --exclude-seen"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``tastebud tune recommender``."""
    p.add_argument("--dataset", default="ml-100k", help="ml-100k, a catalog folder, or a 'user item' pair file")
    p.add_argument(
        "--reference",
        help="the trained recommender folder to align (default: the cache's models/<dataset>-sasrec-ce, "
        "where 'tastebud train seqrec' saves it)",
    )
    p.add_argument("--method", choices=METHODS, default="sdpo", help="sdpo: several rejected items per row; dpo: one")
    p.add_argument("--lists", help="lists.jsonl, or the 'tastebud tune data' folder holding it (logged preferences)")
    p.add_argument(
        "--mine-per-user",
        type=int,
        default=20,
        help="rows mined per user from the training interactions: the next item over the model's top unpicked "
        "items (0: the logged lists only)",
    )
    add_alignment_arguments(p)
    p.add_argument("--out", help="run folder (default: runs/tune/recommender-METHOD)")
    p.add_argument(
        "--no-save",
        action="store_true",
        help="keep the model in the run folder only (by default it is also installed where the agent loads it)",
    )
    p.add_argument("--no-eval", action="store_true", help="skip offline NDCG@10 / HR@10 of reference and aligned")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")


def add_alignment_arguments(p: argparse.ArgumentParser) -> None:
    """The alignment settings (also ``benchmarks/align_recommender.py``'s); ``alignment_config`` reads them."""
    p.add_argument(
        "--pool",
        type=int,
        default=50,
        help="mined rows: draw the rejected items from the model's best POOL unpicked items (the very top holds "
        "many items the user picks later); 0: the top --n-rejected",
    )
    p.add_argument(
        "--shared-attributes",
        type=int,
        default=0,
        help="mined rows: rejected items share at least K askable attribute values (genre, decade, people) with "
        "the accepted one, its look-alikes that a conversation narrowing by attributes still shows (0: any item)",
    )
    p.add_argument(
        "--sft-weight", type=float, default=0.0, help="weight of a cross-entropy anchor on the accepted item (0: none)"
    )
    p.add_argument("--n-rejected", type=int, default=8, help="rejected items per row (mined, and used by sdpo)")
    p.add_argument("--beta", type=float, default=1.0, help="pull toward the reference (larger: stay closer)")
    p.add_argument("--rounds", type=int, default=1, help="OneRec-style rounds: re-take the reference after each")
    p.add_argument("--epochs", type=int, default=1, help="passes over the preferences per round")
    p.add_argument("--batch-size", type=int, default=256, help="preference rows per step")
    p.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate")
    p.add_argument("--max-steps", type=int, help="cap on steps per round (smoke runs)")
    p.add_argument("--seed", type=int, default=0, help="row order and subsampling of rejected items")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA when available")


def alignment_config(args: argparse.Namespace, method: str = "sdpo") -> Any:  # -> AlignConfig
    """``AlignConfig`` from the flags of ``add_alignment_arguments``."""
    from recsys.seqrec.align import AlignConfig

    return AlignConfig(
        method=method,  # type: ignore[arg-type]
        beta=args.beta,
        n_rejected=args.n_rejected,
        rounds=args.rounds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_steps=args.max_steps,
        sft_weight=args.sft_weight,
        seed=args.seed,
        device=args.device,
    )


def _sequences(dataset: str) -> tuple[Any, Any]:  # -> (SequenceData, Catalog | None)
    """The dataset's sequences, and its catalog when it has one (a pair file has none)."""
    from recsys.seqrec.data import SHARED_FILES, from_catalog, load_sequences

    if dataset in SHARED_FILES or Path(dataset).is_file():
        return load_sequences(dataset), None
    from recsys.datasets import load_catalog

    catalog = load_catalog(dataset)
    return from_catalog(catalog), catalog


def _offline(rec: Any, split: Any, seed: int) -> dict[str, dict[str, float]]:
    from recsys.seqrec.evaluate import evaluate

    return {stage: evaluate(rec.score, split, stage, ("full",), seed=seed)["full"] for stage in ("valid", "test")}


def run(args: argparse.Namespace) -> int:
    """Align, write ``result.json`` and the model, and install it for the agent."""
    from dataclasses import asdict

    from recsys.seqrec.align import align
    from recsys.seqrec.data import leave_one_out
    from recsys.seqrec.preferences import Preferences, mine_preferences, read_lists
    from recsys.seqrec.recommender import NeuralRecommender, load, save
    from recsys.settings import Settings

    settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None))
    reference = Path(args.reference) if args.reference else settings.model_dir(args.dataset, "sasrec-ce")
    if not (reference / "config.json").is_file():
        log.error(
            "no trained recommender at %s; train one first: %s", reference, TRAIN_COMMAND.format(dataset=args.dataset)
        )
        return 2
    rec = load(reference)
    if not isinstance(rec, NeuralRecommender) or rec.arch != "sasrec":
        log.error(
            "%s holds %s; alignment needs the SASRec family (sasrec-ce, sasrec-bce, gsasrec)", reference, rec.kind
        )
        return 2
    if args.mine_per_user < 0 or (args.mine_per_user == 0 and not args.lists):
        log.error("nothing to align with: give --lists and/or --mine-per-user > 0")
        return 2
    cfg = alignment_config(args, args.method)
    data, catalog = _sequences(args.dataset)
    split = leave_one_out(data)
    if args.mine_per_user and tuple(data.item_ids) != rec.item_ids:
        log.error("%s was trained on other items than %s; mining needs the same catalog", reference, args.dataset)
        return 2
    logged = read_lists(Path(args.lists), rec.item_ids) if args.lists else Preferences.empty()
    attributes = None
    if args.mine_per_user and args.shared_attributes:
        from recsys.seqrec.preferences import item_attributes

        if catalog is None:
            log.error("--shared-attributes needs a catalog with item attributes; %s is a pair file", args.dataset)
            return 2
        attributes = item_attributes(catalog, data)

    def preferences(current: Any) -> Preferences:  # current: the round's frozen reference (SASRec)
        mined = (
            mine_preferences(
                current,
                split,
                args.n_rejected,
                args.mine_per_user,
                pool=args.pool or None,
                seed=args.seed,
                attributes=attributes,
                min_shared=args.shared_attributes,
            )
            if args.mine_per_user
            else None
        )
        return logged + mined if mined is not None else logged

    t0 = time.perf_counter()
    before = None if args.no_eval else _offline(rec, split, args.seed)
    result = align(rec.model, preferences, cfg)
    rec.model.cpu()
    after = None if args.no_eval else _offline(rec, split, args.seed)
    out = Path(args.out or f"runs/tune/recommender-{args.method}")
    saved = save(rec, out / "model")
    record = {
        "method": args.method,
        "reference": str(reference.resolve()),
        "lists": str(Path(args.lists).resolve()) if args.lists else None,
        "logged_rows": len(logged),
        "mine_per_user": args.mine_per_user,
        "pool": args.pool or None,
        "shared_attributes": args.shared_attributes if attributes is not None else 0,
        "config": asdict(cfg),
    }
    (saved / ALIGNMENT_RECORD).write_text(json.dumps(record, indent=2))
    installed = None
    if not args.no_save:
        target = settings.aligned_model_dir(args.dataset, rec.kind)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(saved, target)
        installed = str(target)
    payload = {
        **record,
        **result.to_dict(),
        "offline": {"reference": before, "aligned": after},
        "wall_s": round(time.perf_counter() - t0, 1),
        "saved_to": str(saved),
        "installed": installed,
        "out": str(out),
    }
    (out / "result.json").write_text(json.dumps(payload, indent=2))
    human = (
        f"{args.method}: {result.rows} rows, {result.steps} steps in {result.train_s:.1f} s on {result.device} "
        f"({result.pairs_per_s:.0f} pairs/s, peak {result.peak_memory_mb:.0f} MB)"
    )
    if before and after:
        human += "\n" + "\n".join(
            f"{stage} NDCG@10 {before[stage]['ndcg@10']:.4f} -> {after[stage]['ndcg@10']:.4f}, "
            f"HR@10 {before[stage]['hr@10']:.4f} -> {after[stage]['hr@10']:.4f}"
            for stage in ("valid", "test")
        )
    human += f"\nmodel: {installed or saved}" + (
        "  (the agent uses it from its next start; --no-aligned leaves it out)" if installed else ""
    )
    if getattr(args, "json", False):
        print(json.dumps(payload))  # noqa: T201
    else:
        print(human)  # noqa: T201
    return 0
