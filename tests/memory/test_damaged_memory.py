"""Damaged, truncated and emptied memory files (issue 18, point 2): a clear error, never a silent reset.

The tester's cases: a 0-byte memory file (a failed copy, a full disk) silently reset every user's
rules; 4 KB of random bytes let start-up succeed and then every chat raised ``sqlite3.DatabaseError``.
Each damage here must raise ``StoreError`` naming the file and the fix, and leave the file as it was.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import threading
from pathlib import Path

import pytest

from memory.health import DAMAGES, StoreError, backup_file, check_file, damage_file, restore_file
from memory.store import SQLiteStore

USERS = [f"user{u}" for u in range(12)]


def _fill(path: Path) -> None:
    store = SQLiteStore(path)
    for user in USERS:
        for k in range(12):
            store.kv_put(user, "notes", f"k{k}", {"text": f"{user} note {k} " + "x" * 300})
    store.close()  # the last connection checkpoints the WAL into the file


@pytest.fixture()
def good(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "memory.sqlite"
    _fill(path)
    return path


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_memory_file_is_a_clear_error_and_is_left_as_it_was(good: Path, damage: str, seed: int) -> None:
    damage_file(good, damage, seed)
    before = hashlib.sha256(good.read_bytes()).hexdigest()
    with pytest.raises(StoreError) as err:
        SQLiteStore(good)
    message = str(err.value)
    assert str(good) in message and "tastebud store restore" in message, message
    assert hashlib.sha256(good.read_bytes()).hexdigest() == before  # no reset, no repair attempt
    assert not check_file(good, "memory").ok


def test_damage_found_mid_use_names_the_file(good: Path) -> None:
    store = SQLiteStore(good)
    assert len(store.kv_list("user3", "notes")) == 12
    data = bytearray(good.read_bytes())
    # The kv rows fill the pages after the empty tables' root pages (21 of 37 since the feedback log's table).
    middle = len(data) * 2 // 3 // 4096 * 4096
    data[middle : middle + 4096 * 3] = random.Random(0).randbytes(4096 * 3)
    good.write_bytes(data)
    errors: list[BaseException] = []

    def read_all() -> None:  # a new thread: a new connection, with none of the old pages cached
        try:
            for user in USERS:  # some user's rows sit on the damaged pages
                store.kv_list(user, "notes")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=read_all)
    worker.start()
    worker.join()
    store.close()
    assert len(errors) == 1 and isinstance(errors[0], StoreError), errors
    assert "memory.sqlite: damaged" in str(errors[0])


def test_a_new_file_is_created_whole_and_a_foreign_database_is_refused(tmp_path: Path) -> None:
    fresh = tmp_path / "memory.sqlite"
    SQLiteStore(fresh).close()
    assert fresh.stat().st_size > 0 and check_file(fresh, "memory").ok  # a 0-byte file is never ours
    other = tmp_path / "other" / "memory.sqlite"
    other.parent.mkdir()
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE invoices (id INTEGER)")
    con.close()
    with pytest.raises(StoreError, match="not a Tastebud memory file"):
        SQLiteStore(other)


def test_backup_and_restore_bring_a_damaged_file_back(good: Path, tmp_path: Path) -> None:
    store = SQLiteStore(good)  # the online backup runs while the store is open
    report = backup_file(good, tmp_path / "backup" / "memory.sqlite")
    assert report.ok and report.schema_version == store.schema_version()
    with pytest.raises(StoreError, match="open in a running Tastebud"):
        restore_file(tmp_path / "backup" / "memory.sqlite", good)
    store.close()
    good.write_bytes(b"")
    with pytest.raises(StoreError):
        backup_file(good, tmp_path / "backup2" / "memory.sqlite")  # a damaged file is not backed up
    restore_file(tmp_path / "backup" / "memory.sqlite", good)
    store = SQLiteStore(good)
    assert all(len(store.kv_list(user, "notes")) == 12 for user in USERS)
    store.close()


def test_a_damaged_backup_is_not_restored(good: Path, tmp_path: Path) -> None:
    backup = tmp_path / "backup" / "memory.sqlite"
    backup_file(good, backup)
    backup.write_bytes(backup.read_bytes()[:5000])
    before = good.read_bytes()
    with pytest.raises(StoreError, match="not restored"):
        restore_file(backup, good)
    assert good.read_bytes() == before
