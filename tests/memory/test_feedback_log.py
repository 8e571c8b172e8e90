"""The feedback log table (issue 17, point 1): per user, migrated into old files, damage named."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memory.feedback import FeedbackEntry, FeedbackLog, MemorySnapshot, SnapshotPreference
from memory.preferences import infer_from_edit
from memory.store import MIGRATIONS, SCHEMA_VERSION, SQLiteStore


def _entry(n: int, kind: str = "edit", thread: str = "t") -> FeedbackEntry:
    return FeedbackEntry(id=f"fl_{n}", thread_id=thread, turn=n, kind=kind, reply=f"reply {n}")  # type: ignore[arg-type]


def test_entries_are_per_user_in_order_and_filtered(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.sqlite3")
    log = FeedbackLog(store)
    for n, user in enumerate(["bob", "Bob", "bob ", "bob"], start=1):
        log.add(user, _entry(n, "edit" if n < 4 else "like", thread="t" if n < 4 else "u"))
    assert [e.id for e in log.entries("bob")] == ["fl_1", "fl_4"]
    assert [e.id for e in log.entries("Bob")] == ["fl_2"]
    assert [e.id for e in log.entries("bob", thread_id="u")] == ["fl_4"]
    assert [e.id for e in log.entries("bob", kinds=["edit"])] == ["fl_1"]
    assert log.users() == ["Bob", "bob", "bob "]
    with pytest.raises(ValueError, match="unknown feedback kinds"):
        log.entries("bob", kinds=["love"])
    with pytest.raises(ValueError, match="user_id"):
        log.add("", _entry(9))
    store.forget("bob")
    assert log.entries("bob") == [] and [e.id for e in log.entries("bob ")] == ["fl_3"]
    store.close()


def test_an_older_memory_file_gains_the_table_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path)
    for number, statements in MIGRATIONS:
        if number < 3:
            for statement in statements:
                con.execute(statement)
            con.execute(f"PRAGMA user_version = {number}")
    con.execute("INSERT INTO kv VALUES ('ann', 'ns', 'k', '{}', 'now', 'now')")
    con.commit()
    con.close()
    store = SQLiteStore(path)
    assert store.schema_version() == SCHEMA_VERSION == 3
    assert store.row_counts("ann")["kv"] == 1
    FeedbackLog(store).add("ann", _entry(1))
    assert store.row_counts("ann")["feedback_log"] == 1
    store.close()


def test_snapshot_style_keeps_how_replies_are_written() -> None:
    snap = MemorySnapshot(
        preferences=[
            SnapshotPreference(key="genre:Comedy:+", text="enjoys Comedy films", confidence=0.9),
            SnapshotPreference(key="tone:plain", text="calm", confidence=0.4),
            SnapshotPreference(key="format:bullets", text="bullets", confidence=0.7),
        ]
    )
    assert [p.key for p in snap.style()] == ["format:bullets", "tone:plain"]
    assert [p.key for p in snap.style(min_confidence=0.5)] == ["format:bullets"]


def test_edits_that_add_years_or_remove_the_plot_are_inferred() -> None:
    original = "Here are two films! Alien is about a crew that dies one by one.\n1. Alien\n2. Heat"
    keys = {i.key for i in infer_from_edit(original, "Here are two films.\n1. Alien (1979)\n2. Heat (1995)")}
    assert {"content:year", "content:no-plot", "tone:plain"} <= keys
    assert infer_from_edit("1. Alien (1979)", "1. Alien (1979)") == []
