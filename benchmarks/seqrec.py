"""Sequential recommenders: quality (full and sampled protocols), training time, recommend() latency.

For each dataset x model it trains with early stopping on validation NDCG@10, evaluates the chosen
checkpoint on test, times the agent tool, and prints a table and, last, one JSON object. On
ML-100K it also trains RecBole 1.2.1's SASRec (in its own venv, started in parallel at the
beginning of the run) on the same leave-one-out split, scores RecBole's best model with our
evaluator, and prints ours/RecBole ratios.

    python benchmarks/seqrec.py --datasets ml-100k --models pop itemknn sasrec-ce
    python benchmarks/seqrec.py --datasets games --models sasrec-ce --no-recbole
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recsys.seqrec.data import SequenceData, Split, leave_one_out, load_sequences  # noqa: E402
from recsys.seqrec.evaluate import PROTOCOLS, target_ranks_by_protocol  # noqa: E402
from recsys.seqrec.metrics import compute_metrics, ndcg_gains, paired_ratio_ci  # noqa: E402
from recsys.seqrec.recommender import RECOMMENDERS, create  # noqa: E402
from recsys.seqrec.tool import RecommendTool, Request  # noqa: E402
from recsys.seqrec.train import LOSS_NORMS, SAMPLERS, TrainConfig  # noqa: E402

logger = logging.getLogger("benchmarks.seqrec")

# Model shapes per dataset. ML-100K matches the RecBole peer (2 layers, 2 heads, 64 hidden, 256 inner,
# dropout 0.2, 50 items); the Amazon sets follow the SASRec paper (50 items, dropout 0.5).
PRESETS: dict[str, dict[str, Any]] = {
    "ml-100k": {"max_len": 50, "d_model": 64, "d_ff": 256, "n_layers": 2, "n_heads": 2, "dropout": 0.2},
    "games": {"max_len": 50, "d_model": 64, "n_layers": 2, "n_heads": 1, "dropout": 0.5},
    "beauty": {"max_len": 50, "d_model": 64, "n_layers": 2, "n_heads": 2, "dropout": 0.5},
}


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """What the benchmark runs.

    Attributes:
        datasets: Dataset names (``ml-100k``, ``games``, ``beauty``).
        models: Registered recommender kinds.
        seeds: One training run per seed.
        epochs: Upper bound on epochs (early stopping on valid NDCG@10 with ``patience``).
        patience: Early-stopping patience in epochs.
        batch_size: Training batch size.
        lr: Learning rate.
        device: auto, cpu or cuda.
        threads: torch CPU threads.
        window_stride: Training-window stride of next-item models (``TrainConfig.window_stride``).
        sampler: Training sampler of next-item models (``TrainConfig.sampler``).
        loss_norm: Loss normalisation of next-item models (``TrainConfig.loss_norm``).
        latency_users: Single-user recommend() calls timed.
        batch_users: Users per batched recommend call when measuring throughput.
        recbole_python: Interpreter of the RecBole venv; None disables the peer.
        recbole_epochs: Epoch cap of the RecBole peer.
        recbole_npz: Finished peer runs (``recbole_peer.py`` outputs, e.g. other seeds) to compare with,
            instead of training RecBole in this run; each is recorded in the JSON.
        out: Also write the JSON object here.
    """

    datasets: tuple[str, ...] = ("ml-100k",)
    models: tuple[str, ...] = ("pop", "itemknn", "sasrec-ce")
    seeds: tuple[int, ...] = (42,)
    epochs: int = 200
    patience: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    device: str = "auto"
    threads: int = 2
    window_stride: int | None = None
    sampler: str = "windows"
    loss_norm: str = "batch"
    latency_users: int = 300
    batch_users: int = 256
    recbole_python: str | None = "/work/recbole-venv/bin/python"
    recbole_epochs: int = 30
    recbole_npz: tuple[str, ...] = ()
    out: str | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(PRESETS))

    def __post_init__(self) -> None:
        unknown = set(self.models) - set(RECOMMENDERS)
        assert not unknown, f"unknown models {sorted(unknown)}"


def model_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``["post_norm=true", "dropout=0.3"]`` -> ``{"post_norm": True, "dropout": 0.3}`` (values read as JSON)."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def git_sha() -> str:
    """Current commit, or 'unknown'."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


def time_tool(tool: RecommendTool, split: Split, cfg: BenchConfig) -> dict[str, float]:
    """recommend() latency for one user (p50/p95 ms) and batched throughput (users/s)."""
    histories = [[tool.rec.item_ids[i - 1] for i in h] for h in split.inputs("test")]
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(histories), cfg.latency_users)
    for i in picks[:20]:
        tool.recommend(histories[i], k=10)  # warm-up
    times, cpu_times = [], []
    for i in picks:
        t0, c0 = time.perf_counter(), time.process_time()
        tool.recommend(histories[i], k=10)
        times.append((time.perf_counter() - t0) * 1000)
        cpu_times.append((time.process_time() - c0) * 1000)
    requests = [Request(history=histories[i % len(histories)], k=10) for i in range(cfg.batch_users)]
    tool.recommend_batch(requests)
    t0 = time.perf_counter()
    rounds = 3
    for _ in range(rounds):
        tool.recommend_batch(requests)
    users_per_s = rounds * len(requests) / (time.perf_counter() - t0)
    return {
        "recommend_p50_ms": float(np.percentile(times, 50)),
        "recommend_p95_ms": float(np.percentile(times, 95)),
        # CPU time of this process: what the call costs when the cores are shared with other jobs
        "recommend_cpu_p50_ms": float(np.percentile(cpu_times, 50)),
        "recommend_cpu_p95_ms": float(np.percentile(cpu_times, 95)),
        "load_average_1min": os.getloadavg()[0],
        "batched_users_per_s": float(users_per_s),
    }


def run_one(data: SequenceData, split: Split, model: str, seed: int, cfg: BenchConfig) -> dict[str, Any]:
    """Train, evaluate and time one model."""
    neural = RECOMMENDERS[model].neural
    overrides = cfg.overrides.get(data.name, {}) if neural else {}
    rec = create(model, data.item_ids, overrides, seed=seed)
    train = TrainConfig(
        epochs=cfg.epochs,
        patience=cfg.patience,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=seed,
        device=cfg.device,
        progress=False,
        window_stride=cfg.window_stride,
        sampler=cfg.sampler,
        loss_norm=cfg.loss_norm,
    )
    t0 = time.perf_counter()
    fit = rec.fit(split, train)
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranks = target_ranks_by_protocol(rec.score, split, "test", PROTOCOLS, seed=seed)
    test = {p: compute_metrics(r) for p, r in ranks.items()}
    eval_seconds = time.perf_counter() - t0
    if neural:
        rec.to("cpu")  # latency is measured on CPU, where the agent runs
    catalog = None
    if data.catalog_index is not None:
        from recsys.datasets import load_catalog

        catalog = load_catalog(data.name)
    timing = time_tool(RecommendTool(rec, catalog), split, cfg)
    return {
        "dataset": data.name,
        "model": model,
        "seed": seed,
        "config": rec.config(),
        "epochs_trained": fit.epochs_trained,
        "best_epoch": fit.best_epoch,
        "seconds_per_epoch": fit.seconds_per_epoch,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "test": test,
        **timing,
        "history": fit.history,
        "ranks": ranks,  # per-user, for paired comparisons; not written out
    }


def start_recbole(cfg: BenchConfig, out: Path) -> subprocess.Popen[bytes] | None:
    """Launch the RecBole peer in its own venv (returns None when disabled or not installed)."""
    if cfg.recbole_python is None or cfg.recbole_npz:
        return None
    if not Path(cfg.recbole_python).is_file():
        logger.warning("RecBole venv not found at %s: run benchmarks/setup_recbole_env.sh", cfg.recbole_python)
        return None
    log = open(out.with_suffix(".log"), "wb")  # noqa: SIM115 - closed with the process
    cmd = [cfg.recbole_python, str(ROOT / "benchmarks" / "recbole_peer.py"), "--epochs", str(cfg.recbole_epochs)]
    cmd += ["--out", str(out)]
    logger.info("starting RecBole peer: %s (log %s)", " ".join(cmd), log.name)
    env = {**os.environ, "OMP_NUM_THREADS": str(cfg.threads)}  # never oversubscribe the cores we share
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd="/tmp", env=env)


def recbole_scores(npz: Path, data: SequenceData, split: Split) -> tuple[dict[str, Any], Any]:
    """RecBole's meta and a score function that replays its test scores in our column order."""
    z = np.load(npz)
    meta = json.loads(str(z["meta"]))
    col = np.array([data.item_index.get(t, -1) for t in z["item_tokens"]])  # RecBole column -> our model id
    row_of_user = {u: r for r, u in enumerate(z["user_tokens"])}
    users = [data.user_ids[u] for u in split.eval_users]
    ours = torch.full((len(users), data.n_items + 1), float("-inf"))
    keep = col > 0
    src = torch.from_numpy(z["scores"][:, keep])
    for i, u in enumerate(users):
        ours[i, torch.from_numpy(col[keep])] = src[row_of_user[u]]
    target_agree = float(
        np.mean([data.item_index[z["target_tokens"][row_of_user[u]]] == t for u, t in zip(users, split.test_targets)])
    )
    meta["test_target_agreement"] = target_agree
    offset = [0]

    def score(histories: Sequence[np.ndarray]) -> torch.Tensor:
        out = ours[offset[0] : offset[0] + len(histories)]
        offset[0] += len(histories)
        return out

    return meta, score


def wait_for_file(path: Path, poll_s: float = 30.0) -> None:
    """Wait until ``path`` exists and has stopped growing (a peer still training in another process)."""
    if not path.is_file():
        logger.info("waiting for %s (a RecBole run still training?)", path)
    size = -1
    while not path.is_file() or path.stat().st_size != size:
        size = path.stat().st_size if path.is_file() else -1
        time.sleep(poll_s if size < 0 else 5.0)


def peer_result(npz: Path, data: SequenceData, split: Split, trained_now: bool) -> dict[str, Any]:
    """One RecBole run scored by our evaluator (full ranking, masked and unmasked), with its facts."""
    meta, score = recbole_scores(npz, data, split)
    ranks = target_ranks_by_protocol(score, split, "test", ("full", "full_unmasked"))
    return {
        "npz": str(npz),
        "trained_in_this_run": trained_now,
        "recbole_own_test": meta["recbole_test"],
        "our_evaluator": {p: compute_metrics(r) for p, r in ranks.items()},
        "seconds_per_epoch": float(np.mean(meta["epoch_seconds"])),
        "epochs_run": meta["epochs_run"],
        "max_epochs": meta["max_epochs"],
        "seed": meta["seed"],
        "train_rows_per_epoch": meta["train_rows_per_epoch"],
        "test_target_agreement": meta["test_target_agreement"],
        "ranks": ranks,
    }


def compare_with_peers(rows: list[dict[str, Any]], peers: list[dict[str, Any]]) -> None:
    """Add ``vs_recbole`` to our ML-100K SASRec rows: NDCG@10 ratios against the peers' mean, paired by user.

    With several peer seeds each user's peer gain is the mean over seeds, so the ratio compares our
    run with RecBole's expected result rather than with one lucky or unlucky seed.
    """
    if not peers:
        return
    peer_seconds = float(np.mean([q["seconds_per_epoch"] for q in peers]))
    protocols = (("full", "full"), ("full_unmasked", "unmasked"))
    peer_gains = {p: np.mean([ndcg_gains(q["ranks"][p], 10) for q in peers], axis=0) for p, _ in protocols}
    for r in rows:
        if r["dataset"] != "ml-100k" or not RECOMMENDERS[r["model"]].neural:
            continue
        v = {"seconds_per_epoch_ratio": r["seconds_per_epoch"] / peer_seconds, "peer_seeds": [q["seed"] for q in peers]}
        for protocol, name in protocols:
            ratio, low, high = paired_ratio_ci(
                ndcg_gains(r["ranks"][protocol], 10), peer_gains[protocol], seed=r["seed"]
            )
            v[f"ndcg@10_ratio_{name}"], v[f"ndcg@10_ratio_{name}_ci95"] = ratio, [low, high]
        r["vs_recbole"] = v


def print_peers(rows: list[dict[str, Any]], peers: list[dict[str, Any]]) -> None:
    """The peers' figures and our ratios against them."""
    for q in peers:
        if "error" in q:
            print(f"RecBole peer failed: {q['error']} (log {q['log']})")
            continue
        e = q["our_evaluator"]
        print(
            f"RecBole SASRec (seed {q['seed']}, {q['epochs_run']} epochs, {q['seconds_per_epoch']:.1f} s/epoch, "
            f"{'trained in this run' if q['trained_in_this_run'] else q['npz']}): NDCG@10 full "
            f"{e['full']['ndcg@10']:.4f}, unmasked {e['full_unmasked']['ndcg@10']:.4f}; "
            f"its own evaluator: {q['recbole_own_test']}"
        )
    ours = [r for r in rows if "vs_recbole" in r]
    for r in ours:
        v = r["vs_recbole"]
        ci, ciu = v["ndcg@10_ratio_full_ci95"], v["ndcg@10_ratio_unmasked_ci95"]
        print(
            f"ours/RecBole {r['model']} seed {r['seed']}: NDCG@10 full {v['ndcg@10_ratio_full']:.3f} "
            f"[{ci[0]:.2f}, {ci[1]:.2f}], unmasked {v['ndcg@10_ratio_unmasked']:.3f} [{ciu[0]:.2f}, {ciu[1]:.2f}], "
            f"time/epoch {v['seconds_per_epoch_ratio']:.3f}"
        )
    for model in sorted({r["model"] for r in ours}):
        full = [r["vs_recbole"]["ndcg@10_ratio_full"] for r in ours if r["model"] == model]
        unmasked = [r["vs_recbole"]["ndcg@10_ratio_unmasked"] for r in ours if r["model"] == model]
        print(
            f"ours/RecBole {model}, mean over {len(full)} seed(s): NDCG@10 full {np.mean(full):.3f}, "
            f"unmasked {np.mean(unmasked):.3f}"
        )


def table(rows: list[dict[str, Any]]) -> str:
    """Plain-text results table."""
    head = (
        f"{'dataset':<8} {'model':<10} {'seed':>4} {'ep':>4} {'s/ep':>6} "
        f"{'HR@10':>7} {'NDCG@10':>7} {'NDCG@10u':>8} {'sHR@10':>7} {'sNDCG@10':>8} {'pNDCG@10':>8} "
        f"{'p50ms':>6} {'p95ms':>6} {'users/s':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        t = r["test"]
        lines.append(
            f"{r['dataset']:<8} {r['model']:<10} {r['seed']:>4} {r['epochs_trained']:>4} {r['seconds_per_epoch']:>6.1f} "
            f"{t['full']['hr@10']:>7.4f} {t['full']['ndcg@10']:>7.4f} {t['full_unmasked']['ndcg@10']:>8.4f} "
            f"{t['sampled_uniform']['hr@10']:>7.4f} {t['sampled_uniform']['ndcg@10']:>8.4f} "
            f"{t['sampled_popularity']['ndcg@10']:>8.4f} "
            f"{r.get('recommend_p50_ms', float('nan')):>6.2f} {r.get('recommend_p95_ms', float('nan')):>6.2f} "
            f"{r.get('batched_users_per_s', float('nan')):>8.0f}"
        )
    lines.append(
        "HR@10/NDCG@10: full ranking, history masked; NDCG@10u: full, unmasked; s*: 100 uniform negatives "
        "(SASRec protocol); p*: 100 popularity negatives (BERT4Rec protocol)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table, then one JSON object."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(BenchConfig.datasets))
    p.add_argument("--models", nargs="*", default=list(BenchConfig.models))
    p.add_argument("--seeds", nargs="+", type=int, default=list(BenchConfig.seeds))
    p.add_argument("--epochs", type=int, default=BenchConfig.epochs)
    p.add_argument("--patience", type=int, default=BenchConfig.patience)
    p.add_argument("--batch-size", type=int, default=BenchConfig.batch_size)
    p.add_argument("--lr", type=float, default=BenchConfig.lr)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=BenchConfig.threads)
    p.add_argument("--window-stride", type=int, help="training-window stride of next-item models")
    p.add_argument("--sampler", default="windows", choices=SAMPLERS, help="training sampler (TrainConfig)")
    p.add_argument("--loss-norm", default="batch", choices=LOSS_NORMS, help="loss normalisation (TrainConfig)")
    p.add_argument("--recbole-epochs", type=int, default=BenchConfig.recbole_epochs)
    p.add_argument("--recbole-python", default=BenchConfig.recbole_python)
    p.add_argument(
        "--recbole-npz",
        nargs="+",
        default=[],
        help="compare with these peer runs (recbole_peer.py outputs; waited for if not there yet) instead of training RecBole now",
    )
    p.add_argument("--no-recbole", action="store_true")
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="model settings on top of the dataset presets, e.g. post_norm=true dropout=0.3; loss.* keys set the loss, "
        "e.g. loss.exclude_seen=true (JSON values)",
    )
    p.add_argument("--out", help="also write the JSON here")
    a = p.parse_args(argv)
    cfg = BenchConfig(
        datasets=tuple(a.datasets),
        models=tuple(a.models),
        seeds=tuple(a.seeds),
        epochs=a.epochs,
        patience=a.patience,
        batch_size=a.batch_size,
        lr=a.lr,
        device=a.device,
        threads=a.threads,
        window_stride=a.window_stride,
        sampler=a.sampler,
        loss_norm=a.loss_norm,
        recbole_python=None if a.no_recbole else a.recbole_python,
        recbole_epochs=a.recbole_epochs,
        recbole_npz=tuple(a.recbole_npz),
        out=a.out,
        overrides={name: {**preset, **model_settings(a.set)} for name, preset in PRESETS.items()},
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(cfg.threads)
    started = time.time()
    sha = git_sha()  # the code that runs, even if the tree changes during a long run
    peer_npz = Path(f"/tmp/recbole_peer_{os.getpid()}.npz")
    peer = start_recbole(cfg, peer_npz) if "ml-100k" in cfg.datasets else None

    rows, datasets = [], {}
    for name in cfg.datasets:
        data = load_sequences(name)
        split = leave_one_out(data)
        datasets[name] = data.stats()
        for model in cfg.models:
            for seed in cfg.seeds if RECOMMENDERS[model].neural else cfg.seeds[:1]:
                logger.info("%s / %s / seed %d", name, model, seed)
                rows.append(run_one(data, split, model, seed, cfg))
                logger.info("%s", table(rows[-1:]))

    peers: list[dict[str, Any]] = []
    if "ml-100k" in cfg.datasets:
        npzs = [Path(x) for x in cfg.recbole_npz]
        if peer is not None:
            logger.info("waiting for the RecBole peer")
            rc = peer.wait()
            if rc != 0 or not peer_npz.is_file():
                logger.error("RecBole peer failed (exit %s); see %s", rc, peer_npz.with_suffix(".log"))
                peers.append({"error": f"exit {rc}", "log": str(peer_npz.with_suffix(".log"))})
            else:
                npzs.append(peer_npz)
        for npz in npzs:
            wait_for_file(npz)
        if npzs:
            data = load_sequences("ml-100k")
            split = leave_one_out(data)
            peers += [peer_result(npz, data, split, trained_now=npz == peer_npz) for npz in npzs]
            compare_with_peers(rows, [q for q in peers if "error" not in q])

    print(table(rows))
    print_peers(rows, peers)
    result = {
        "benchmark": "seqrec",
        "config": {k: v for k, v in asdict(cfg).items()},
        "git_sha": sha,
        "machine": machine(),
        "datasets": datasets,
        "wall_seconds": time.time() - started,
        "results": [{k: v for k, v in r.items() if k not in ("history", "ranks")} for r in rows],
        "recbole_peers": [{k: v for k, v in q.items() if k != "ranks"} for q in peers],
    }
    if cfg.out:
        Path(cfg.out).write_text(json.dumps({**result, "histories": [r["history"] for r in rows]}, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
