"""Text retrieval over the catalog: item texts embedded with the sentence encoder in a faiss index.

The index is cached on disk under a key derived from the encoder and every item
text, so it is rebuilt exactly when the catalog (or encoder) changes. Filters are
applied inside the faiss search with an ID selector, not by over-fetching.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from recsys.catalog import Catalog
from recsys.encoder import TextEncoder
from recsys.filters import ItemFilter
from recsys.schema import Item
from recsys.settings import Settings

if TYPE_CHECKING:
    import faiss

log = logging.getLogger(__name__)

# Bump when item_text changes, so cached indexes are rebuilt.
TEXT_VERSION = 1
# Relations whose neighbouring items say something about an item's content.
_TEXT_RELATIONS = {
    "director": "Same director as",
    "sequel": "Sequel",
    "prequel": "Prequel",
    "subject": "Same subject as",
}
# Catalog genre spellings that a sentence encoder reads poorly, spelled out.
_GENRE_WORDS = {"sci-fi": "science fiction", "film-noir": "film noir", "children's": "children's family"}


class SearchHit(BaseModel):
    """One retrieval result."""

    item_id: str
    title: str
    year: int | None
    genres: tuple[str, ...]
    score: float


@dataclass(frozen=True, kw_only=True)
class RetrievalConfig:
    """How item texts are written.

    Attributes:
        neighbours_per_relation: How many related titles (same director, sequel...) go into an item's text.
    """

    neighbours_per_relation: int = 3

    def __post_init__(self) -> None:
        if self.neighbours_per_relation < 0:
            raise ValueError("neighbours_per_relation must be >= 0")


def item_text(catalog: Catalog, item: Item, config: RetrievalConfig = RetrievalConfig()) -> str:
    """The text embedded for an item: title, year, genres, description and named KG neighbours."""
    parts = [f"{item.title} ({item.year})" if item.year else item.title]
    if item.genres:
        parts.append("Genres: " + ", ".join(_GENRE_WORDS.get(g.casefold(), g) for g in item.genres))
    if item.description:
        parts.append(item.description)
    kg = catalog.kg
    if kg is not None and config.neighbours_per_relation:
        for relation, label in _TEXT_RELATIONS.items():
            related: list[str] = []
            for _, entity in kg.entities_of(item.id, relation):
                own = kg.item_id(entity)
                others = [own] if own else kg.items_of(entity, relation)
                related += [catalog.titles[i] for i in others if i != item.id and i in catalog.titles]
            if related:
                parts.append(f"{label}: " + ", ".join(dict.fromkeys(related[: config.neighbours_per_relation])))
    return ". ".join(parts)


# Texts per progress step; a step of more than 64 texts stays out of the encoder's query cache (its LRU limit).
_PROGRESS_STEP = 256


def _encode_with_progress(encoder: TextEncoder, texts: list[str], what: str) -> np.ndarray:
    """Encode texts in steps with a progress bar on stderr (shown on a terminal only: ``disable=None``).

    Building an index is the one slow step of a first chat on a cold cache (a minute or more on a
    laptop CPU for ML-100K), so the person waiting sees it move.
    """
    from tqdm import tqdm

    parts = []
    with tqdm(total=len(texts), desc=what, unit="item", disable=None, leave=False) as bar:
        for start in range(0, len(texts), _PROGRESS_STEP):
            part = texts[start : start + _PROGRESS_STEP]
            parts.append(encoder.encode(part))
            bar.update(len(part))
    return np.concatenate(parts) if parts else encoder.encode([])


class ItemIndex:
    """A faiss inner-product index over unit item vectors (scores are cosine similarities).

    Use ``ItemIndex.build_or_load`` rather than the constructor.
    """

    def __init__(
        self, catalog: Catalog, encoder: TextEncoder, index: faiss.Index, key: str, folder: Path | None = None
    ) -> None:
        self.catalog = catalog
        self.encoder = encoder
        self.index = index
        self.key = key
        self.folder = folder  # where it is cached on disk (None: never saved)

    @classmethod
    def build_or_load(
        cls,
        catalog: Catalog,
        encoder: TextEncoder | None = None,
        settings: Settings | None = None,
        config: RetrievalConfig = RetrievalConfig(),
    ) -> ItemIndex:
        """Load the cached index for this catalog and encoder, or build and cache it."""
        import faiss

        settings = settings or Settings.from_env()
        encoder = encoder or TextEncoder(settings=settings)
        key = hashlib.sha256(f"{encoder.name}|{config}|{TEXT_VERSION}|{catalog.fingerprint}".encode()).hexdigest()
        folder = settings.index_dir / f"{catalog.name}-{key[:16]}"
        index = cls._load(folder, key, len(catalog))
        if index is None:
            log.info("building the retrieval index for %s (%d items)", catalog.name, len(catalog))
            texts = [item_text(catalog, item, config) for item in catalog.items]
            vectors = _encode_with_progress(encoder, texts, f"search index for {catalog.name} (once)")
            index = faiss.IndexFlatIP(vectors.shape[1])
            index.add(vectors)
            cls._save(folder, key, index)
        return cls(catalog, encoder, index, key, folder)

    @staticmethod
    def _load(folder: Path, key: str, n_items: int) -> faiss.Index | None:
        import faiss

        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("key") != key:
                return None
            index = faiss.read_index(str(folder / "index.faiss"))
        except (OSError, ValueError, RuntimeError) as exc:
            if folder.exists():
                log.warning("cached index in %s is unreadable (%s); rebuilding", folder, exc)
            return None
        return index if index.ntotal == n_items else None

    @staticmethod
    def _save(folder: Path, key: str, index: faiss.Index) -> None:
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "index.faiss.tmp"
        faiss.write_index(index, str(tmp))
        tmp.replace(folder / "index.faiss")
        # meta.json is written last: a crash in between leaves a stale key and a rebuild, never a wrong index.
        (folder / "meta.json").write_text(json.dumps({"key": key, "items": index.ntotal}))

    def search(
        self, query: str, k: int = 10, filters: ItemFilter | Sequence[ItemFilter] | None = None
    ) -> list[SearchHit]:
        """The ``k`` items most similar to ``query`` among those passing ``filters``.

        Args:
            query: Free text ("space adventure with robots").
            k: Number of results (fewer when fewer items pass the filters).
            filters: Hard constraints evaluated inside the faiss search.
        """
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        if not query.strip():
            raise ValueError("empty query")
        vector = self.encoder.encode(query)[None, :]
        return self.search_vectors(vector, k, filters)[0]

    def search_vectors(
        self, vectors: np.ndarray, k: int, filters: ItemFilter | Sequence[ItemFilter] | None = None
    ) -> list[list[SearchHit]]:
        """Batched search by precomputed unit query vectors of shape (B, dim)."""
        import faiss

        params = None
        if filters is not None:
            mask = self.catalog.mask(filters)
            if not mask.any():
                return [[] for _ in range(len(vectors))]
            bitmap = np.packbits(mask, bitorder="little")  # kept alive for the call: faiss holds a raw pointer
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap)))
        scores, ids = self.index.search(
            np.ascontiguousarray(vectors, np.float32), min(k, self.index.ntotal), params=params
        )
        out = []
        for row_scores, row_ids in zip(scores, ids):
            hits = []
            for score, idx in zip(row_scores, row_ids):
                if idx < 0:
                    break
                item = self.catalog.items[idx]
                hits.append(
                    SearchHit(item_id=item.id, title=item.title, year=item.year, genres=item.genres, score=float(score))
                )
            out.append(hits)
        return out
