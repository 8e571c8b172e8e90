"""The agent-facing tool: ``recommend(history, k, filters, exclude, boosts)`` in external item ids, batched.

Order of operations, per user:

1. Score the history with the sequential model -> log-probabilities over the catalog
   (``log_softmax`` of the scores, so every model's scores share one scale).
2. Add boosts: a boost ``b`` on an item (or on a knowledge-graph entity, for every item linked
   to it) multiplies that item's probability by ``exp(b)``; negative boosts demote.
3. Hard filters (``ItemFilter`` through ``Catalog.mask``), ``exclude`` and, by default, the
   history itself are set to -inf *before* top-k, so a filtered item can never come back and
   the result is never short because of over-fetching.
4. Top-k.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from recsys.catalog import Catalog
from recsys.filters import ItemFilter
from recsys.seqrec.data import PAD
from recsys.seqrec.recommender import Recommender, top_k


@dataclass(frozen=True)
class ScoredItem:
    """One recommendation.

    Attributes:
        item_id: External item id.
        score: Log-probability under the model plus boosts (higher is better).
        title: Catalog title, when a catalog is attached.
    """

    item_id: str
    score: float
    title: str | None = None


@dataclass(frozen=True)
class Request:
    """One user's recommendation request.

    Attributes:
        history: External item ids, oldest first (unknown ids are ignored).
        k: Items wanted.
        filters: Hard constraints; filtered items are never returned.
        exclude: Item ids never returned.
        boosts: Item id or knowledge-graph entity -> additive log-probability boost.
        exclude_history: Never return items already in the history.
    """

    history: Sequence[str]
    k: int = 10
    filters: ItemFilter | None = None
    exclude: Iterable[str] = ()
    boosts: Mapping[str, float] = field(default_factory=dict)
    exclude_history: bool = True

    def __post_init__(self) -> None:
        assert self.k >= 1, f"k must be >= 1, got {self.k}"


class RecommendTool:
    """Wraps a trained recommender (and optionally its catalog) for the agent."""

    def __init__(self, recommender: Recommender, catalog: Catalog | None = None) -> None:
        """Bind a recommender to the catalog its item ids come from.

        Args:
            recommender: Any registered recommender.
            catalog: Needed for attribute filters, entity boosts and titles; item ids of the
                recommender must be catalog ids.
        """
        self.rec = recommender
        self.catalog = catalog
        self.item_index = {item: i + 1 for i, item in enumerate(recommender.item_ids)}
        n = recommender.n_items + 1
        self.columns = np.full(0, 0, np.int64)
        if catalog is not None:
            # catalog index of model id j at position j (-1 for the padding column or ids missing from the catalog)
            self.columns = np.array([-1] + [catalog.index.get(i, -1) for i in recommender.item_ids], np.int64)
            assert len(self.columns) == n
            self._entity_cols: dict[str, np.ndarray] = {}
            model_of_catalog = np.zeros(len(catalog.items), np.int64)
            known = self.columns >= 0
            model_of_catalog[self.columns[known]] = np.flatnonzero(known)
            self._model_of_catalog = model_of_catalog

    # ---- masks and boosts -------------------------------------------------------------------
    def allowed(self, filters: ItemFilter | None) -> np.ndarray:
        """Bool mask over model ids (length n_items + 1) of items passing the hard filters."""
        n = self.rec.n_items + 1
        allowed = np.ones(n, bool)
        allowed[PAD] = False
        if filters is None or filters.is_empty():
            return allowed
        if self.catalog is None:
            needs_catalog = filters.model_copy(update={"include_ids": None, "exclude_ids": frozenset()})
            if not needs_catalog.is_empty():
                raise ValueError("attribute filters need a catalog; this tool has none (only include/exclude ids work)")
            if filters.include_ids is not None:
                keep = np.zeros(n, bool)
                keep[[self.item_index[i] for i in filters.include_ids if i in self.item_index]] = True
                allowed &= keep
            allowed[[self.item_index[i] for i in filters.exclude_ids if i in self.item_index]] = False
            return allowed
        cat_mask = self.catalog.mask(filters)
        known = self.columns >= 0
        allowed[known] &= cat_mask[self.columns[known]]
        allowed[~known] = False
        return allowed

    def boost_vector(self, boosts: Mapping[str, float]) -> torch.Tensor | None:
        """(n_items + 1,) additive boosts; item ids win over entity ids of the same name."""
        if not boosts:
            return None
        vec = torch.zeros(self.rec.n_items + 1)
        for key, value in boosts.items():
            if key in self.item_index:
                vec[self.item_index[key]] += float(value)
            elif self.catalog is not None and key in self.catalog.entity_items:
                cols = self._model_of_catalog[self.catalog.entity_items[key]]
                vec[torch.from_numpy(cols[cols > 0])] += float(value)
        return vec

    # ---- recommend --------------------------------------------------------------------------
    def recommend_batch(self, requests: Sequence[Request]) -> list[list[ScoredItem]]:
        """Recommendations for many users with one forward pass."""
        if not requests:
            return []
        histories = [
            np.array([self.item_index[i] for i in r.history if i in self.item_index], np.int64) for r in requests
        ]
        with torch.inference_mode():
            scores = torch.log_softmax(self.rec.score(histories).float().cpu(), dim=1)  # (B, N + 1)
            blocked = torch.zeros_like(scores, dtype=torch.bool)
            for row, (req, hist) in enumerate(zip(requests, histories)):
                boost = self.boost_vector(req.boosts)
                if boost is not None:
                    scores[row] += boost
                blocked[row] = torch.from_numpy(~self.allowed(req.filters))
                ex = [self.item_index[i] for i in req.exclude if i in self.item_index]
                if ex:
                    blocked[row, torch.tensor(ex)] = True
                if req.exclude_history and len(hist):
                    blocked[row, torch.from_numpy(hist)] = True
            k = max(r.k for r in requests)
            tops = top_k(scores, k, blocked)
        out = []
        for req, top in zip(requests, tops):
            out.append([self._item(i, s) for i, s in top[: req.k]])
        return out

    def recommend(
        self,
        history: Sequence[str],
        k: int = 10,
        filters: ItemFilter | None = None,
        exclude: Iterable[str] = (),
        boosts: Mapping[str, float] | None = None,
    ) -> list[ScoredItem]:
        """Top-k items for one user (see the module docstring for the order of operations)."""
        req = Request(history=history, k=k, filters=filters, exclude=exclude, boosts=boosts or {})
        return self.recommend_batch([req])[0]

    def _item(self, model_id: int, score: float) -> ScoredItem:
        item_id = self.rec.item_ids[model_id - 1]
        title = self.catalog.titles.get(item_id) if self.catalog is not None else None
        return ScoredItem(item_id, float(score), title)
