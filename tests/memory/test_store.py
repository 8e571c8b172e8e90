"""Persistence, migrations, concurrency, isolation between users, and forgetting."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from memory.backends import open_store
from memory.schema import FeedbackEvent, utcnow
from memory.service import Memory
from memory.store import SCHEMA_VERSION, USER_TABLES, SQLiteStore, StoreError
from recsys.catalog import Catalog
from recsys.encoder import TextEncoder


def test_schema_is_migrated_and_wal(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.sqlite3")
    assert store.schema_version() == SCHEMA_VERSION
    con = sqlite3.connect(tmp_path / "m.sqlite3")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(USER_TABLES) <= tables
    store.close()
    SQLiteStore(tmp_path / "m.sqlite3").close()  # re-opening an up-to-date file is a no-op


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    SQLiteStore(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.sqlite3: damaged or not a SQLite database"):
        SQLiteStore(path)


def test_memory_survives_restart(store_at: str | Path, ml100k: Catalog, encoder: TextEncoder) -> None:
    m1 = Memory(open_store(store_at), ml100k, encoder)
    m1.remember_utterance("ann", "never recommend horror")
    m1.remember_utterance("ann", "When I watch with my kids, only animation or family films")
    m1.record_feedback("ann", "like", "1", context="something for the kids")
    m1.record_feedback("ann", "critique", context="a long epic", text="too long")
    before = m1.export("ann")
    m1.close()
    m2 = Memory(open_store(store_at), ml100k, encoder)
    after = m2.export("ann")
    for kind in ("instructions", "preferences", "interests", "feedback"):
        assert after[kind] == before[kind] and after[kind]
    applied = m2.applicable("ann", "what can I watch with my son?")
    assert {a.instruction.scope_key for a in applied} == {"", "kids"}
    assert m2.preferences_for("ann", "a long epic")
    m2.close()


def test_concurrent_writes_from_many_threads_lose_nothing(
    store_at: str | Path, ml100k: Catalog, encoder: TextEncoder
) -> None:
    memory = Memory(open_store(store_at), ml100k, encoder)
    genres = sorted(ml100k.genres.values())
    n_threads, per_thread = 16, 6
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def work(t: int) -> None:
        try:
            barrier.wait()
            user = f"user{t % 4}"
            for j in range(per_thread):
                memory.store.add_feedback(user, FeedbackEvent(id=f"fb_{t}_{j}", kind="like", item_id=str(j + 1)))
                memory.record_answer(user, genres[(t + j) % len(genres)], liked=True)
            memory.remember_utterance(f"solo{t}", f"never recommend {genres[t % len(genres)].lower()}")
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    memory.close()
    reopened = open_store(store_at)
    for u in range(4):
        assert len(reopened.feedback(f"user{u}")) == per_thread * n_threads // 4
        evidence = sum(i.evidence for i, _ in reopened.interests(f"user{u}"))
        assert evidence == per_thread * n_threads // 4
    for t in range(n_threads):
        assert len(reopened.instructions(f"solo{t}")) == 1
    reopened.close()


def test_two_stores_on_one_database_lose_no_update(store_at: str | Path) -> None:
    """Two stores (two processes' connections) adding to one user's interest at once: every add counts.

    A read-modify-write: on SQLite ``BEGIN IMMEDIATE`` serialises it, on PostgreSQL the user's advisory lock.
    """
    stores = [open_store(store_at) for _ in range(2)]
    n_threads, per_thread = 4, 15
    barrier, errors = threading.Barrier(n_threads), []

    def work(t: int) -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                stores[t % 2].add_interests(
                    "ann", [("genre:Comedy", "genre", 1.0, None)], lambda w, t, now: w, utcnow()
                )
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    [(interest, _)] = stores[0].interests("ann")
    assert (interest.evidence, interest.weight) == (n_threads * per_thread, n_threads * per_thread)
    for store in stores:
        store.close()


def test_users_never_see_each_others_items(memory: Memory) -> None:
    memory.remember_utterance("alice", "never recommend horror")
    memory.remember_utterance("alice", "When I'm with my wife, only romance")
    memory.record_feedback("alice", "like", "50", context="space adventure")
    memory.record_feedback("alice", "critique", context="space adventure", text="something newer")
    memory.store.kv_put("alice", "notes", "k", {"v": 1})
    assert memory.applicable("bob", "a horror film with my wife") == []
    assert memory.constraints("bob", "anything") == []
    assert memory.preferences_for("bob", "space adventure") == []
    assert memory.top_interests("bob") == [] and memory.boosts("bob", "space adventure") == {}
    assert all(not v for v in memory.list("bob").values())
    assert memory.store.kv_list("bob", "") == []
    assert memory.store.row_counts("bob") == dict.fromkeys(USER_TABLES, 0)
    alice_instruction = memory.instructions("alice")[0].id
    assert memory.store.instruction("bob", alice_instruction) is None
    assert not memory.delete("bob", "instructions", alice_instruction)
    with pytest.raises(KeyError):
        memory.edit("bob", "instructions", alice_instruction, text="never recommend comedy")
    assert memory.instructions("alice")[0].id == alice_instruction  # untouched by bob


def test_forget_leaves_no_trace(tmp_path: Path, ml100k: Catalog, encoder: TextEncoder) -> None:
    path = tmp_path / "m.sqlite3"
    memory = Memory(SQLiteStore(path), ml100k, encoder)
    secret = "zanzibarquux"
    memory.remember_utterance("carol", f"never recommend horror, my cat {secret} hates it")
    memory.remember_utterance("carol", "When I watch with my kids, only animation")
    memory.record_feedback("carol", "like", "50", context=f"space {secret}")
    memory.record_feedback("carol", "edit", original="A long answer!!! " * 5, text=f"short {secret}")
    memory.store.kv_put("carol", "notes", "k", {"secret": secret})
    memory.remember_utterance("dave", "never recommend westerns")
    memory.applicable("carol", "with my kids")  # fills the vector cache
    memory.preferences_for("carol", "space")
    assert "carol" in memory.vectors.cached_users()
    counts = memory.forget("carol")
    assert sum(counts.values()) > 0
    # SQLite: every table, every column
    con = sqlite3.connect(path)
    for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        for row in con.execute(f"SELECT * FROM {table}"):
            assert "carol" not in repr(row) and secret not in repr(row), (table, row)
    con.close()
    # vectors and graph
    assert "carol" not in memory.vectors.cached_users()
    assert memory.vectors.get("carol", "instruction").ids == ()
    assert memory.store.interests("carol") == [] and memory.top_interests("carol") == []
    assert memory.explain("carol", "50") == []
    # the other user is intact
    assert len(memory.instructions("dave")) == 1
    memory.close()
    # no bytes left in the file either (secure_delete + WAL checkpoint)
    data = path.read_bytes() + (Path(str(path) + "-wal").read_bytes() if Path(str(path) + "-wal").exists() else b"")
    assert secret.encode() not in data


@pytest.mark.parametrize("bad", ["", None, 42, "x" * 300, "a\x00b"])
def test_invalid_user_id_is_a_clear_error(memory: Memory, bad: object) -> None:
    with pytest.raises(ValueError, match="invalid user_id"):
        memory.remember_utterance(bad, "never recommend horror")  # type: ignore[arg-type]
