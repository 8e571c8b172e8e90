"""SQLite repository for per-user memory: one file, WAL, numbered migrations, safe across threads and processes.

Every public method takes ``user_id`` first and every query filters on it, so one
user's rows can never be read or changed through another user's call. Vectors
are stored as plain float32 BLOBs (no SQLite extension needed); search happens
in numpy (see ``memory.vectors``).
"""

from __future__ import annotations

import functools
import inspect
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from memory.filelock import FileLock
from memory.health import StoreError, damaged, is_damage, open_checked
from memory.ids import check_user_id
from memory.schema import FeedbackEvent, InferredPreference, Interest, StandingInstruction, utcnow

# Numbered migrations, applied in order inside one transaction each; PRAGMA user_version holds the number.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE instructions (
                user_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL,
                scope_key TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
                PRIMARY KEY (user_id, id))""",
            "CREATE INDEX instructions_user_status ON instructions (user_id, status)",
            """CREATE TABLE preferences (
                user_id TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
                updated_at TEXT NOT NULL, PRIMARY KEY (user_id, id))""",
            "CREATE INDEX preferences_user_key ON preferences (user_id, key)",
            """CREATE TABLE interests (
                user_id TEXT NOT NULL, entity TEXT NOT NULL, relation TEXT NOT NULL, weight REAL NOT NULL,
                evidence INTEGER NOT NULL, via TEXT NOT NULL, updated_at TEXT NOT NULL,
                PRIMARY KEY (user_id, entity))""",
            """CREATE TABLE feedback (
                user_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
                PRIMARY KEY (user_id, id))""",
            """CREATE TABLE vectors (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, kind TEXT NOT NULL,
                ref_id TEXT NOT NULL, vec BLOB NOT NULL, UNIQUE (user_id, kind, ref_id))""",
            """CREATE TABLE kv (
                user_id TEXT NOT NULL, namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (user_id, namespace, key))""",
        ),
    ),
    (
        2,
        (
            # An audit trail of what changed and why (user control: "why do you think I like X?").
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, at TEXT NOT NULL,
                action TEXT NOT NULL, kind TEXT NOT NULL, ref_id TEXT NOT NULL, detail TEXT NOT NULL)""",
            "CREATE INDEX events_user ON events (user_id, seq)",
        ),
    ),
    (
        3,
        (
            # Feedback with its context (plan, reply, list, memory snapshot): preference data (memory.feedback).
            """CREATE TABLE feedback_log (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, id TEXT NOT NULL,
                thread_id TEXT NOT NULL, turn INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
                created_at TEXT NOT NULL, UNIQUE (user_id, id))""",
            "CREATE INDEX feedback_log_user ON feedback_log (user_id, seq)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
USER_TABLES = ("instructions", "preferences", "interests", "feedback", "vectors", "kv", "events", "feedback_log")


def _ts(value: datetime) -> str:
    return value.isoformat()


def _apply_migrations(con: sqlite3.Connection, path: str) -> None:
    """Bring a memory database to ``SCHEMA_VERSION`` (inside the caller's transaction, if any)."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: memory schema version {version} is newer than this Tastebud "
            f"({SCHEMA_VERSION}); upgrade Tastebud to open it"
        )
    for number, statements in MIGRATIONS:
        if number <= version:
            continue
        for statement in statements:
            con.execute(statement)
        con.execute(f"PRAGMA user_version = {number}")


def _damage_named(method: Callable[..., Any]) -> Callable[..., Any]:
    """Damage found mid-use (pages the open-time check did not cover) raises ``StoreError`` naming the file."""

    @functools.wraps(method)
    def wrapper(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as err:
            if is_damage(err):
                raise damaged(self.path, f"damaged ({err})") from err
            raise

    return wrapper


class SQLiteStore:
    """Per-user memory rows in one SQLite file.

    Each thread gets its own connection; writes run in ``BEGIN IMMEDIATE``
    transactions with a busy timeout, so concurrent threads and processes
    serialise instead of failing or losing rows.

    Args:
        path: The database file (created with its folder), or ``":memory:"`` for tests
            that need no persistence (one shared connection then).
        timeout_s: How long a writer waits for the lock.
    """

    def __init__(self, path: str | Path, timeout_s: float = 30.0) -> None:
        self.path = str(path)
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._shared_lock = threading.RLock() if self.path == ":memory:" else None
        self._guard: FileLock | None = None
        if self.path != ":memory:":
            self.path = str(Path(self.path).expanduser())
            # Refuses a damaged, truncated or emptied file before SQLite could treat it as new.
            self._guard = open_checked(self.path, "memory", lambda con: _apply_migrations(con, self.path))
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # ---- connections ------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is not None:
            return con
        if self.path == ":memory:" and self._all:
            con = self._all[0]
        else:
            con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False)
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            con.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not left in free pages
            if self.path != ":memory:":
                mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: could not switch to WAL (journal_mode={mode})")
                con.execute("PRAGMA synchronous = NORMAL")
            with self._lock:
                self._all.append(con)
        self._local.con = con
        return con

    @contextmanager
    def _write(self, user_id: str | None = None) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error).

        Args:
            user_id: Whose rows it changes. SQLite has one writer at a time anyway; the
                PostgreSQL store (``memory.pg_store``) serialises writes per user with it.
        """
        con = self._connect()
        if self._shared_lock is not None:
            self._shared_lock.acquire()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                if con.in_transaction:  # a damaged file can end the transaction itself
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            if self._shared_lock is not None:
                self._shared_lock.release()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for several queries."""
        con = self._connect()
        if self._shared_lock is not None:
            self._shared_lock.acquire()
        try:
            con.execute("BEGIN")
            try:
                yield con
            finally:
                if con.in_transaction:
                    con.execute("COMMIT")
        finally:
            if self._shared_lock is not None:
                self._shared_lock.release()

    def writing(self, user_id: str | None = None) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction (holding the user's lock when given), for repositories of further tables
        in this store (``memory.feedback``)."""
        return self._write(user_id)

    def reading(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read transaction (one consistent snapshot), for repositories of further tables in this file."""
        return self._read()

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for con in self._all:
                try:
                    con.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
        if self._guard is not None:
            self._guard.release()

    def _migrate(self) -> None:
        try:
            with self._write() as con:
                _apply_migrations(con, self.path)
        except StoreError:
            raise
        except sqlite3.DatabaseError as err:
            raise damaged(self.path, f"not a usable memory database ({err})") from err

    def schema_version(self) -> int:
        """The schema version of the open file."""
        return int(self._connect().execute("PRAGMA user_version").fetchone()[0])

    # ---- audit ------------------------------------------------------------------------
    @staticmethod
    def _event(con: sqlite3.Connection, user_id: str, action: str, kind: str, ref_id: str, detail: str = "") -> None:
        con.execute(
            "INSERT INTO events (user_id, at, action, kind, ref_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, _ts(utcnow()), action, kind, ref_id, detail[:500]),
        )

    def events(self, user_id: str, limit: int = 100) -> list[dict[str, str]]:
        """The user's most recent memory changes, newest first."""
        rows = self._connect().execute(
            "SELECT at, action, kind, ref_id, detail FROM events WHERE user_id = ? ORDER BY seq DESC LIMIT ?",
            (check_user_id(user_id), limit),
        )
        return [dict(zip(("at", "action", "kind", "ref_id", "detail"), r)) for r in rows]

    # ---- instructions -------------------------------------------------------------------
    def apply_instructions(
        self,
        user_id: str,
        new: list[StandingInstruction],
        superseded: dict[str, str],
        vectors: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Insert new instructions and mark old ones superseded, in one transaction.

        Args:
            user_id: Owner.
            new: Instructions to insert (or replace, by id).
            superseded: Old instruction id -> id of the instruction replacing it.
            vectors: Instruction id -> vector of its scope/text (kind ``instruction``).
        """
        check_user_id(user_id)
        with self._write(user_id) as con:
            self._apply_instructions(con, user_id, new, superseded, vectors)

    def _apply_instructions(
        self,
        con: sqlite3.Connection,
        user_id: str,
        new: list[StandingInstruction],
        superseded: dict[str, str],
        vectors: dict[str, np.ndarray] | None,
    ) -> None:
        now = utcnow()
        for old_id, by in superseded.items():
            row = con.execute(
                "SELECT body FROM instructions WHERE user_id = ? AND id = ?", (user_id, old_id)
            ).fetchone()
            if row is None:
                continue
            old = StandingInstruction.model_validate_json(row[0])
            old = old.model_copy(update={"status": "superseded", "superseded_by": by, "updated_at": now})
            con.execute(
                "UPDATE instructions SET body = ?, status = 'superseded', updated_at = ? WHERE user_id = ? AND id = ?",
                (old.model_dump_json(), _ts(now), user_id, old_id),
            )
            self._event(con, user_id, "supersede", "instruction", old_id, f"by {by}")
        for si in new:
            con.execute(
                "INSERT OR REPLACE INTO instructions (user_id, id, body, status, scope_key, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user_id, si.id, si.model_dump_json(), si.status, si.scope_key, _ts(si.created_at), _ts(now)),
            )
            self._event(con, user_id, "add", "instruction", si.id, si.text)
        for ref_id, vec in (vectors or {}).items():
            self._put_vector(con, user_id, "instruction", ref_id, vec)

    def update_instructions(
        self,
        user_id: str,
        plan: Callable[
            [list[StandingInstruction]],
            tuple[list[StandingInstruction], dict[str, str], dict[str, np.ndarray]],
        ],
    ) -> tuple[list[StandingInstruction], dict[str, str]]:
        """Read the live instructions, plan changes and write them, all in one write transaction.

        Holding the write lock while planning means two sessions can never both
        add rules that contradict each other.

        Args:
            user_id: Owner.
            plan: ``plan(live) -> (new instructions, {old id: superseding id}, {id: vector})``.

        Returns:
            What was written: (new instructions, superseded map).
        """
        check_user_id(user_id)
        with self._write(user_id) as con:
            rows = con.execute(
                "SELECT body FROM instructions WHERE user_id = ? AND status = 'active' ORDER BY created_at, rowid",
                (user_id,),
            ).fetchall()
            live = [StandingInstruction.model_validate_json(r[0]) for r in rows]
            new, superseded, vectors = plan(live)
            self._apply_instructions(con, user_id, new, superseded, vectors)
        return new, superseded

    def instructions(self, user_id: str, status: str | None = "active") -> list[StandingInstruction]:
        """The user's instructions, oldest first (``status=None`` for all, history included)."""
        check_user_id(user_id)
        if status is None:
            rows = self._connect().execute(
                "SELECT body FROM instructions WHERE user_id = ? ORDER BY created_at, rowid", (user_id,)
            )
        else:
            rows = self._connect().execute(
                "SELECT body FROM instructions WHERE user_id = ? AND status = ? ORDER BY created_at, rowid",
                (user_id, status),
            )
        return [StandingInstruction.model_validate_json(r[0]) for r in rows]

    def instruction(self, user_id: str, instruction_id: str) -> StandingInstruction | None:
        """One instruction of this user, or None."""
        row = (
            self._connect()
            .execute(
                "SELECT body FROM instructions WHERE user_id = ? AND id = ?", (check_user_id(user_id), instruction_id)
            )
            .fetchone()
        )
        return StandingInstruction.model_validate_json(row[0]) if row else None

    def delete_instruction(self, user_id: str, instruction_id: str) -> bool:
        """Delete one instruction and its vector; True if it existed."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            n = con.execute("DELETE FROM instructions WHERE user_id = ? AND id = ?", (user_id, instruction_id)).rowcount
            con.execute(
                "DELETE FROM vectors WHERE user_id = ? AND kind = 'instruction' AND ref_id = ?",
                (user_id, instruction_id),
            )
            if n:
                self._event(con, user_id, "delete", "instruction", instruction_id)
        return n > 0

    # ---- inferred preferences -----------------------------------------------------------
    def put_preference(self, user_id: str, pref: InferredPreference, vector: np.ndarray | None = None) -> None:
        """Insert or replace a preference (and its context vector)."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            con.execute(
                "INSERT OR REPLACE INTO preferences (user_id, id, key, body, updated_at) VALUES (?, ?, ?, ?, ?)",
                (user_id, pref.id, pref.key, pref.model_dump_json(), _ts(pref.updated_at)),
            )
            if vector is not None:
                self._put_vector(con, user_id, "preference", pref.id, vector)
            self._event(con, user_id, "put", "preference", pref.id, pref.text)

    def put_preferences(self, user_id: str, prefs: list[InferredPreference]) -> None:
        """Replace several preferences in one transaction (vectors unchanged)."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            for pref in prefs:
                con.execute(
                    "INSERT OR REPLACE INTO preferences (user_id, id, key, body, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (user_id, pref.id, pref.key, pref.model_dump_json(), _ts(pref.updated_at)),
                )

    def preferences(self, user_id: str) -> list[InferredPreference]:
        """All of the user's inferred preferences, oldest first."""
        rows = self._connect().execute(
            "SELECT body FROM preferences WHERE user_id = ? ORDER BY rowid", (check_user_id(user_id),)
        )
        return [InferredPreference.model_validate_json(r[0]) for r in rows]

    def delete_preference(self, user_id: str, pref_id: str) -> bool:
        """Delete one preference and its vector; True if it existed."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            n = con.execute("DELETE FROM preferences WHERE user_id = ? AND id = ?", (user_id, pref_id)).rowcount
            con.execute(
                "DELETE FROM vectors WHERE user_id = ? AND kind = 'preference' AND ref_id = ?", (user_id, pref_id)
            )
            if n:
                self._event(con, user_id, "delete", "preference", pref_id)
        return n > 0

    # ---- interests --------------------------------------------------------------------
    def add_interests(
        self,
        user_id: str,
        deltas: list[tuple[str, str, float, str | None]],
        decay: Any,
        now: datetime,
        source: str = "",
    ) -> None:
        """Add signed deltas to interest edges atomically (decaying the stored weight to ``now`` first).

        Args:
            user_id: Owner.
            deltas: (entity, relation, delta, via item id or None).
            decay: ``decay(weight, updated_at, now) -> weight`` (the interest model's decay).
            now: Time of the update.
            source: What caused it (for the audit trail).
        """
        check_user_id(user_id)
        with self._write(user_id) as con:
            for entity, relation, delta, via in deltas:
                row = con.execute(
                    "SELECT weight, evidence, via, updated_at FROM interests WHERE user_id = ? AND entity = ?",
                    (user_id, entity),
                ).fetchone()
                if row is None:
                    weight, evidence, vias = 0.0, 0, []
                else:
                    weight = decay(row[0], datetime.fromisoformat(row[3]), now)
                    evidence, vias = row[1], json.loads(row[2])
                # Only liked items explain an interest: a rejected film must never be cited as its source.
                if via is not None and delta > 0:
                    vias = ([via] + [v for v in vias if v != via])[:5]
                elif via is not None:
                    vias = [v for v in vias if v != via]
                con.execute(
                    "INSERT OR REPLACE INTO interests (user_id, entity, relation, weight, evidence, via, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (user_id, entity, relation, weight + delta, evidence + 1, json.dumps(vias), _ts(now)),
                )
            if deltas and source:
                self._event(con, user_id, "update", "interests", source, f"{len(deltas)} edges")

    def interests(self, user_id: str) -> list[tuple[Interest, list[str]]]:
        """All interest edges of the user with the items they came through (stored weights, undecayed)."""
        rows = self._connect().execute(
            "SELECT entity, relation, weight, evidence, via, updated_at FROM interests WHERE user_id = ?",
            (check_user_id(user_id),),
        )
        return [
            (
                Interest(entity=e, relation=r, weight=w, evidence=n, updated_at=datetime.fromisoformat(t)),
                json.loads(v),
            )
            for e, r, w, n, v, t in rows
        ]

    def set_interest(self, user_id: str, entity: str, weight: float) -> bool:
        """Overwrite one interest weight (a user edit); True if it existed."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            n = con.execute(
                "UPDATE interests SET weight = ?, updated_at = ? WHERE user_id = ? AND entity = ?",
                (float(weight), _ts(utcnow()), user_id, entity),
            ).rowcount
            if n:
                self._event(con, user_id, "edit", "interest", entity, f"weight={weight}")
        return n > 0

    def put_interest(self, user_id: str, entity: str, relation: str, weight: float) -> None:
        """Create or overwrite one interest edge (a user or adapter write)."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            con.execute(
                "INSERT INTO interests (user_id, entity, relation, weight, evidence, via, updated_at) "
                "VALUES (?, ?, ?, ?, 1, '[]', ?) ON CONFLICT (user_id, entity) DO UPDATE SET "
                "relation = excluded.relation, weight = excluded.weight, updated_at = excluded.updated_at",
                (user_id, entity, relation, float(weight), _ts(utcnow())),
            )
            self._event(con, user_id, "put", "interest", entity, f"weight={weight}")

    def delete_interest(self, user_id: str, entity: str) -> bool:
        """Delete one interest edge; True if it existed."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            n = con.execute("DELETE FROM interests WHERE user_id = ? AND entity = ?", (user_id, entity)).rowcount
            if n:
                self._event(con, user_id, "delete", "interest", entity)
        return n > 0

    # ---- feedback log -------------------------------------------------------------------
    def add_feedback(self, user_id: str, event: FeedbackEvent) -> None:
        """Append a feedback event."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            con.execute(
                "INSERT OR REPLACE INTO feedback (user_id, id, body, created_at) VALUES (?, ?, ?, ?)",
                (user_id, event.id, event.model_dump_json(), _ts(event.created_at)),
            )

    def feedback(self, user_id: str) -> list[FeedbackEvent]:
        """The user's feedback events, oldest first."""
        rows = self._connect().execute(
            "SELECT body FROM feedback WHERE user_id = ? ORDER BY created_at, rowid", (check_user_id(user_id),)
        )
        return [FeedbackEvent.model_validate_json(r[0]) for r in rows]

    def delete_feedback(self, user_id: str, event_id: str) -> bool:
        """Delete one feedback event; True if it existed."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            n = con.execute("DELETE FROM feedback WHERE user_id = ? AND id = ?", (user_id, event_id)).rowcount
        return n > 0

    # ---- vectors -------------------------------------------------------------------------
    @staticmethod
    def _put_vector(con: sqlite3.Connection, user_id: str, kind: str, ref_id: str, vec: np.ndarray) -> None:
        blob = np.ascontiguousarray(vec, dtype=np.float32).tobytes()
        con.execute("DELETE FROM vectors WHERE user_id = ? AND kind = ? AND ref_id = ?", (user_id, kind, ref_id))
        con.execute(
            "INSERT INTO vectors (user_id, kind, ref_id, vec) VALUES (?, ?, ?, ?)", (user_id, kind, ref_id, blob)
        )

    def vector_version(self, user_id: str, kind: str) -> tuple[int, int]:
        """(count, newest sequence number) of a user's vectors of one kind: changes on every write."""
        row = (
            self._connect()
            .execute(
                "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM vectors WHERE user_id = ? AND kind = ?", (user_id, kind)
            )
            .fetchone()
        )
        return int(row[0]), int(row[1])

    def vectors(self, user_id: str, kind: str) -> tuple[list[str], np.ndarray, tuple[int, int]]:
        """(ref ids, (N, D) float32 matrix, version) of a user's vectors of one kind."""
        with self._read() as con:
            rows = con.execute(
                "SELECT ref_id, vec FROM vectors WHERE user_id = ? AND kind = ? ORDER BY seq", (user_id, kind)
            ).fetchall()
            version = con.execute(
                "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM vectors WHERE user_id = ? AND kind = ?", (user_id, kind)
            ).fetchone()
        if not rows:
            return [], np.zeros((0, 0), np.float32), (0, 0)
        matrix = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])
        return [r for r, _ in rows], matrix, (int(version[0]), int(version[1]))

    # ---- generic namespaced values (LangGraph BaseStore adapter) ----------------------------
    def kv_put(self, user_id: str, namespace: str, key: str, value: dict[str, Any] | None) -> None:
        """Insert, replace or (value None) delete a JSON value."""
        now = _ts(utcnow())
        with self._write(user_id) as con:
            if value is None:
                con.execute("DELETE FROM kv WHERE user_id = ? AND namespace = ? AND key = ?", (user_id, namespace, key))
                return
            con.execute(
                "INSERT INTO kv (user_id, namespace, key, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (user_id, namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (user_id, namespace, key, json.dumps(value), now, now),
            )

    def kv_get(self, user_id: str, namespace: str, key: str) -> tuple[dict[str, Any], str, str] | None:
        """(value, created_at, updated_at) or None."""
        row = (
            self._connect()
            .execute(
                "SELECT value, created_at, updated_at FROM kv WHERE user_id = ? AND namespace = ? AND key = ?",
                (user_id, namespace, key),
            )
            .fetchone()
        )
        return (json.loads(row[0]), row[1], row[2]) if row else None

    def kv_list(
        self, user_id: str | None, namespace_prefix: str
    ) -> list[tuple[str, str, str, dict[str, Any], str, str]]:
        """(user_id, namespace, key, value, created_at, updated_at) under a namespace prefix (one user, or all)."""
        like = namespace_prefix.replace("%", r"\%").replace("_", r"\_") + "%"
        if user_id is None:
            rows = self._connect().execute(
                "SELECT user_id, namespace, key, value, created_at, updated_at FROM kv WHERE namespace LIKE ? ESCAPE '\\'",
                (like,),
            )
        else:
            rows = self._connect().execute(
                "SELECT user_id, namespace, key, value, created_at, updated_at FROM kv "
                "WHERE user_id = ? AND namespace LIKE ? ESCAPE '\\'",
                (user_id, like),
            )
        return [(u, n, k, json.loads(v), c, t) for u, n, k, v, c, t in rows]

    # ---- users ---------------------------------------------------------------------------
    def users(self) -> list[str]:
        """Every user id with at least one row."""
        union = " UNION ".join(f"SELECT user_id FROM {t}" for t in USER_TABLES)
        return sorted(r[0] for r in self._connect().execute(union) if r[0])

    def row_counts(self, user_id: str) -> dict[str, int]:
        """Rows per table for this user (a forgotten user has all zeros)."""
        check_user_id(user_id)
        con = self._connect()
        return {
            t: con.execute(f"SELECT COUNT(*) FROM {t} WHERE user_id = ?", (user_id,)).fetchone()[0] for t in USER_TABLES
        }

    def forget(self, user_id: str) -> dict[str, int]:
        """Delete every row of this user in every table, in one transaction; rows deleted per table."""
        check_user_id(user_id)
        with self._write(user_id) as con:
            counts = {t: con.execute(f"DELETE FROM {t} WHERE user_id = ?", (user_id,)).rowcount for t in USER_TABLES}
        if self.path != ":memory:":
            # Move the deletions out of the WAL into the (securely overwritten) main file.
            self._connect().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return counts

    def vacuum(self) -> None:
        """Rewrite the file so deleted rows leave no bytes behind (and checkpoint the WAL)."""
        con = self._connect()
        if self._shared_lock is not None:
            self._shared_lock.acquire()
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.execute("VACUUM")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            if self._shared_lock is not None:
                self._shared_lock.release()


# Every public method, so no caller ever sees a bare driver error for a damaged file.
for _name, _method in list(vars(SQLiteStore).items()):
    if not _name.startswith("_") and inspect.isfunction(_method):
        setattr(SQLiteStore, _name, _damage_named(_method))
