"""The embedded ML-100K catalog: counts, attribute index, filters, knowledge graph."""

from __future__ import annotations

import numpy as np

from recsys.catalog import Catalog
from recsys.filters import ItemFilter


def test_ml100k_counts(catalog: Catalog) -> None:
    stats = catalog.stats()
    assert (stats.users, stats.items, stats.interactions) == (943, 1682, 100_000)
    assert stats.kg_triples == 91_631
    assert stats.kg_relation_types == 24
    assert stats.items_linked_to_kg == 1598
    assert stats.rating_min == 1.0 and stats.rating_max == 5.0
    assert set(stats.genres) >= {"Horror", "Sci-Fi", "Animation", "Children's", "Film-Noir"}
    assert "unknown" not in stats.genres


def test_titles_are_readable(catalog: Catalog) -> None:
    assert catalog.get("12").title == "The Usual Suspects"
    assert catalog.get("1").title == "Toy Story" and catalog.get("1").year == 1995
    # the year of this one hides in the title in RecBole's file
    assert catalog.get("1412").year == 1995 and "(1995)" not in catalog.get("1412").title
    assert catalog.get("267").year is None


def test_sequences_are_time_ordered_with_file_order_ties(catalog: Catalog) -> None:
    inter = catalog.interactions
    seqs = inter.sequences()
    assert len(seqs) == 943 and sum(len(s) for s in seqs.values()) == 100_000
    user = inter.user_ids[0]
    code = 0
    rows = np.flatnonzero(inter.users == code)
    expected = rows[np.lexsort((rows, inter.timestamps[rows]))]
    assert list(seqs[user]) == list(inter.items[expected])


def test_filters_mask(catalog: Catalog) -> None:
    horror = catalog.genre_masks["horror"]
    mask = catalog.mask(ItemFilter(genres_none=frozenset({"HORROR"}), year_min=1980, year_max=1990))
    assert not (mask & horror).any()
    years = catalog.years[mask]
    assert years.min() >= 1980 and years.max() <= 1990
    both = catalog.mask([ItemFilter(genres_any=frozenset({"Comedy"})), ItemFilter(genres_any=frozenset({"Romance"}))])
    assert (both == (catalog.genre_masks["comedy"] & catalog.genre_masks["romance"])).all()
    only = catalog.mask(ItemFilter(include_ids=frozenset({"1", "2", "nope"}), exclude_ids=frozenset({"2"})))
    assert catalog.matching_ids(ItemFilter(include_ids=frozenset({"1", "2"}), exclude_ids=frozenset({"2"}))) == ["1"]
    assert only.sum() == 1


def test_entity_filter_removes_every_linked_item(catalog: Catalog) -> None:
    kg = catalog.kg
    assert kg is not None
    director = kg.entities_of("183", "director")[0][1]  # Alien
    mask = catalog.mask(ItemFilter(entities_none=frozenset({director})))
    for item_id in kg.items_of(director):
        assert not mask[catalog.index[item_id]]
    assert not mask[catalog.index["183"]]


def test_kg_canonical_relations_and_names(catalog: Catalog) -> None:
    kg = catalog.kg
    assert kg is not None
    assert {"actor", "director", "writer", "producer", "genre", "sequel"} <= set(kg.relations)
    director = kg.entities_of("183", "director")[0][1]
    assert kg.relation_of(director) == "director"
    assert kg.name(director, catalog.titles).startswith("the director of Alien")
    # both directions of a Freebase relation collapse into one edge
    assert kg.relations["genre"] == 7184


def test_fingerprint_is_stable_and_content_sensitive(catalog: Catalog) -> None:
    same = Catalog(name=catalog.name, items=catalog.items, interactions=catalog.interactions, kg=catalog.kg)
    assert same.fingerprint == catalog.fingerprint
    changed = Catalog(name=catalog.name, items=catalog.items[:-1], kg=catalog.kg)
    assert changed.fingerprint != catalog.fingerprint
