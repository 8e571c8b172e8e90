"""Health of a PostgreSQL deployment: check the ``tastebud`` schema, back it up and restore it.

The counterpart of ``memory.health`` for ``TASTEBUD_DATABASE_URL``. A backup is PostgreSQL's own
tool, ``pg_dump`` of the ``tastebud`` schema alone in its custom format (consistent while Tastebud
runs: one snapshot); a restore is ``pg_restore --clean --single-transaction``, so it replaces the
schema whole or leaves it as it was. The dump is read back (``pg_restore --list``) before a
restore touches the database, and after a backup is written. Imported only when a
``postgresql://`` URL is used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from psycopg import sql

from memory.health import EXPECTED_TABLES, FileReport, Kind, StoreError
from memory.postgres import SCHEMA, connect, redact, split_password
from memory.store import SCHEMA_VERSION

DUMP_NAME = "tastebud.pgdump"
# The LangGraph checkpointer's own tables (its migrations name the checkpoints and writes).
_PG_TABLES: dict[Kind, frozenset[str]] = {
    "memory": EXPECTED_TABLES["memory"] | {"memory_schema"},
    "conversations": frozenset({"checkpoints", "checkpoint_writes", "checkpoint_blobs"}),
}


def check_database(url: str) -> list[FileReport]:
    """One report per store kind: whether the schema's tables are there and the memory schema is known.

    A database without the ``tastebud`` schema is reported absent and fine: Tastebud creates it.

    Raises:
        StoreError: The server cannot be reached or refuses the login.
    """
    where = redact(url)
    conn = connect(url)
    try:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (SCHEMA,),
        ).fetchall()
        sizes = {name: int(size) for name, size in rows}
        version = None
        if "memory_schema" in sizes:
            row = conn.execute(
                sql.SQL("SELECT version FROM {}.memory_schema").format(sql.Identifier(SCHEMA))
            ).fetchone()
            version = int(row[0]) if row else 0
    finally:
        conn.close()
    reports = []
    for kind, tables in _PG_TABLES.items():
        present = tables & sizes.keys()
        problem = None
        if present and present != tables:
            problem = f"tables missing from schema {SCHEMA}: {sorted(tables - present)}"
        elif kind == "memory" and version is not None and version > SCHEMA_VERSION:
            problem = f"memory schema version {version} is newer than this Tastebud ({SCHEMA_VERSION})"
        reports.append(
            FileReport(
                kind=kind,
                path=where,
                exists=bool(present),
                size=sum(sizes[t] for t in present),
                ok=problem is None,
                problem=problem,
                schema_version=version if kind == "memory" else 0,
            )
        )
    return reports


def _tool(name: str) -> str:
    """The path of a PostgreSQL client program (on PATH, else Debian's server folder)."""
    found = shutil.which(name)
    if found:
        return found
    from memory.pg_testing import find_bindir

    bindir = find_bindir()
    if bindir is not None and (bindir / name).is_file():
        return str(bindir / name)
    raise StoreError(f"{name} not found: install the PostgreSQL client programs (apt-get install postgresql-client)")


def _without_password(url: str) -> tuple[str, dict[str, str]]:
    """The URL for a client program's command line, and its environment holding the password."""
    bare, password = split_password(url)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    return bare, env


def _run(args: list[str], what: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a client program, connected to ``url`` when one is given (its password goes by environment)."""
    env = None
    if url is not None:
        bare, env = _without_password(url)
        args = [*args, f"--dbname={bare}"]
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        reason = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise StoreError(f"{what} failed: {reason}")
    return done


def _readable(dump: Path) -> None:
    """Raise unless ``dump`` is a custom-format dump holding the ``tastebud`` schema."""
    if not dump.is_file():
        raise StoreError(f"{dump}: no such dump file")
    listing = _run([_tool("pg_restore"), "--list", str(dump)], f"{dump}: reading the dump").stdout
    if f"SCHEMA - {SCHEMA} " not in listing:
        raise StoreError(f"{dump}: not a dump of Tastebud's schema {SCHEMA!r}")


def backup_database(url: str, folder: Path) -> Path:
    """``pg_dump`` the ``tastebud`` schema into ``folder/tastebud.pgdump`` and read it back.

    Raises:
        StoreError: The database holds no Tastebud schema, ``pg_dump`` fails, or the dump does not read back.
    """
    if not any(r.exists for r in check_database(url)):
        raise StoreError(f"{redact(url)}: no Tastebud schema to back up")
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / DUMP_NAME
    partial = dump.with_suffix(".partial")
    args = [_tool("pg_dump"), "--format=custom", f"--schema={SCHEMA}", f"--file={partial}"]
    try:
        _run(args, f"pg_dump of {redact(url)}", url)
        _readable(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(dump)  # an earlier backup is replaced only by a complete one
    return dump


def restore_database(dump: Path, url: str) -> list[FileReport]:
    """Replace the ``tastebud`` schema by the dump's, in one transaction; the checked schema after.

    Stop every Tastebud process using the database first: their connections hold locks the
    restore would wait for.

    Raises:
        StoreError: The dump is missing or unreadable (the database is untouched), or the restore
            fails (the transaction is rolled back: the schema stays as it was).
    """
    _readable(dump)
    args = [_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction", "--no-owner", str(dump)]
    _run(args, f"restoring {dump} into {redact(url)}", url)
    return check_database(url)
