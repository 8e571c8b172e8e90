"""The agent tool on ML-100K: hard filters, exclude, boosts, batching."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.catalog import Catalog
from recsys.datasets import load_catalog
from recsys.filters import ItemFilter
from recsys.seqrec.data import from_catalog, leave_one_out
from recsys.seqrec.recommender import create
from recsys.seqrec.tool import RecommendTool, Request
from recsys.seqrec.train import TrainConfig

TINY = {"max_len": 20, "d_model": 16, "n_heads": 2, "n_layers": 1, "dropout": 0.0}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog("ml-100k")


@pytest.fixture(scope="module")
def tool(catalog: Catalog) -> RecommendTool:
    data = from_catalog(catalog)
    rec = create("sasrec-ce", data.item_ids, TINY, seed=0)
    rec.fit(leave_one_out(data), TrainConfig(epochs=1, max_steps_per_epoch=5, progress=False))
    return RecommendTool(rec, catalog)


HISTORY = ["1", "50", "181", "172", "174"]


def test_basic_recommendation(tool: RecommendTool) -> None:
    out = tool.recommend(HISTORY, k=10)
    assert len(out) == 10
    assert not {r.item_id for r in out} & set(HISTORY), "history is excluded by default"
    assert [r.score for r in out] == sorted((r.score for r in out), reverse=True)
    assert all(r.title for r in out)


@pytest.mark.parametrize(
    "filters",
    [
        ItemFilter(genres_none=frozenset({"Comedy", "Drama"})),
        ItemFilter(genres_any=frozenset({"Horror"})),
        ItemFilter(genres_all=frozenset({"Action", "Sci-Fi"}), year_min=1990),
        ItemFilter(year_max=1960),
        ItemFilter(include_ids=frozenset({"2", "3", "4"})),
    ],
)
def test_filters_never_let_a_filtered_item_through(tool: RecommendTool, catalog: Catalog, filters: ItemFilter) -> None:
    allowed = set(catalog.matching_ids(filters))
    out = tool.recommend(HISTORY, k=50, filters=filters)
    assert out, "something passes each filter"
    assert {r.item_id for r in out} <= allowed
    assert len(out) == min(50, len(allowed - set(HISTORY))), "filters apply before top-k, so the list is not short"


def test_entity_filter(tool: RecommendTool, catalog: Catalog) -> None:
    entity, items = max(catalog.entity_items.items(), key=lambda kv: len(kv[1]))
    banned = {catalog.items[i].id for i in items}
    out = tool.recommend(HISTORY, k=100, filters=ItemFilter(entities_none=frozenset({entity})))
    assert not {r.item_id for r in out} & banned


def test_exclude(tool: RecommendTool) -> None:
    first = [r.item_id for r in tool.recommend(HISTORY, k=5)]
    again = [r.item_id for r in tool.recommend(HISTORY, k=5, exclude=first[:3])]
    assert not set(again) & set(first[:3])
    assert again[:2] == first[3:5]


def test_item_boost_changes_ranking(tool: RecommendTool) -> None:
    base = tool.recommend(HISTORY, k=1682)
    last = base[-1].item_id
    boosted = tool.recommend(HISTORY, k=5, boosts={last: 100.0})
    assert boosted[0].item_id == last
    demoted = tool.recommend(HISTORY, k=5, boosts={base[0].item_id: -100.0})
    assert base[0].item_id not in {r.item_id for r in demoted}


def test_entity_boost_lifts_linked_items(tool: RecommendTool, catalog: Catalog) -> None:
    entity, items = min(
        ((e, i) for e, i in catalog.entity_items.items() if 2 <= len(i) <= 5), key=lambda kv: len(kv[1])
    )
    linked = {catalog.items[i].id for i in items} - set(HISTORY)
    out = tool.recommend(HISTORY, k=len(linked), boosts={entity: 100.0})
    assert {r.item_id for r in out} == linked


def test_boosts_never_override_filters(tool: RecommendTool) -> None:
    out = tool.recommend(HISTORY, k=10, boosts={"2": 1000.0}, filters=ItemFilter(exclude_ids=frozenset({"2"})))
    assert "2" not in {r.item_id for r in out}


def test_batch_equals_single(tool: RecommendTool) -> None:
    requests = [
        Request(history=HISTORY, k=5),
        Request(history=["100", "258"], k=3, filters=ItemFilter(genres_any=frozenset({"Comedy"}))),
        Request(history=[], k=4, boosts={"7": 5.0}),
    ]
    batch = tool.recommend_batch(requests)
    for req, got in zip(requests, batch):
        single = tool.recommend(req.history, req.k, req.filters, req.exclude, dict(req.boosts))
        assert [r.item_id for r in got] == [r.item_id for r in single]
        np.testing.assert_allclose([r.score for r in got], [r.score for r in single], rtol=1e-5)
