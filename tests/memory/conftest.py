"""Shared fixtures: the real ML-100K catalog, the real encoder, a small catalog with named people."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.backends import open_store
from memory.overlay import with_people
from memory.service import Memory
from memory.store import SQLiteStore
from recsys.catalog import Catalog
from recsys.datasets import load_catalog
from recsys.encoder import TextEncoder
from recsys.knowledge_graph import KnowledgeGraph
from recsys.schema import Item

PEOPLE = {
    "Tom Cruise": ("actor", ["Top Gun", "Jerry Maguire", "Mission: Impossible"]),
    "Tom Hanks": ("actor", ["Toy Story", "Apollo 13"]),
    "Tim Allen": ("actor", ["Toy Story", "The Santa Clause"]),
    "Woody Allen": ("director", ["Annie Hall"]),
    "Quentin Tarantino": ("director", ["Pulp Fiction", "Jackie Brown", "Reservoir Dogs"]),
    "Ridley Scott": ("director", ["Alien"]),
    "Tony Scott": ("director", ["Top Gun"]),
}


@pytest.fixture(scope="session")
def ml100k() -> Catalog:
    """The embedded MovieLens-100K catalog (unnamed KG)."""
    return load_catalog("ml-100k")


@pytest.fixture(scope="session")
def encoder() -> TextEncoder:
    """One real MiniLM encoder for the whole session.

    One torch thread: single-sentence encodes are ~20 ms that way, but ~0.5 s
    with two threads on a loaded 2-core machine (thread contention).
    """
    import torch

    torch.set_num_threads(1)
    enc = TextEncoder()
    enc.encode(["warm up"])
    return enc


@pytest.fixture(scope="session")
def small_catalog() -> Catalog:
    """Twelve films with a KG whose people have names (for people-by-name tests)."""
    films = [
        ("1", "Top Gun", 1986, ("Action", "Romance")),
        ("2", "Jerry Maguire", 1996, ("Drama", "Romance")),
        ("3", "Mission: Impossible", 1996, ("Action", "Thriller")),
        ("4", "Toy Story", 1995, ("Animation", "Children's", "Comedy")),
        ("5", "Apollo 13", 1995, ("Drama",)),
        ("6", "The Santa Clause", 1994, ("Children's", "Comedy")),
        ("7", "Annie Hall", 1977, ("Comedy", "Romance")),
        ("8", "Pulp Fiction", 1994, ("Crime", "Drama")),
        ("9", "Jackie Brown", 1997, ("Crime", "Drama")),
        ("10", "Reservoir Dogs", 1992, ("Crime", "Thriller")),
        ("11", "Alien", 1979, ("Horror", "Sci-Fi")),
        ("12", "Psycho", 1960, ("Horror", "Thriller")),
    ]
    items = tuple(Item(id=i, title=t, year=y, genres=g, entities=(f"film:{i}",)) for i, t, y, g in films)
    kg = KnowledgeGraph.from_triples([], {i: f"film:{i}" for i, _, _, _ in films})
    return with_people(Catalog(name="small", items=items, kg=kg), PEOPLE)


@pytest.fixture(scope="session")
def named_ml100k(ml100k: Catalog) -> Catalog:
    """ML-100K with a few named people attached (real credits)."""
    return with_people(ml100k, {k: v for k, v in PEOPLE.items() if k not in ("Tim Allen",)})


@pytest.fixture(params=["sqlite", "postgresql"])
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a fresh memory store lives: a SQLite file, or an empty PostgreSQL database (every test runs on both)."""
    return tmp_path / "memory.sqlite3" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.fixture
def memory(store_at: str | Path, ml100k: Catalog, encoder: TextEncoder) -> Iterator[Memory]:
    """A fresh memory store over ML-100K, on SQLite and on PostgreSQL."""
    m = Memory(open_store(store_at), ml100k, encoder)
    yield m
    m.close()


@pytest.fixture
def small_memory(tmp_path: Path, small_catalog: Catalog, encoder: TextEncoder) -> Iterator[Memory]:
    """A fresh memory file over the small named catalog."""
    m = Memory(SQLiteStore(tmp_path / "small.sqlite3"), small_catalog, encoder)
    yield m
    m.close()
