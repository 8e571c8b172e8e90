"""Ranking metrics as pure functions over the 0-based rank of each user's single target.

``rank`` = number of candidates ranked above the target (ties already counted against it by
``evaluate``). A target at rank 0 is the top recommendation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np


def hit_rate_at_k(ranks: np.ndarray, k: int) -> float:
    """HR@K (= Recall@K with one target): share of users whose target is in the top K."""
    return float(np.mean(ranks < k)) if len(ranks) else 0.0


def ndcg_gains(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user NDCG@K with one target: 1 / log2(rank + 2) when the target is in the top K, else 0."""
    return np.where(ranks < k, 1.0 / np.log2(ranks.astype(np.float64) + 2.0), 0.0)


def ndcg_at_k(ranks: np.ndarray, k: int) -> float:
    """NDCG@K with one target: the mean of ``ndcg_gains``."""
    return float(ndcg_gains(ranks, k).mean()) if len(ranks) else 0.0


def paired_ratio_ci(
    a: np.ndarray, b: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """mean(a) / mean(b) and its paired-bootstrap confidence interval.

    ``a`` and ``b`` are per-user values of two models on the same users (same order); resampling
    users jointly keeps the pairing, so the interval reflects the models' difference rather than
    how hard the sampled users happen to be.

    Returns:
        (ratio, low, high).
    """
    assert a.shape == b.shape and a.ndim == 1 and len(a), "need two equal-length 1-D arrays"
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(n_boot, len(a)))  # (n_boot, U)
    ratios = a[idx].mean(1) / np.maximum(b[idx].mean(1), 1e-12)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(ratios, [tail, 100.0 - tail])
    return float(a.mean() / b.mean()), float(low), float(high)


def mrr(ranks: np.ndarray, k: int | None = None) -> float:
    """Mean reciprocal rank, over the whole ranking (``k=None``) or cut at K (MRR@K, 0 beyond K)."""
    if not len(ranks):
        return 0.0
    rr = 1.0 / (ranks.astype(np.float64) + 1.0)
    if k is not None:
        rr = np.where(ranks < k, rr, 0.0)
    return float(rr.mean())


@dataclass(frozen=True)
class Metric:
    """A registered metric.

    Attributes:
        fn: ``fn(ranks, k)``.
        higher_is_better: Direction for early stopping and reports.
        needs_k: Whether the metric is reported per cut-off.
    """

    fn: Callable[[np.ndarray, int], float]
    higher_is_better: bool = True
    needs_k: bool = True


METRICS: dict[str, Metric] = {
    "hr": Metric(hit_rate_at_k),
    "ndcg": Metric(ndcg_at_k),
    "mrr": Metric(lambda ranks, k: mrr(ranks), needs_k=False),
}


def compute_metrics(ranks: np.ndarray, ks: Iterable[int] = (10,)) -> dict[str, float]:
    """Every registered metric from one rank array, e.g. ``{"hr@10": ..., "ndcg@10": ..., "mrr": ...}``."""
    ranks = np.asarray(ranks)
    out: dict[str, float] = {}
    for name, metric in METRICS.items():
        if metric.needs_k:
            for k in ks:
                out[f"{name}@{k}"] = metric.fn(ranks, k)
        else:
            out[name] = metric.fn(ranks, 0)
    return out
