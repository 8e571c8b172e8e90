"""Per-user memory in PostgreSQL, for several worker processes and hosts sharing one database.

``PostgresStore`` runs ``SQLiteStore``'s own queries (every one filters on the ``user_id``
parameter), so the isolation between users is the same code on both backends. What differs
lives here: the connections, the schema and its migrations, the transactions, and the two
SQLite spellings PostgreSQL lacks (``?`` placeholders, ``INSERT OR REPLACE``), translated once
per statement. Writes take an advisory lock on their user, so read-modify-write updates (rules
superseding each other, interest weights) serialise per user across processes, as SQLite's one
writer serialises them on one machine.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq

from memory.health import StoreError
from memory.ids import check_user_id
from memory.postgres import connect, lock_key, redact, setup_lock, unreachable
from memory.store import MIGRATIONS, SCHEMA_VERSION, USER_TABLES, SQLiteStore

# The same numbered migrations as ``memory.store.MIGRATIONS``, in PostgreSQL's types. ``rowid``
# stands in for SQLite's implicit rowid (the queries order by it; a replaced row takes a new one).
PG_MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE instructions (
                user_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL,
                scope_key TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
                rowid BIGSERIAL, PRIMARY KEY (user_id, id))""",
            "CREATE INDEX instructions_user_status ON instructions (user_id, status)",
            """CREATE TABLE preferences (
                user_id TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
                updated_at TEXT NOT NULL, rowid BIGSERIAL, PRIMARY KEY (user_id, id))""",
            "CREATE INDEX preferences_user_key ON preferences (user_id, key)",
            """CREATE TABLE interests (
                user_id TEXT NOT NULL, entity TEXT NOT NULL, relation TEXT NOT NULL,
                weight DOUBLE PRECISION NOT NULL, evidence INTEGER NOT NULL, via TEXT NOT NULL,
                updated_at TEXT NOT NULL, rowid BIGSERIAL, PRIMARY KEY (user_id, entity))""",
            """CREATE TABLE feedback (
                user_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
                rowid BIGSERIAL, PRIMARY KEY (user_id, id))""",
            """CREATE TABLE vectors (
                seq BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL,
                ref_id TEXT NOT NULL, vec BYTEA NOT NULL, UNIQUE (user_id, kind, ref_id))""",
            """CREATE TABLE kv (
                user_id TEXT NOT NULL, namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (user_id, namespace, key))""",
        ),
    ),
    (
        2,
        (
            """CREATE TABLE events (
                seq BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, at TEXT NOT NULL,
                action TEXT NOT NULL, kind TEXT NOT NULL, ref_id TEXT NOT NULL, detail TEXT NOT NULL)""",
            "CREATE INDEX events_user ON events (user_id, seq)",
        ),
    ),
    (
        3,
        (
            """CREATE TABLE feedback_log (
                seq BIGSERIAL PRIMARY KEY, user_id TEXT NOT NULL, id TEXT NOT NULL,
                thread_id TEXT NOT NULL, turn INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
                created_at TEXT NOT NULL, UNIQUE (user_id, id))""",
            "CREATE INDEX feedback_log_user ON feedback_log (user_id, seq)",
        ),
    ),
)
assert [n for n, _ in PG_MIGRATIONS] == [n for n, _ in MIGRATIONS], "every SQLite migration needs its PostgreSQL twin"

# What ``INSERT OR REPLACE`` replaces on: each table's primary key.
PRIMARY_KEYS = {
    "instructions": ("user_id", "id"),
    "preferences": ("user_id", "id"),
    "interests": ("user_id", "entity"),
    "feedback": ("user_id", "id"),
}
_REPLACE = re.compile(r"^\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\) (VALUES \([^)]*\))\s*$", re.S)


@functools.lru_cache(maxsize=256)
def translate(statement: str) -> str:
    """One of ``SQLiteStore``'s statements in PostgreSQL's spelling.

    ``?`` becomes ``%s`` (after doubling any literal ``%``); ``INSERT OR REPLACE`` becomes an
    upsert on the primary key that also renews ``rowid``, as SQLite's delete-and-insert does.

    Raises:
        ValueError: A SQLite-only statement this function does not know how to translate.
    """
    if "PRAGMA" in statement.upper() or "sqlite_" in statement:
        raise ValueError(f"SQLite-only statement reached PostgreSQL: {statement!r}")
    out = statement.replace("%", "%%").replace("?", "%s")
    if "INSERT OR" not in out:
        return out
    match = _REPLACE.match(out)
    if match is None or match.group(1) not in PRIMARY_KEYS:
        raise ValueError(f"cannot translate to PostgreSQL: {statement!r}")
    table, columns, values = match.group(1), [c.strip() for c in match.group(2).split(",")], match.group(3)
    keys = PRIMARY_KEYS[table]
    updates = [f"{c} = EXCLUDED.{c}" for c in columns if c not in keys] + ["rowid = DEFAULT"]
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) {values} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(updates)}"
    )


class _Connection:
    """A psycopg connection that takes ``SQLiteStore``'s statements as they are written."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def execute(self, statement: str, params: tuple[Any, ...] | list[Any] = ()) -> psycopg.Cursor:
        return self.conn.execute(translate(statement), tuple(params))  # always formatted: "%%" back to "%"

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != pq.TransactionStatus.IDLE


class PostgresStore(SQLiteStore):
    """Per-user memory rows in PostgreSQL's ``tastebud`` schema; the same methods as ``SQLiteStore``.

    Each thread gets its own autocommit connection; a write is one transaction holding an
    advisory lock on its user.

    Args:
        url: A ``postgresql://`` URL (the database must exist; the schema is created).
        timeout_s: How long a statement may wait for a lock before it fails.

    Raises:
        StoreError: The database cannot be reached, or holds a newer memory schema.
    """

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:  # noqa: D107 - documented on the class
        self.url = url
        self.path = redact(url)  # what errors name
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._all: list[_Connection] = []
        self._lock = threading.Lock()
        self._shared_lock = None
        self._guard = None
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> _Connection:  # type: ignore[override]
        con: _Connection | None = getattr(self._local, "con", None)
        if con is not None and not con.conn.closed:
            return con
        raw = connect(self.url)
        raw.execute(f"SET lock_timeout = {int(self.timeout_s * 1000)}")
        con = _Connection(raw)
        with self._lock:
            self._all.append(con)
        self._local.con = con
        return con

    @contextmanager
    def _write(self, user_id: str | None = None) -> Iterator[_Connection]:  # type: ignore[override]
        """A write transaction holding the user's advisory lock until it commits or rolls back."""
        con = self._connect()
        with con.conn.transaction():
            if user_id is not None:
                con.execute("SELECT pg_advisory_xact_lock(?, ?)", lock_key("memory", user_id))
            yield con

    @contextmanager
    def _read(self) -> Iterator[_Connection]:  # type: ignore[override]
        """A read transaction: one consistent snapshot for several queries."""
        con = self._connect()
        with con.conn.transaction():
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield con

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for con in self._all:
                con.conn.close()
            self._all.clear()
        self._local = threading.local()

    def _migrate(self) -> None:
        with setup_lock(self.url):
            con = self._connect()
            with con.conn.transaction():  # PostgreSQL's DDL is transactional: a migration applies whole or not at all
                con.conn.execute("CREATE TABLE IF NOT EXISTS memory_schema (version INTEGER NOT NULL)")
                row = con.conn.execute("SELECT version FROM memory_schema").fetchone()
                version = row[0] if row else 0
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path}: memory schema version {version} is newer than this Tastebud "
                        f"({SCHEMA_VERSION}); upgrade Tastebud to open it"
                    )
                for number, statements in PG_MIGRATIONS:
                    if number > version:
                        for statement in statements:
                            con.conn.execute(statement)
                con.conn.execute("DELETE FROM memory_schema")
                con.conn.execute("INSERT INTO memory_schema (version) VALUES (%s)", (max(version, SCHEMA_VERSION),))

    def schema_version(self) -> int:
        """The schema version of the database."""
        row = self._connect().conn.execute("SELECT version FROM memory_schema").fetchone()
        return int(row[0]) if row else 0

    def forget(self, user_id: str) -> dict[str, int]:
        """Delete every row of this user in every table, in one transaction; rows deleted per table.

        A plain ``VACUUM`` then drops the dead rows; ``vacuum()`` rewrites the tables whole.
        """
        check_user_id(user_id)
        with self._write(user_id) as con:
            counts = {t: con.execute(f"DELETE FROM {t} WHERE user_id = ?", (user_id,)).rowcount for t in USER_TABLES}
        self.vacuum(full=False)
        return counts

    def vacuum(self, full: bool = True) -> None:
        """Rewrite the memory tables (``VACUUM FULL``) so deleted rows leave no bytes behind."""
        verb = "VACUUM FULL" if full else "VACUUM"
        for table in USER_TABLES:
            self._connect().conn.execute(f"{verb} {table}")


def _unreachable_named(method: Callable[..., Any]) -> Callable[..., Any]:
    """A lost or refused connection raises ``StoreError`` naming the database, not a bare driver error."""

    @functools.wraps(method)
    def wrapper(self: PostgresStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except psycopg.OperationalError as err:
            raise unreachable(self.url, err) from err

    return wrapper


for _name in dir(PostgresStore):
    _method = getattr(PostgresStore, _name)
    if not _name.startswith("_") and callable(_method) and _name not in ("close",):
        setattr(PostgresStore, _name, _unreachable_named(_method))
