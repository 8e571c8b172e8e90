"""``tastebud store check | backup | restore`` on a PostgreSQL deployment (``--database-url``).

The SQLite side is ``tests/agent/test_damaged_conversations.py``; here the same commands act on
the ``tastebud`` schema of a real server through ``pg_dump`` and ``pg_restore``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory.service import Memory
from recsys.catalog import Catalog
from recsys.encoder import TextEncoder
from tastebud.cli import main


def _reports(capsys: pytest.CaptureFixture[str]) -> dict[str, dict]:
    last = capsys.readouterr().out.strip().splitlines()[-1]
    return {r["kind"]: r for r in json.loads(last)["files"]}


def _deploy(url: str) -> None:
    """Create both stores' tables, as a first agent on the database does."""
    from agent.pg_conversations import PostgresConversations
    from memory.pg_store import PostgresStore

    PostgresStore(url).close()
    PostgresConversations(url).close()


def test_check_reports_an_empty_database_as_absent_and_a_deployed_one_as_ok(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from memory.store import SCHEMA_VERSION

    assert main(["store", "check", "--database-url", postgres_url, "--json"]) == 0
    assert {k: r["exists"] for k, r in _reports(capsys).items()} == {"memory": False, "conversations": False}
    _deploy(postgres_url)
    assert main(["store", "check", "--database-url", postgres_url, "--json"]) == 0
    reports = _reports(capsys)
    assert all(r["exists"] and r["ok"] for r in reports.values())
    assert reports["memory"]["schema_version"] == SCHEMA_VERSION


def test_check_finds_a_missing_table_and_a_newer_schema(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import psycopg

    from memory.store import SCHEMA_VERSION

    _deploy(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE tastebud.checkpoint_blobs")
        conn.execute("UPDATE tastebud.memory_schema SET version = %s", (SCHEMA_VERSION + 1,))
    assert main(["store", "check", "--database-url", postgres_url, "--json"]) == 2
    reports = _reports(capsys)
    assert "checkpoint_blobs" in reports["conversations"]["problem"]
    assert "newer than this Tastebud" in reports["memory"]["problem"]


def test_backup_and_restore_bring_back_what_was_forgotten(
    postgres_url: str, tmp_path: Path, ml100k: Catalog, encoder: TextEncoder
) -> None:
    from memory.pg_store import PostgresStore

    _deploy(postgres_url)
    memory = Memory(PostgresStore(postgres_url), ml100k, encoder)
    memory.remember_utterance("carol", "never recommend horror")
    assert main(["store", "backup", str(tmp_path / "bk"), "--database-url", postgres_url]) == 0
    memory.forget("carol")
    memory.remember_utterance("dave", "never recommend westerns")  # after the backup: the restore drops it
    assert not memory.instructions("carol")
    memory.close()

    assert main(["store", "restore", str(tmp_path / "bk"), "--database-url", postgres_url]) == 0
    memory = Memory(PostgresStore(postgres_url), ml100k, encoder)
    try:
        assert [a.value for i in memory.instructions("carol") for a in i.atoms] == ["Horror"]
        assert not memory.instructions("dave")
    finally:
        memory.close()


def test_a_damaged_dump_is_refused_and_the_database_left_as_it_was(
    postgres_url: str, tmp_path: Path, ml100k: Catalog, encoder: TextEncoder, capsys: pytest.CaptureFixture[str]
) -> None:
    from memory.pg_health import DUMP_NAME
    from memory.pg_store import PostgresStore

    _deploy(postgres_url)
    memory = Memory(PostgresStore(postgres_url), ml100k, encoder)
    memory.remember_utterance("carol", "never recommend horror")
    memory.close()
    assert main(["store", "backup", str(tmp_path / "bk"), "--database-url", postgres_url]) == 0
    dump = tmp_path / "bk" / DUMP_NAME
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])  # a copy cut short
    capsys.readouterr()
    assert main(["store", "restore", str(tmp_path / "bk"), "--database-url", postgres_url]) == 2
    assert "reading the dump failed" in capsys.readouterr().err
    assert main(["store", "restore", str(tmp_path / "nothing"), "--database-url", postgres_url]) == 2
    assert "no such dump file" in capsys.readouterr().err
    memory = Memory(PostgresStore(postgres_url), ml100k, encoder)
    try:
        assert len(memory.instructions("carol")) == 1
    finally:
        memory.close()


def test_backup_of_a_database_without_tastebud_is_refused(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["store", "backup", str(tmp_path / "bk"), "--database-url", postgres_url]) == 2
    assert "no Tastebud schema to back up" in capsys.readouterr().err
    assert main(["store", "check", "--database-url", "mysql://x@y/z"]) == 2


def test_the_password_reaches_the_client_programs_by_environment_not_command_line() -> None:
    pytest.importorskip("psycopg")
    from memory.pg_health import _without_password

    bare, env = _without_password("postgresql://tb:hunter2@db.internal:5432/tastebud?sslmode=require")
    assert bare == "postgresql://tb@db.internal:5432/tastebud?sslmode=require" and env["PGPASSWORD"] == "hunter2"
    assert _without_password("postgresql://tb@/x?host=/tmp")[0] == "postgresql://tb@/x?host=/tmp"
