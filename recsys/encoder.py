"""The sentence encoder (all-MiniLM-L6-v2 by default), loaded from local files only."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recsys.assets import AssetManager, offline_mode
from recsys.settings import Settings

CACHE_ENTRIES = 4096
CACHE_TEXT_CHARS = 512

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    """Which sentence encoder to use.

    Attributes:
        model_path: A sentence-transformers folder; None means the embedded all-MiniLM-L6-v2.
        device: Torch device.
        batch_size: Encoding batch size.
    """

    model_path: Path | None = None
    device: str = "cpu"
    batch_size: int = 64


class TextEncoder:
    """Turns texts into L2-normalised float32 vectors (inner product = cosine).

    The model loads on first use, so building an encoder costs nothing.
    """

    def __init__(self, config: EncoderConfig | None = None, settings: Settings | None = None) -> None:
        self.config = config or EncoderConfig()
        self.settings = settings or Settings.from_env()
        # Conversations re-encode the same short texts (a search's request, mood words) every
        # turn; a bounded cache of short texts makes those free.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @cached_property
    def model_path(self) -> Path:
        """The verified model folder."""
        return self.config.model_path or AssetManager(self.settings).path("minilm")

    @cached_property
    def model(self) -> SentenceTransformer:
        """The loaded sentence-transformers model."""
        offline_mode()
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.model_path), device=self.config.device, local_files_only=True)

    @cached_property
    def dim(self) -> int:
        """Embedding width."""
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def name(self) -> str:
        """A stable name for cache keys."""
        return self.model_path.name if self.config.model_path else "all-MiniLM-L6-v2"

    def clear_cache(self) -> None:
        """Forget cached vectors (benchmarks time cold encodes with it)."""
        with self._cache_lock:
            self._cache.clear()

    def encode(self, texts: list[str] | str, show_progress: bool = False) -> np.ndarray:
        """Encode texts to an (N, dim) float32 array of unit vectors (a 1-D vector for one string)."""
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        cacheable = len(batch) <= 64
        found: dict[int, np.ndarray] = {}
        if cacheable:
            with self._cache_lock:
                for n, text in enumerate(batch):
                    hit = self._cache.get(text)
                    if hit is not None:
                        self._cache.move_to_end(text)
                        found[n] = hit
        missing = [n for n in range(len(batch)) if n not in found]
        if missing:
            vectors = self.model.encode(
                [batch[n] for n in missing],
                batch_size=self.config.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            ).astype(np.float32, copy=False)
            for n, vector in zip(missing, vectors):
                vector.flags.writeable = False
                found[n] = vector
            if cacheable:
                with self._cache_lock:
                    for n in missing:
                        if len(batch[n]) <= CACHE_TEXT_CHARS:
                            self._cache[batch[n]] = found[n]
                    while len(self._cache) > CACHE_ENTRIES:
                        self._cache.popitem(last=False)
        if single:
            return found[0]
        if not batch:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([found[n] for n in range(len(batch))])
