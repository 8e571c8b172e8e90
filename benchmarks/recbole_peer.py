"""RecBole 1.2.1's SASRec on ML-100K, as a peer for benchmarks/seqrec.py.

Runs ONLY in the separate RecBole venv (benchmarks/setup_recbole_env.sh); it imports nothing
from Tastebud. It trains with RecBole's own loop (leave-one-out by time, full ranking, CE loss,
early stopping on valid NDCG@10), then writes, for our evaluator, the full score matrix of the
best model on the test users plus RecBole's own test metrics and per-epoch times:

    /work/recbole-venv/bin/python benchmarks/recbole_peer.py --epochs 30 --out /tmp/recbole_peer.npz
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # RecBole reloads its own checkpoints

import numpy as np
import torch


def main() -> None:
    """Train RecBole's SASRec and dump scores and metrics."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--out", required=True)
    parser.add_argument("--checkpoint-dir", default="/tmp/recbole_saved")
    parser.add_argument(
        "--score-only",
        metavar="PTH",
        help="skip training: score the test users with this RecBole checkpoint (e.g. the best of a run cut short)",
    )
    parser.add_argument("--log", help="with --score-only: the cut-short run's log, for its epoch times")
    args = parser.parse_args()

    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_logger, init_seed

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    torch.autograd.set_detect_anomaly(False)  # RecBole's sine.py turns it on at import (~35% slower epochs)
    config = Config(
        model="SASRec",
        dataset="ml-100k",
        config_dict={
            "n_layers": 2,
            "n_heads": 2,
            "hidden_size": 64,
            "inner_size": 256,
            "hidden_dropout_prob": 0.2,
            "attn_dropout_prob": 0.2,
            "hidden_act": "gelu",
            "loss_type": "CE",
            "MAX_ITEM_LIST_LENGTH": 50,
            "train_batch_size": 256,
            "eval_batch_size": 256,
            "learning_rate": 1e-3,
            "epochs": args.epochs,
            "stopping_step": 10,
            "seed": args.seed,
            "reproducibility": True,
            "train_neg_sample_args": None,
            "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
            "metrics": ["Hit", "NDCG", "MRR"],
            "topk": [10],
            "valid_metric": "NDCG@10",
            "device": "cpu",
            "use_gpu": False,
            "checkpoint_dir": args.checkpoint_dir,
            "show_progress": False,
        },
    )
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = SASRec(config, train_data._dataset).to(config["device"])
    trainer = Trainer(config, model)
    torch.autograd.set_detect_anomaly(False)

    epoch_seconds: list[float] = []
    train_epoch = trainer._train_epoch

    def timed(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        out = train_epoch(*a, **kw)
        epoch_seconds.append(time.perf_counter() - t0)
        return out

    trainer._train_epoch = timed
    t0 = time.perf_counter()
    cut_short = None
    if args.score_only:
        ckpt = torch.load(args.score_only, map_location="cpu", weights_only=False)
        trainer.model.load_state_dict(ckpt["state_dict"])
        best_valid = ckpt["best_valid_score"]
        cut_short = {"checkpoint": args.score_only, "best_epoch": int(ckpt["epoch"])}
        if args.log:
            pattern = re.compile(r"epoch (\d+) training \[time: ([0-9.]+)s")
            epoch_seconds = [float(m.group(2)) for m in pattern.finditer(open(args.log).read())]
        test_result = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    else:
        best_valid, _ = trainer.fit(train_data, valid_data, saved=True, show_progress=False)
        test_result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    fit_seconds = time.perf_counter() - t0

    # Full score matrix of the best model for every test user, in RecBole's item order.
    model = trainer.model
    model.eval()
    users, targets, rows = [], [], []
    with torch.no_grad():
        for interaction, _history_index, _positive_u, positive_i in test_data:
            scores = model.full_sort_predict(interaction.to(config["device"]))
            rows.append(scores.view(len(interaction), -1).cpu().numpy().astype(np.float32))
            users.append(interaction["user_id"].cpu().numpy())
            targets.append(positive_i.cpu().numpy())
    user_tokens = dataset.id2token("user_id", np.concatenate(users))
    item_tokens = np.array(dataset.field2id_token["item_id"])
    np.savez_compressed(
        args.out,
        scores=np.concatenate(rows),
        user_tokens=np.asarray(user_tokens).astype(str),
        item_tokens=item_tokens.astype(str),
        target_tokens=item_tokens[np.concatenate(targets)].astype(str),
        meta=json.dumps(
            {
                "recbole_test": {k: float(v) for k, v in dict(test_result).items()},
                "best_valid_ndcg@10": float(best_valid),
                "epochs_run": len(epoch_seconds),
                "epoch_seconds": epoch_seconds,
                "fit_seconds": fit_seconds,
                "seed": args.seed,
                "max_epochs": args.epochs,
                "train_rows_per_epoch": len(train_data.dataset),
                "torch": torch.__version__,
                "cut_short": cut_short,
            }
        ),
    )
    print(
        json.dumps({"recbole_test": {k: float(v) for k, v in dict(test_result).items()}, "epochs": len(epoch_seconds)})
    )  # noqa: T201


if __name__ == "__main__":
    main()
