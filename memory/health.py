"""Health of Tastebud's SQLite files: checked when a store opens, backed up and restored online.

A file that lost its data (0 bytes after a failed copy or a full disk), was truncated, or holds
damaged pages must stop Tastebud with an error that names the file and says what to do: SQLite
would otherwise start a fresh empty database over a 0-byte file (every user's memory silently
gone) or fail later, on some user's turn, with a bare ``DatabaseError``.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from memory.filelock import FileLock, LockBusy

Kind = Literal["memory", "conversations"]
FILES: dict[Kind, str] = {"memory": "memory.sqlite", "conversations": "conversations.sqlite"}
# Tables each kind must hold once it holds any: a SQLite file of another program is not ours to migrate.
EXPECTED_TABLES: dict[Kind, frozenset[str]] = {
    "memory": frozenset({"instructions", "preferences", "interests", "feedback", "vectors", "kv"}),
    "conversations": frozenset({"checkpoints", "writes"}),
}
# SQLite result codes that mean the file itself is damaged or is not a database.
_DAMAGE = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


class StoreError(RuntimeError):
    """A store file cannot be used: damaged, empty where data was, of a newer schema, or in use."""


class FileReport(BaseModel):
    """What ``check_file`` found.

    Attributes:
        kind: Which store the file belongs to.
        path: The file.
        exists: Whether the file exists (a missing file is created empty when a store opens).
        size: Bytes on disk (main file only).
        ok: Usable as it is.
        problem: What is wrong, when something is.
        schema_version: ``PRAGMA user_version`` (the memory schema; 0 for conversations).
    """

    kind: Kind
    path: str
    exists: bool
    size: int = 0
    ok: bool
    problem: str | None = None
    schema_version: int | None = None


def lock_path(path: str | Path) -> Path:
    """The lock file a store holds (shared) while it has ``path`` open; restore takes it exclusively."""
    return Path(f"{path}.lock")


def is_damage(err: BaseException) -> bool:
    """Whether a driver error says the file is damaged or not a database (not busy, not a bad query)."""
    return isinstance(err, sqlite3.DatabaseError) and getattr(err, "sqlite_errorname", "") in _DAMAGE


def remedy(path: str | Path) -> str:
    """What to do about a damaged file, with the commands that do it."""
    folder = Path(path).parent
    return (
        f"nothing was changed. Check with `tastebud store check --data-dir {folder}`; restore a backup with "
        f"`tastebud store restore BACKUP_DIR --data-dir {folder}`; or, to start this file empty on purpose, "
        "move it away"
    )


def damaged(path: str | Path, problem: str) -> StoreError:
    """The error for an unusable file: the file, what is wrong, and what to do."""
    return StoreError(f"{path}: {problem}; {remedy(path)}")


def check_file(path: str | Path, kind: Kind, *, full: bool = False) -> FileReport:
    """Check one store file without changing it.

    Args:
        path: The file.
        kind: Which store it belongs to (decides the expected tables).
        full: ``PRAGMA integrity_check`` (also cross-checks indexes) instead of ``quick_check``.
    """
    file = Path(path)
    if not file.exists():
        return FileReport(kind=kind, path=str(file), exists=False, ok=True)
    size = file.stat().st_size
    report = {"kind": kind, "path": str(file), "exists": True, "size": size}
    if size == 0:
        problem = "the file is empty (0 bytes) where a database was (a failed copy or a full disk?)"
        return FileReport(**report, ok=False, problem=problem)
    try:
        # A read-write connection: a read-only one cannot recover a WAL left by a killed process.
        con = sqlite3.connect(file, timeout=30.0)
    except sqlite3.Error as err:
        return FileReport(**report, ok=False, problem=f"cannot be opened ({err})")
    try:
        rows = con.execute(f"PRAGMA {'integrity_check' if full else 'quick_check'}").fetchall()
        version = int(con.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:
        return FileReport(**report, ok=False, problem=f"damaged or not a SQLite database ({err})")
    finally:
        con.close()
    if rows != [("ok",)]:
        found = "; ".join(str(r[0]) for r in rows[:3])
        return FileReport(**report, ok=False, schema_version=version, problem=f"damaged pages ({found})")
    missing = EXPECTED_TABLES[kind] - tables
    if tables - {"sqlite_sequence"} and missing:
        problem = f"not a Tastebud {kind} file (tables {sorted(missing)} are missing)"
        return FileReport(**report, ok=False, schema_version=version, problem=problem)
    return FileReport(**report, ok=True, schema_version=version)


def ensure_usable(path: str | Path, kind: Kind) -> None:
    """Raise ``StoreError`` naming the file and the fix unless it is missing (new) or passes ``check_file``."""
    report = check_file(path, kind)
    if not report.ok:
        raise damaged(path, report.problem or "unusable")


def backup_file(source: str | Path, target: str | Path) -> FileReport:
    """Copy a store file with SQLite's online backup API (consistent while other processes write).

    Raises:
        StoreError: The source is missing or damaged, or the copy does not check out.
    """
    src, dest = Path(source), Path(target)
    kind = _kind_of(src)
    report = check_file(src, kind)
    if not report.exists:
        raise StoreError(f"{src}: no such file to back up")
    if not report.ok:
        raise damaged(src, f"{report.problem}; not backed up")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    _copy(src, partial)
    os.replace(partial, dest)
    return _verified(dest, kind)


def restore_file(backup: str | Path, target: str | Path) -> FileReport:
    """Replace a store file by a checked backup (``restore_files`` for one file)."""
    return restore_files([(Path(backup), Path(target))])[0]


def restore_files(pairs: list[tuple[Path, Path]]) -> list[FileReport]:
    """Replace store files by checked backups, all or none; refused while Tastebud has any of them open.

    Args:
        pairs: (backup file, file to replace) pairs.

    Raises:
        StoreError: A backup is missing or damaged, or a target is open in a running process;
            nothing has been replaced then.
    """
    for src, dest in pairs:
        report = check_file(src, _kind_of(dest))
        if not report.exists or not report.ok:
            raise StoreError(f"{src}: {report.problem or 'no such file'}; not restored, {dest} left as it was")
    guards: list[FileLock] = []
    try:
        for _, dest in pairs:
            try:
                guards.append(FileLock(lock_path(dest)).acquire(blocking=False))
            except LockBusy as err:
                raise StoreError(f"{dest} is open in a running Tastebud process; stop it, then restore") from err
        for src, dest in pairs:
            partial = dest.with_name(dest.name + ".restoring")
            _copy(src, partial)
            for stale in (Path(f"{dest}-wal"), Path(f"{dest}-shm")):  # they belong to the file being replaced
                stale.unlink(missing_ok=True)
            os.replace(partial, dest)
    finally:
        for guard in guards:
            guard.release()
    return [_verified(dest, _kind_of(dest)) for _, dest in pairs]


def _kind_of(path: Path) -> Kind:
    for kind, name in FILES.items():
        if path.name == name:
            return kind
    raise StoreError(f"{path}: not a Tastebud store file (expected one of {sorted(FILES.values())})")


def _copy(src: Path, dest: Path) -> None:
    dest.unlink(missing_ok=True)
    with sqlite3.connect(src, timeout=30.0) as source, sqlite3.connect(dest) as copy:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file, no -wal beside it
    source.close()
    copy.close()


def _verified(path: Path, kind: Kind) -> FileReport:
    report = check_file(path, kind)
    if not report.ok:
        raise damaged(path, f"the copy does not check out ({report.problem})")
    return report


def open_checked(path: str | Path, kind: Kind, create: Callable[[sqlite3.Connection], None]) -> FileLock:
    """Check a store file before a store opens it, creating it whole when it does not exist yet.

    A new file is built under a temporary name and linked into place, so no process ever sees
    a half-created (0-byte) file: a 0-byte file is always a lost database. The returned lock
    is held shared while the store is open (``restore_file`` waits for it); release it on close.

    Args:
        path: The store file.
        kind: Which store it is.
        create: Builds the schema on a connection to the new file.

    Raises:
        StoreError: The file is damaged, empty, or not a Tastebud file (the message names it and the fix).
    """
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    guard = FileLock(lock_path(file)).acquire(shared=True)
    try:
        if not file.exists():
            _create(file, create)
        ensure_usable(file, kind)
    except BaseException:
        guard.release()
        raise
    return guard


def _create(file: Path, create: Callable[[sqlite3.Connection], None]) -> None:
    fresh = file.with_name(f"{file.name}.new-{os.getpid()}")
    fresh.unlink(missing_ok=True)
    con = sqlite3.connect(fresh, isolation_level=None)
    try:
        create(con)
    finally:
        con.close()
    try:
        os.link(fresh, file)  # never replaces: a process that created it first wins, and we use its file
    except FileExistsError:
        pass
    finally:
        fresh.unlink(missing_ok=True)


DAMAGES: tuple[str, ...] = ("empty", "truncated", "random-4k")
"""How files get damaged: a failed copy or full disk (empty), a cut-off write (truncated), bad
sectors or a stray writer (4 KB of random bytes at a random offset, not only on page boundaries)."""


def damage_file(path: Path, how: str, seed: int) -> bytes:
    """Damage a file in place as ``how`` (one of ``DAMAGES``) says; returns its new bytes.

    Fault injection for the tests and ``benchmarks/reliability.py``: the checks above must name
    the file for every kind of damage.
    """
    raw, rng = bytearray(path.read_bytes()), random.Random(seed)
    if how == "empty":
        raw = bytearray()
    elif how == "truncated":
        raw = raw[: rng.randrange(1, len(raw) - 1)]
    elif how == "random-4k":
        start = rng.randrange(0, len(raw) - 4096)
        raw[start : start + 4096] = rng.randbytes(4096)
    else:
        raise ValueError(f"unknown damage {how!r}; one of {DAMAGES}")
    path.write_bytes(bytes(raw))
    return bytes(raw)
