"""Offline evaluation: the only reader of the test split.

Protocols (names appear as-is in every report):

- ``full``: the target ranked against every item; items already in the history are masked
  (the target itself never is); ties count against the target.
- ``full_unmasked``: the same without masking history items (RecBole's default for sequential models).
- ``sampled_uniform``: the target against 100 items the user never interacted with, drawn uniformly
  (SASRec paper protocol). Sampled figures overstate quality; they are for comparison with papers only.
- ``sampled_popularity``: the same with negatives drawn in proportion to popularity over the whole
  dataset (BERT4Rec paper protocol).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch

from recsys.seqrec.data import PAD, Split
from recsys.seqrec.metrics import compute_metrics
from recsys.seqrec.names import PROTOCOLS  # defined there, so the CLI lists them without torch

ScoreFn = Callable[[Sequence[np.ndarray]], torch.Tensor]
N_SAMPLED_NEGATIVES = 100


def history_mask(histories: Sequence[np.ndarray], n_items: int) -> torch.Tensor:
    """(B, n_items + 1) bool: True at each item in the row's history."""
    mask = torch.zeros(len(histories), n_items + 1, dtype=torch.bool)
    for row, hist in enumerate(histories):
        if len(hist):
            mask[row, torch.from_numpy(np.asarray(hist, np.int64))] = True
    return mask


def target_ranks(scores: torch.Tensor, targets: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """0-based rank of each target among all columns; ties count against the target.

    Args:
        scores: (B, n_items + 1); column 0 is padding at -inf.
        targets: (B,) target item ids.
        exclude: Optional (B, n_items + 1) bool of items to drop from the ranking (the target is kept).

    Returns:
        (B,) int64: items scoring above the target plus other items scoring equal to it.
    """
    scores = scores.float()
    target_score = scores.gather(1, targets[:, None])  # (B, 1)
    if exclude is not None:
        keep_target = torch.zeros_like(exclude).scatter_(1, targets[:, None], True)
        scores = scores.masked_fill(exclude & ~keep_target, float("-inf"))
    higher = (scores > target_score).sum(1)
    ties = (scores == target_score).sum(1) - 1  # minus the target itself
    return higher + ties


def sampled_ranks(scores: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target among itself and its sampled negatives; ties count against it.

    Args:
        scores: (B, n_items + 1).
        targets: (B,).
        negatives: (B, K) item ids.
    """
    scores = scores.float()
    t = scores.gather(1, targets[:, None])  # (B, 1)
    s = scores.gather(1, negatives)  # (B, K)
    return (s > t).sum(1) + (s == t).sum(1)


def sample_eval_negatives(
    full_histories: Sequence[np.ndarray],
    weights: torch.Tensor,
    generator: torch.Generator,
    n: int = N_SAMPLED_NEGATIVES,
) -> torch.Tensor:
    """(B, n) distinct negatives per user, never an item of the user's whole sequence.

    Args:
        full_histories: Every item of each user (train, valid and test).
        weights: (n_items + 1,) sampling weights (ones: uniform; counts: popularity); column 0 ignored.
        generator: Source of randomness.
        n: Negatives per user.
    """
    w = weights.float().unsqueeze(0).repeat(len(full_histories), 1)  # (B, N + 1)
    w[:, PAD] = 0.0
    w[history_mask(full_histories, w.shape[1] - 1)] = 0.0
    return torch.multinomial(w, n, replacement=False, generator=generator)


def target_ranks_by_protocol(
    score_fn: ScoreFn,
    split: Split,
    stage: str = "test",
    protocols: Iterable[str] = ("full",),
    batch_size: int = 512,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """0-based rank of each user's target under each protocol, scoring each user once for all of them.

    Args:
        score_fn: histories -> (B, n_items + 1) scores.
        split: The leave-one-out split.
        stage: "valid" or "test".
        protocols: Any of ``PROTOCOLS``.
        batch_size: Users scored at once.
        seed: Seeds the negatives of the sampled protocols.

    Returns:
        ``{protocol: (U,) ranks}`` in ``split.eval_users`` order (for per-user comparisons).
    """
    protocols = tuple(protocols)
    unknown = set(protocols) - set(PROTOCOLS)
    assert not unknown, f"unknown protocols {sorted(unknown)}; choose from {PROTOCOLS}"
    histories = split.inputs(stage)
    targets = torch.from_numpy(split.targets(stage))
    full_histories = split.full_histories()
    n_items = split.n_items
    generator = torch.Generator().manual_seed(seed)
    weights = {
        "sampled_uniform": torch.ones(n_items + 1),
        "sampled_popularity": torch.from_numpy(
            np.bincount(np.concatenate(split.data.sequences), minlength=n_items + 1)
        ).float(),
    }
    ranks: dict[str, list[torch.Tensor]] = {p: [] for p in protocols}
    for start in range(0, len(histories), batch_size):
        hist = histories[start : start + batch_size]
        tgt = targets[start : start + batch_size]
        scores = score_fn(hist).float().cpu()  # (B, N + 1)
        assert scores.shape == (len(hist), n_items + 1), f"score_fn returned {tuple(scores.shape)}"
        for p in protocols:
            if p == "full":
                ranks[p].append(target_ranks(scores, tgt, history_mask(hist, n_items)))
            elif p == "full_unmasked":
                ranks[p].append(target_ranks(scores, tgt))
            else:
                neg = sample_eval_negatives(full_histories[start : start + batch_size], weights[p], generator)
                ranks[p].append(sampled_ranks(scores, tgt, neg))
    return {p: torch.cat(r).numpy() for p, r in ranks.items()}


def evaluate(
    score_fn: ScoreFn,
    split: Split,
    stage: str = "test",
    protocols: Iterable[str] = ("full",),
    ks: Iterable[int] = (10,),
    batch_size: int = 512,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Metrics of a model on the validation or test targets (``target_ranks_by_protocol``, then HR/NDCG/MRR).

    Returns:
        ``{protocol: {"hr@10": ..., "ndcg@10": ..., "mrr": ...}}``.
    """
    ranks = target_ranks_by_protocol(score_fn, split, stage, protocols, batch_size, seed)
    return {p: compute_metrics(r, tuple(ks)) for p, r in ranks.items()}
