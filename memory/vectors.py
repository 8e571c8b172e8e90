"""Per-user vector search in numpy (faiss for large sets), cached in memory and refreshed when the store changes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from memory.store import SQLiteStore

FAISS_MIN_ROWS = 20_000
"""Below this many vectors a numpy matrix product is faster than building a faiss index."""


@dataclass(frozen=True)
class VectorSet:
    """One user's vectors of one kind.

    Attributes:
        ids: Reference ids, one per row.
        matrix: (N, D) float32 unit vectors.
        version: Store version the set was read at.
    """

    ids: tuple[str, ...]
    matrix: np.ndarray
    version: tuple[int, int]

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k nearest ids by inner product (cosine for unit vectors), best first."""
        if not self.ids or k <= 0:
            return []
        k = min(k, len(self.ids))
        if len(self.ids) >= FAISS_MIN_ROWS:
            import faiss

            index = faiss.IndexFlatIP(self.matrix.shape[1])
            index.add(self.matrix)
            scores, rows = index.search(query.reshape(1, -1).astype(np.float32), k)
            return [(self.ids[int(r)], float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
        scores = self.matrix @ query.astype(np.float32)  # (N,)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[int(i)], float(scores[i])) for i in top]

    def similarity(self, query: np.ndarray) -> dict[str, float]:
        """Cosine similarity of every id to the query."""
        if not self.ids:
            return {}
        return dict(zip(self.ids, (self.matrix @ query.astype(np.float32)).tolist()))


class VectorIndex:
    """Cache of per-user vector sets over a ``SQLiteStore``.

    The cache checks the store's (count, newest sequence) before each use, so
    writes from other threads or processes, deletions and ``forget`` are seen.

    Args:
        store: Where the vectors live.
    """

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self._cache: dict[tuple[str, str], VectorSet] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str, kind: str) -> VectorSet:
        """The user's current vectors of one kind."""
        version = self.store.vector_version(user_id, kind)
        with self._lock:
            cached = self._cache.get((user_id, kind))
        if cached is not None and cached.version == version:
            return cached
        ids, matrix, version = self.store.vectors(user_id, kind)
        vs = VectorSet(tuple(ids), matrix, version)
        with self._lock:
            if ids:
                self._cache[(user_id, kind)] = vs
            else:
                self._cache.pop((user_id, kind), None)
        return vs

    def drop_user(self, user_id: str) -> None:
        """Forget every cached vector of a user."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == user_id]:
                del self._cache[key]

    def cached_users(self) -> set[str]:
        """Users with vectors in the cache (for tests of ``forget``)."""
        with self._lock:
            return {u for u, _ in self._cache}
