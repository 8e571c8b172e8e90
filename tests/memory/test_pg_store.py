"""The PostgreSQL memory store (issue 18, point 1): what differs from SQLite.

The shared behaviour (isolation, restart, concurrent writers, forgetting) runs on both backends
through the ``store_at`` and ``memory`` fixtures; these tests cover the PostgreSQL side alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from memory.health import StoreError
from memory.service import Memory
from recsys.catalog import Catalog
from recsys.encoder import TextEncoder

REPO = Path(__file__).resolve().parents[2]


def test_sqlite_statements_are_translated_or_refused() -> None:
    pytest.importorskip("psycopg")
    from memory.pg_store import translate

    assert translate("SELECT body FROM t WHERE user_id = ? AND k LIKE ? ESCAPE '\\'") == (
        "SELECT body FROM t WHERE user_id = %s AND k LIKE %s ESCAPE '\\'"
    )
    upsert = translate("INSERT OR REPLACE INTO feedback (user_id, id, body, created_at) VALUES (?, ?, ?, ?)")
    assert upsert == (
        "INSERT INTO feedback (user_id, id, body, created_at) VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, id) "
        "DO UPDATE SET body = EXCLUDED.body, created_at = EXCLUDED.created_at, rowid = DEFAULT"
    )
    for statement in ["PRAGMA user_version", "INSERT OR IGNORE INTO kv (a) VALUES (?)", "SELECT * FROM sqlite_master"]:
        with pytest.raises(ValueError):
            translate(statement)


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    import psycopg

    from memory.pg_store import PostgresStore
    from memory.store import SCHEMA_VERSION

    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE tastebud.memory_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this Tastebud"):
        PostgresStore(postgres_url)


def test_an_unreachable_database_is_a_clear_error_without_the_password(postgres_server: str, tmp_path: Path) -> None:
    from memory.pg_store import PostgresStore

    url = f"postgresql://someone:hunter2@/nowhere?host={tmp_path}&connect_timeout=2"  # no server on that socket
    with pytest.raises(StoreError, match="the PostgreSQL database cannot be used") as caught:
        PostgresStore(url)
    assert "someone:***@" in str(caught.value) and "hunter2" not in str(caught.value)


def test_forget_leaves_no_row_behind(postgres_url: str, ml100k: Catalog, encoder: TextEncoder) -> None:
    import psycopg

    from memory.pg_store import PostgresStore

    memory = Memory(PostgresStore(postgres_url), ml100k, encoder)
    secret = "zanzibarquux"
    memory.remember_utterance("carol", f"never recommend horror, my cat {secret} hates it")
    memory.record_feedback("carol", "like", "50", context=f"space {secret}")
    memory.store.kv_put("carol", "notes", "k", {"secret": secret})
    memory.remember_utterance("dave", "never recommend westerns")
    assert sum(memory.forget("carol").values()) > 0
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'tastebud'").fetchall()
        assert len(tables) >= 7
        for (table,) in tables:
            for row in conn.execute(f"SELECT * FROM tastebud.{table}"):
                assert "carol" not in repr(row) and secret not in repr(row), (table, row)
    assert len(memory.instructions("dave")) == 1
    memory.close()


# The modules that may import psycopg at their top; everything else reaches them only inside a function.
PG_FILES = {"memory/postgres.py", "memory/pg_store.py", "memory/pg_health.py", "agent/pg_conversations.py"}
PG_MODULES = (
    "psycopg",
    "psycopg_pool",
    "langgraph.checkpoint.postgres",
    "memory.postgres",
    "memory.pg_store",
    "memory.pg_health",
    "agent.pg_conversations",
)


def test_nothing_postgres_is_imported_when_sqlite_is_used() -> None:
    """No module outside ``PG_FILES`` imports a PostgreSQL module at its top level, so none loads with SQLite."""
    found = []
    for folder in ("agent", "memory", "recsys", "demo", "tastebud"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.relative_to(REPO).as_posix() in PG_FILES:
                continue
            for node in ast.parse(path.read_text()).body:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                found += [f"{path.relative_to(REPO)}: {n}" for n in names if n.startswith(PG_MODULES)]
    assert not found, found
