"""Shared fixtures: the real embedded catalog and encoder, loaded once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recsys.assets import AssetManager
from recsys.catalog import Catalog
from recsys.datasets import load_catalog
from recsys.encoder import TextEncoder
from recsys.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The user's real cache: assets are fetched once and reused across runs."""
    return Settings.from_env()


@pytest.fixture(scope="session")
def assets(settings: Settings) -> AssetManager:
    return AssetManager(settings)


@pytest.fixture(scope="session")
def catalog(settings: Settings) -> Catalog:
    return load_catalog("ml-100k", settings)


@pytest.fixture(scope="session")
def encoder(settings: Settings) -> TextEncoder:
    return TextEncoder(settings=settings)


TINY_GENRES = ("Comedy", "Drama", "Action", "Horror", "Romance", "Western")


def write_tiny_catalog(folder: Path, users: int = 40, items: int = 60, per_user: int = 12) -> Path:
    """A small generic-format catalog (items.jsonl, interactions.csv) with genres and years, seeded.

    Users lean to two genres each, so a recommender and the questions have something to find.
    """
    import csv
    import json

    import numpy as np

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    genres = [tuple(sorted({TINY_GENRES[i % 6], TINY_GENRES[int(rng.integers(6))]})) for i in range(items)]
    with (folder / "items.jsonl").open("w") as f:
        for i in range(items):
            year = 1950 + int(rng.integers(50))
            f.write(json.dumps({"id": f"i{i}", "title": f"Item {i}", "year": year, "genres": list(genres[i])}) + "\n")
    with (folder / "interactions.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user", "item", "rating", "timestamp"])
        for u in range(users):
            liked = {TINY_GENRES[u % 6], TINY_GENRES[(u + 1) % 6]}
            weight = np.array([3.0 if liked & set(g) else 1.0 for g in genres])
            chosen = rng.choice(items, per_user, replace=False, p=weight / weight.sum())
            for t, i in enumerate(chosen):
                w.writerow([f"u{u}", f"i{i}", 4, t])
    return folder


@pytest.fixture(scope="session")
def tiny_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny generic catalog folder (40 users, 60 items, genres and years) for fast end-to-end runs."""
    return write_tiny_catalog(tmp_path_factory.mktemp("tiny") / "catalog")


MOODS = ("calm", "dark", "happy", "tense")
TAGS = ("jazz", "rock", "folk", "live", "cover", "piano", "vocal", "remix")


@pytest.fixture(scope="session")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 items with a mood (text), tags (a list) and a year (a number), no genres; 40 users leaning to a mood."""
    import csv
    import json

    import numpy as np

    folder = tmp_path_factory.mktemp("tagged")
    rng = np.random.default_rng(1)
    moods = [MOODS[i % 4] for i in range(80)]
    with (folder / "items.jsonl").open("w") as f:
        for i in range(80):
            tags = sorted({TAGS[i % 8], TAGS[int(rng.integers(8))]})
            attributes = {"mood": moods[i], "tags": tags, "plays": int(rng.integers(3))}
            f.write(json.dumps({"id": f"a{i}", "title": f"Artist {i}", "attributes": attributes}) + "\n")
    with (folder / "interactions.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user", "item", "timestamp"])
        for u in range(40):
            weight = np.array([4.0 if m == MOODS[u % 4] else 1.0 for m in moods])
            for t, i in enumerate(rng.choice(80, 12, replace=False, p=weight / weight.sum())):
                w.writerow([f"u{u}", f"a{i}", t])
    return folder


# ---- PostgreSQL (issue 18): a real server for the store, agent and concurrency tests ----------
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server for this session.

    ``TASTEBUD_TEST_DATABASE_URL`` when set (its user must be allowed to ``CREATE DATABASE``);
    else a throwaway server started from the installed binaries (``memory.pg_testing``) and
    stopped at the end. Without either the PostgreSQL tests skip, or fail when
    ``TASTEBUD_REQUIRE_POSTGRES=1`` (CI installs the server, so a skip there would hide a break).
    """
    import os

    from memory.pg_testing import NoServer, TempServer

    given = os.environ.get("TASTEBUD_TEST_DATABASE_URL")
    if given:
        yield given
        return
    try:
        import psycopg  # noqa: F401 - the postgres extra
        from langgraph.checkpoint.postgres import PostgresSaver  # noqa: F401

        server = TempServer().start()
    except (ImportError, NoServer) as err:
        reason = f"no PostgreSQL to test against ({err}); install the server (apt-get install postgresql) and `pip install -e .[postgres]`, or set TASTEBUD_TEST_DATABASE_URL"
        if os.environ.get("TASTEBUD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"TASTEBUD_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture()
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    from memory.pg_testing import create_database, drop_database

    url = create_database(postgres_server)
    yield url
    drop_database(url, postgres_server)


@pytest.fixture()
def database(request: pytest.FixtureRequest) -> str | None:
    """Where a test's stores live: None (SQLite files, the default) or a fresh PostgreSQL URL.

    Parametrize it indirectly: ``@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)``.
    """
    kind = getattr(request, "param", "sqlite")
    assert kind in ("sqlite", "postgresql"), kind
    return None if kind == "sqlite" else request.getfixturevalue("postgres_url")
