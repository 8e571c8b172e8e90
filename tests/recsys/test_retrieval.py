"""Retrieval: real MiniLM vectors in faiss, filters inside the search, on-disk cache and rebuilds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recsys.catalog import Catalog
from recsys.encoder import TextEncoder
from recsys.filters import ItemFilter
from recsys.loaders.generic import load_generic
from recsys.retrieval import ItemIndex, item_text
from recsys.settings import Settings


@pytest.fixture(scope="module")
def index(catalog: Catalog, encoder: TextEncoder, settings: Settings) -> ItemIndex:
    return ItemIndex.build_or_load(catalog, encoder, settings)


def test_search_returns_k_ranked_hits(index: ItemIndex) -> None:
    hits = index.search("animated film for kids", k=5)
    assert len(hits) == 5
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert sum("Animation" in h.genres or "Children's" in h.genres for h in hits) >= 3


def test_faiss_topk_equals_brute_force(index: ItemIndex, catalog: Catalog, encoder: TextEncoder) -> None:
    filters = ItemFilter(genres_none=frozenset({"Drama"}), year_min=1980)
    query = encoder.encode("a scary haunted house")
    hits = index.search_vectors(query[None, :], 10, filters)[0]
    vectors = index.index.reconstruct_n(0, index.index.ntotal)
    scores = vectors @ query
    scores[~catalog.mask(filters)] = -np.inf
    expected = [catalog.items[i].id for i in np.argsort(-scores, kind="stable")[:10]]
    assert [h.item_id for h in hits] == expected


def test_filters_apply_inside_the_search(index: ItemIndex, catalog: Catalog) -> None:
    # Only 4 items pass: over-fetching and dropping would return fewer than k for most queries.
    include = frozenset(catalog.matching_ids(ItemFilter(genres_all=frozenset({"Horror", "Comedy"}), year_min=1990)))
    hits = index.search("romantic drama in paris", k=len(include), filters=ItemFilter(include_ids=include))
    assert {h.item_id for h in hits} == include
    hits = index.search("space adventure with robots", k=50, filters=ItemFilter(genres_none=frozenset({"sci-fi"})))
    assert len(hits) == 50 and all("Sci-Fi" not in h.genres for h in hits)
    hits = index.search(
        "a war film", k=20, filters=ItemFilter(year_min=1950, year_max=1960, exclude_ids=frozenset({"1"}))
    )
    assert all(1950 <= (h.year or 0) <= 1960 for h in hits)
    assert index.search("anything", k=5, filters=ItemFilter(include_ids=frozenset())) == []


def test_bad_queries(index: ItemIndex) -> None:
    with pytest.raises(ValueError, match="empty query"):
        index.search("   ", k=5)
    with pytest.raises(ValueError, match="k must be positive"):
        index.search("film", k=0)
    assert len(index.search("x" * 100_000, k=3)) == 3  # the encoder truncates long input


def test_item_text_names_kg_neighbours(catalog: Catalog) -> None:
    texts = [item_text(catalog, item) for item in catalog.items]
    assert any("Sequel: " in t or "Prequel: " in t for t in texts)
    assert any("Same director as: " in t for t in texts)
    assert "science fiction" in item_text(catalog, catalog.get("50"))


def test_index_is_cached_and_rebuilt_when_the_catalog_changes(tmp_path: Path, encoder: TextEncoder) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    items = [{"id": str(i), "title": t} for i, t in enumerate(["red shoes", "blue hat", "green scarf"])]
    (folder / "items.jsonl").write_text("\n".join(json.dumps(i) for i in items))
    settings = Settings(cache_dir=tmp_path / "cache")
    first = ItemIndex.build_or_load(load_generic(folder), encoder, settings)
    assert first.search("footwear", k=1)[0].title == "red shoes"

    class NoEncode(TextEncoder):
        def encode(self, texts, show_progress=False):  # type: ignore[override]
            raise AssertionError("a cached index must not be re-encoded")

    cached = ItemIndex.build_or_load(load_generic(folder), NoEncode(settings=settings), settings)
    assert cached.key == first.key
    (folder / "items.jsonl").write_text("\n".join(json.dumps(i) for i in items + [{"id": "9", "title": "wool socks"}]))
    rebuilt = ItemIndex.build_or_load(load_generic(folder), encoder, settings)
    assert rebuilt.key != first.key and rebuilt.index.ntotal == 4
    # a corrupt index file is rebuilt, not trusted
    index_file = next((settings.index_dir).glob(f"shop-{rebuilt.key[:16]}/index.faiss"))
    index_file.write_bytes(b"garbage")
    again = ItemIndex.build_or_load(load_generic(folder), encoder, settings)
    assert again.index.ntotal == 4
