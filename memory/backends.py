"""Which store holds the memory: a SQLite file (the embedded default) or a PostgreSQL database.

The PostgreSQL modules (and psycopg) are imported only when a ``postgresql://`` URL is given.
"""

from __future__ import annotations

from pathlib import Path

from memory.store import SQLiteStore

URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: object) -> bool:
    """Whether ``location`` is a PostgreSQL URL rather than a file path."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def open_store(location: str | Path) -> SQLiteStore:
    """Open the memory store at a file path or a ``postgresql://`` URL (same methods either way).

    Raises:
        memory.health.StoreError: The file is damaged or empty, or the database cannot be used
            (the message names which, and what to do).
    """
    if is_database_url(location):
        from memory.pg_store import PostgresStore

        return PostgresStore(str(location))
    return SQLiteStore(location)
