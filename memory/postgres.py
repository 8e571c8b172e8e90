"""Connecting to the PostgreSQL database that holds Tastebud's memory and conversations.

Everything Tastebud keeps there lives in one schema, ``tastebud`` (``DROP SCHEMA tastebud CASCADE``
removes it all), so it cannot collide with an application's own tables in a shared database.
Processes coordinate through advisory locks keyed ``(LOCK_CLASS[...], hash)``: the schema set-up,
memory writes per user, and conversation turns. Imported only when a ``postgresql://`` URL is used.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from memory.health import StoreError

SCHEMA = "tastebud"
# The first key of every advisory lock Tastebud takes; the second is a hash of what it guards.
# Constants of their own, so an application sharing the database can keep out of their way.
LOCK_CLASS = {"setup": 0x7A57_EB00, "memory": 0x7A57_EB01, "turn": 0x7A57_EB02}


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return _with_password(url, "***")


def split_password(url: str) -> tuple[str, str | None]:
    """The URL without its password, and the password (for ``PGPASSWORD``: a command line is public)."""
    return _with_password(url, None), urlsplit(url).password


def _with_password(url: str, shown: str | None) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username if shown is None else f"{parts.username}:{shown}"
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def lock_key(kind: str, name: str) -> tuple[int, int]:
    """The two 32-bit keys of an advisory lock on ``name`` (a user id, a conversation key).

    Two names share a key once in 2**32: they then only wait for each other.
    """
    digest = int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()[:4], "big", signed=True)
    return LOCK_CLASS[kind], digest


def use_schema(conn: psycopg.Connection) -> None:
    """Point a connection at Tastebud's schema (a pool's ``configure`` hook, or after connecting)."""
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(SCHEMA)))


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    """An autocommit connection on Tastebud's schema.

    Raises:
        StoreError: The server cannot be reached or refuses the login (the message names the URL, no password).
    """
    try:
        conn = psycopg.connect(url, autocommit=True, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as err:
        raise unreachable(url, err) from err
    use_schema(conn)
    return conn


def unreachable(url: str, err: BaseException) -> StoreError:
    """The error for a database Tastebud cannot use: the URL (no password) and the driver's reason."""
    reason = " ".join(str(err).split())
    return StoreError(f"{redact(url)}: the PostgreSQL database cannot be used ({reason})")


@contextmanager
def setup_lock(url: str, timeout_s: float = 120.0) -> Iterator[None]:
    """Hold the set-up lock: one process at a time creates the schema and runs migrations.

    The lock is polled, not waited for in a statement: a waiting statement holds a snapshot,
    and the conversation tables' ``CREATE INDEX CONCURRENTLY`` in another process waits for
    every snapshot, which would deadlock the two.
    """
    conn = connect(url)
    try:
        deadline = time.monotonic() + timeout_s
        key = LOCK_CLASS["setup"], 0
        while not conn.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()[0]:  # type: ignore[index]
            if time.monotonic() > deadline:
                raise StoreError(f"{redact(url)}: another process has held the set-up lock for {timeout_s:.0f} s")
            time.sleep(0.05)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        yield
    finally:
        conn.close()  # ends the session, and the session's advisory lock with it
