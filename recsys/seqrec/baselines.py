"""Non-neural baselines: most-popular and item-kNN (cosine over co-occurrence in training sequences).

Both follow the same ``score(histories) -> (B, n_items + 1)`` shape as the neural models, with
column 0 (padding) at -inf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from recsys.seqrec.data import PAD


def popularity_scores(counts: torch.Tensor, batch: int) -> torch.Tensor:
    """(batch, n_items + 1) float scores equal to training counts; padding at -inf."""
    scores = counts.float().unsqueeze(0).repeat(batch, 1)
    scores[:, PAD] = float("-inf")
    return scores


@dataclass(frozen=True, kw_only=True)
class ItemKNNConfig:
    """Item-kNN settings.

    Attributes:
        n_items: Catalog size.
        neighbors: Neighbours kept per item (the rest of the similarity row is dropped).
        shrink: Added to the cosine denominator, damping similarities from few co-occurrences.
        chunk: Items per block when computing the similarity (bounds memory).
    """

    n_items: int
    neighbors: int = 100
    shrink: float = 10.0
    chunk: int = 1024

    def __post_init__(self) -> None:
        assert self.neighbors > 0, f"neighbors must be positive, got {self.neighbors}"
        assert self.shrink >= 0, f"shrink must be non-negative, got {self.shrink}"


def item_knn_neighbors(sequences: Sequence[np.ndarray], cfg: ItemKNNConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Top neighbours per item by cosine similarity of their user sets.

    sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + shrink), self-similarity excluded.

    Returns:
        (indices, values): two (n_items + 1, neighbors) tensors; row 0 (padding) is all zeros.
    """
    n = cfg.n_items + 1
    k = min(cfg.neighbors, cfg.n_items - 1) if cfg.n_items > 1 else 1
    rows, cols = [], []
    for u, seq in enumerate(sequences):
        items = np.unique(seq)
        rows.append(np.full(len(items), u))
        cols.append(items)
    r = torch.from_numpy(np.concatenate(rows)) if rows else torch.zeros(0, dtype=torch.int64)
    c = torch.from_numpy(np.concatenate(cols)) if cols else torch.zeros(0, dtype=torch.int64)
    n_users = len(sequences)
    x = torch.sparse_coo_tensor(
        torch.stack([r, c]), torch.ones(len(r)), (n_users, n), check_invariants=True
    ).coalesce()  # (U, N+1)
    xt = x.t().coalesce()  # (N+1, U)
    norms = torch.zeros(n).index_add_(0, c, torch.ones(len(c))).sqrt()  # (N+1,) sqrt(|U_i|)
    indices = torch.zeros(n, k, dtype=torch.int64)
    values = torch.zeros(n, k)
    for start in range(0, n, cfg.chunk):
        block = torch.arange(start, min(start + cfg.chunk, n))
        cols_dense = x.index_select(1, block).to_dense()  # (U, C)
        co = torch.sparse.mm(xt, cols_dense)  # (N+1, C) co-occurrence counts
        sim = co / (norms[:, None] * norms[None, block] + cfg.shrink + 1e-12)
        sim[block, torch.arange(len(block))] = 0.0  # no self-similarity
        sim[PAD] = 0.0
        top = sim.topk(k, dim=0)  # (k, C)
        indices[block] = top.indices.T
        values[block] = top.values.T
    values[PAD] = 0.0
    return indices, values


def item_knn_scores(indices: torch.Tensor, values: torch.Tensor, histories: Sequence[np.ndarray]) -> torch.Tensor:
    """(B, n_items + 1): each item's summed similarity to the items of the history; padding at -inf."""
    n = indices.shape[0]
    scores = torch.zeros(len(histories), n)
    for row, hist in enumerate(histories):
        if len(hist):
            h = torch.from_numpy(np.unique(hist))
            scores[row].index_add_(0, indices[h].reshape(-1), values[h].reshape(-1))
    scores[:, PAD] = float("-inf")
    return scores
