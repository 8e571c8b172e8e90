"""``tastebud train seqrec``: train one sequential recommender, report validation-selected test metrics.

The entry point (``tastebud/cli.py``) wires ``add_arguments`` and ``run``. With ``--json`` the last
line of stdout is one JSON object with the config, the metrics of every protocol and the timings.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only names at load: torch and the models are imported when the command runs, so --help is instant.
from recsys.seqrec.names import LOSS_NORMS, PROTOCOLS, RECOMMENDER_NAMES, SAMPLERS

if TYPE_CHECKING:
    from recsys.seqrec.train import TrainConfig

logger = logging.getLogger(__name__)

MODEL_FLAGS = ("max_len", "d_model", "n_layers", "n_heads", "d_ff", "dropout", "post_norm")
LOSS_FLAGS = {
    "exclude_seen": "exclude_seen",
    "negatives": "n_negatives",
    "gbce_t": "gbce_t",
}  # flag -> LossConfig field


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``tastebud train seqrec``."""
    parser.add_argument("--dataset", default="ml-100k", help="ml-100k (embedded), games, beauty, or a 'user item' file")
    parser.add_argument("--model", default="sasrec-ce", choices=sorted(RECOMMENDER_NAMES), help="recommender kind")
    parser.add_argument("--epochs", type=int, default=200, help="upper bound; early stopping usually ends sooner")
    parser.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA when available, else CPU"
    )
    parser.add_argument("--batch-size", type=int, default=128, help="training sequences per batch")
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    parser.add_argument("--patience", type=int, default=10, help="epochs without better valid NDCG@10 before stopping")
    parser.add_argument(
        "--eval-every",
        type=int,
        default=1,
        help="validate every N epochs (full-ranking validation dominates cheap epochs)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of initialisation, sampling and the sampled tests")
    parser.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    parser.add_argument("--max-len", type=int, help="history length read by the model (default 50)")
    parser.add_argument("--d-model", type=int, help="hidden size (default 64)")
    parser.add_argument("--n-layers", type=int, help="transformer blocks (default 2)")
    parser.add_argument("--n-heads", type=int, help="attention heads (default 2)")
    parser.add_argument("--d-ff", type=int, help="feed-forward size (default d_model; BERT4Rec 4 x d_model)")
    parser.add_argument("--dropout", type=float, help="dropout (default 0.2; BERT4Rec 0.1)")
    parser.add_argument(
        "--post-norm",
        action="store_const",
        const=True,
        help="LayerNorm after each residual sum, as BERT and RecBole's SASRec (default: before each sublayer)",
    )
    parser.add_argument(
        "--exclude-seen",
        action="store_const",
        const=True,
        help="sasrec-ce: leave the user's other training items out of the softmax (they are never recommended)",
    )
    parser.add_argument(
        "--negatives",
        type=int,
        help="sasrec-bce / gsasrec: sampled negatives per position (defaults 1 and 256)",
    )
    parser.add_argument("--gbce-t", type=float, help="gsasrec: gBCE calibration t in [0, 1] (default 0.75)")
    parser.add_argument("--checkpoint-dir", type=Path, help="write last.pt here every epoch")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir/last.pt")
    parser.add_argument(
        "--save",
        type=Path,
        help="save the best model here (model.safetensors + config.json); default: the cache's models/<dataset>-<model>, "
        "where the agent looks for it",
    )
    parser.add_argument("--no-save", action="store_true", help="do not save the trained model")
    parser.add_argument(
        "--protocols",
        nargs="+",
        default=list(PROTOCOLS),
        choices=PROTOCOLS,
        help="test protocols (sampled ones are for comparison with papers only)",
    )
    parser.add_argument("--max-steps-per-epoch", type=int, help="cap steps per epoch (smoke runs)")
    parser.add_argument(
        "--window-stride",
        type=int,
        help="next-item models: training windows end this many items apart (more context per target)",
    )
    parser.add_argument(
        "--sampler",
        default="windows",
        choices=SAMPLERS,
        help="next-item models: 'windows' (every target once per epoch, length-grouped batches, fast) or 'users' "
        "(the SASRec reference sampler: one row per user, mixed batches; slower, better on sparse data such as games)",
    )
    parser.add_argument(
        "--loss-norm",
        default="batch",
        choices=LOSS_NORMS,
        help="next-item models: 'batch' averages the loss over each batch's targets; 'epoch' weighs every target "
        "alike (sum over the batch / mean targets per batch), which length-grouped batches otherwise do not",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` the flags describe."""
    from recsys.seqrec.train import TrainConfig

    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        patience=args.patience,
        eval_every=args.eval_every,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
        progress=not args.no_progress,
        max_steps_per_epoch=args.max_steps_per_epoch,
        window_stride=args.window_stride,
        sampler=args.sampler,
        loss_norm=args.loss_norm,
    )


def model_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Model-shape and loss flags that were given (others keep the model's defaults)."""
    from recsys.seqrec.recommender import RECOMMENDERS

    if not RECOMMENDERS[args.model].neural:
        return {}
    overrides = {name: getattr(args, name) for name in MODEL_FLAGS if getattr(args, name) is not None}
    given = {flag: getattr(args, flag) for flag in LOSS_FLAGS if getattr(args, flag) is not None}
    return overrides | {f"loss.{LOSS_FLAGS[flag]}": value for flag, value in given.items()}


def run(args: argparse.Namespace) -> int:
    """Train, pick the best validation epoch, evaluate on test, print a table (and JSON)."""
    import torch

    from recsys.seqrec.data import leave_one_out, load_sequences
    from recsys.seqrec.evaluate import evaluate
    from recsys.seqrec.recommender import RECOMMENDERS, create, save
    from recsys.seqrec.train import resolve_device
    from recsys.settings import Settings

    cfg = train_config(args)
    data = load_sequences(args.dataset)
    split = leave_one_out(data)
    device = resolve_device(cfg.device)
    rec = create(args.model, data.item_ids, model_overrides(args), seed=cfg.seed)
    if RECOMMENDERS[args.model].neural:
        rec.to(device)
    t0 = time.perf_counter()
    fit = rec.fit(split, cfg)
    train_seconds = time.perf_counter() - t0
    if not fit.main_process:  # data-parallel run: the main process tests, saves and reports
        return 0
    metrics = evaluate(rec.score, split, "test", args.protocols, seed=cfg.seed)
    if args.save is None and not args.no_save:
        args.save = Settings.from_env().model_dir(args.dataset, args.model)
    if args.save and not args.no_save:
        save(rec, args.save)
    result = {
        "dataset": data.stats(),
        "model": args.model,
        "config": rec.config(),
        "train": cfg.to_dict(),
        "device": str(device),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "epochs_trained": fit.epochs_trained,
        "best_epoch": fit.best_epoch,
        "best_valid_ndcg@10": fit.best_valid_ndcg if fit.best_epoch else None,
        "seconds_per_epoch": round(fit.seconds_per_epoch, 3),
        "train_seconds": round(train_seconds, 1),
        "test": metrics,
        "saved_to": str(args.save) if args.save and not args.no_save else None,
    }
    print(f"{args.model} on {data.name}: {fit.epochs_trained} epochs (best {fit.best_epoch}), {train_seconds:.0f}s")  # noqa: T201
    print(f"{'protocol':<20} {'HR@10':>8} {'NDCG@10':>8} {'MRR':>8}")  # noqa: T201
    for protocol, values in metrics.items():
        print(f"{protocol:<20} {values['hr@10']:>8.4f} {values['ndcg@10']:>8.4f} {values['mrr']:>8.4f}")  # noqa: T201
    if args.json:
        print(json.dumps(result))  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m recsys.seqrec.cli``), the same as ``tastebud train seqrec``."""
    parser = argparse.ArgumentParser(prog="tastebud train seqrec", description=__doc__)
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
