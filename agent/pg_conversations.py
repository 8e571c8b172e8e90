"""Conversations in PostgreSQL: LangGraph's Postgres checkpointer, one turn at a time per conversation.

Worker processes on one host or many share the database, so the turn lock of
``agent.conversations`` (a thread lock plus an ``flock``) becomes a thread lock plus a
PostgreSQL advisory lock on the conversation key: a second worker's turn of the same
conversation waits until the first one's checkpoint is written, and the server drops the
lock when a worker's connection dies. Imported only when a ``postgresql://`` URL is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from agent.conversations import TurnLocks
from memory.postgres import lock_key, redact, setup_lock, unreachable, use_schema

# Connections per worker process: the checkpointer's statements, plus one held by each turn
# running at once (it holds the turn's advisory lock). Turns beyond this wait for a connection.
POOL_SIZE = 16


class AdvisoryTurnLocks(TurnLocks):
    """One turn at a time per conversation: a thread lock, then an advisory lock in the database.

    Args:
        pool: Connections to the database; each held lock keeps one for the turn.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        super().__init__(None)
        self.pool = pool

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold the conversation's locks for the duration of one turn."""
        # Threads of this process queue on the thread lock, so they wait without taking a connection.
        with self._thread_lock(key), self.pool.connection() as conn:
            lock = lock_key("turn", key)
            conn.execute("SELECT pg_advisory_lock(%s, %s)", lock)
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock)


class PostgresConversations:
    """The conversation checkpointer in a PostgreSQL database (the same interface as ``Conversations``).

    Args:
        url: A ``postgresql://`` URL; the checkpoint tables go into the ``tastebud`` schema.

    Raises:
        memory.health.StoreError: The database cannot be reached (the message names it, no password).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = redact(url)
        kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        self.pool = ConnectionPool(
            url, min_size=1, max_size=POOL_SIZE, kwargs=kwargs, configure=use_schema, open=False, name="tastebud"
        )
        try:
            with setup_lock(url):  # connects first: an unreachable server fails at once, not after the pool's wait
                self.pool.open(wait=True, timeout=30.0)
                self.saver = PostgresSaver(self.pool)  # type: ignore[arg-type]
                self.saver.setup()
        except psycopg.OperationalError as err:
            self.pool.close()
            raise unreachable(url, err) from err
        except BaseException:
            self.pool.close()
            raise
        self.locks = AdvisoryTurnLocks(self.pool)

    @contextmanager
    def damage_named(self) -> Iterator[None]:
        """A lost or refused connection mid-turn surfaces as a ``StoreError`` naming the database."""
        try:
            yield
        except psycopg.OperationalError as err:
            raise unreachable(self.url, err) from err

    def close(self) -> None:
        """Close the connections."""
        self.pool.close()
