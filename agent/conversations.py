"""Where conversations live: the checked SQLite checkpointer, and one turn at a time per conversation.

A turn reads the conversation's last checkpoint, runs the graph, and writes the next one. Two
turns of one conversation running at once both start from the same checkpoint and one of them
is lost from the history (a tester saw 76 of 320 turns vanish with two worker processes). So
each turn holds a lock for its conversation: a thread lock inside the process and, when the
conversations live in a data folder, an ``flock`` on a lock file every process shares. With a
``postgresql://`` URL the conversations live in that database instead (``agent.pg_conversations``).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from langgraph.checkpoint.sqlite import SqliteSaver

from memory.filelock import FileLock
from memory.health import FILES, damaged, is_damage, open_checked

# Conversations hash onto this many lock files: bounded files on disk for any number of
# conversations, and two conversations share a file (and wait for each other) once in 4096.
LOCK_STRIPES = 4096


class TurnLocks:
    """One turn at a time per conversation, across threads and (with a folder) across processes.

    Args:
        folder: Where the lock files go; None for one process only (in-memory conversations).
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _thread_lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def lock_file(self, key: str) -> Path | None:
        """The lock file a conversation key maps to (None without a folder)."""
        if self.folder is None:
            return None
        stripe = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") % LOCK_STRIPES
        return self.folder / f"{stripe:04d}.lock"

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold the conversation's locks for the duration of one turn."""
        with self._thread_lock(key):
            path = self.lock_file(key)
            if path is None:
                yield
                return
            with FileLock(path):  # a fresh handle per turn: flock then also excludes other threads' handles
                yield


class Conversations:
    """The conversation checkpointer of a data folder, checked when it opens.

    Args:
        data_dir: The data folder; the file is ``conversations.sqlite`` in it and the turn locks
            are under ``locks/``.
        timeout_s: How long a write waits for another process's write.

    Raises:
        memory.health.StoreError: The file is damaged, truncated or empty (the message names it and the fix).
    """

    def __init__(self, data_dir: Path, timeout_s: float = 30.0) -> None:
        self.path = Path(data_dir) / FILES["conversations"]
        self._guard = open_checked(self.path, "conversations", lambda con: SqliteSaver(con).setup())
        try:
            conn = sqlite3.connect(self.path, timeout=timeout_s, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as err:
            self._guard.release()
            raise damaged(self.path, f"damaged ({err})") from err
        self.saver = SqliteSaver(conn)
        self.locks = TurnLocks(Path(data_dir) / "locks")

    @contextmanager
    def damage_named(self) -> Iterator[None]:
        """Damage found mid-turn surfaces as a ``StoreError`` naming this file, not a bare driver error."""
        try:
            yield
        except sqlite3.DatabaseError as err:
            if is_damage(err):
                raise damaged(self.path, f"damaged ({err})") from err
            raise

    def close(self) -> None:
        """Close the connection and let a restore replace the file."""
        self.saver.conn.close()
        self._guard.release()


class ConversationStore(Protocol):
    """What the agent needs of where conversations live (``Conversations``, ``PostgresConversations``)."""

    saver: Any
    locks: TurnLocks

    def damage_named(self) -> AbstractContextManager[None]:
        """Turn a store failure mid-turn into a ``StoreError`` naming the store."""
        ...

    def close(self) -> None:
        """Close the connections."""
        ...


def open_conversations(data_dir: Path, database_url: str | None = None) -> ConversationStore:
    """The conversations of a data folder (SQLite), or of a PostgreSQL database when a URL is given.

    Raises:
        memory.health.StoreError: The file is damaged or empty, or the database cannot be used.
    """
    if database_url:
        from agent.pg_conversations import PostgresConversations

        return PostgresConversations(database_url)
    return Conversations(data_dir)
