"""``tastebud store check | backup | restore``: the way back from a damaged or emptied store.

The SQLite files of the data folder, or the PostgreSQL database of ``TASTEBUD_DATABASE_URL``
(``--database-url``) when one is configured (``memory.pg_health``: ``pg_dump``/``pg_restore``).

Kept apart from ``tastebud.cli`` so the command needs only a few lines there to be registered.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from memory.health import FILES, FileReport, StoreError, backup_file, check_file, restore_files

log = logging.getLogger("tastebud")


def add_store(sub: argparse._SubParsersAction) -> None:
    """Register ``store check``, ``store backup`` and ``store restore`` under a subparser set."""
    store = sub.add_parser("store", help="check, back up and restore the memory and conversation stores")
    actions = store.add_subparsers(dest="action", required=True)
    p = actions.add_parser("check", help="check both files (quick_check; --full: integrity_check)")
    p.add_argument("--full", action="store_true", help="PRAGMA integrity_check (slower, also checks indexes)")
    p.set_defaults(func=cmd_check)
    p = actions.add_parser("backup", help="copy both files into a folder with SQLite's online backup API")
    p.add_argument("dest", type=Path, help="the backup folder (created)")
    p.set_defaults(func=cmd_backup)
    p = actions.add_parser("restore", help="replace the files by those of a backup folder (Tastebud stopped)")
    p.add_argument("source", type=Path, help="a folder written by `tastebud store backup`")
    p.set_defaults(func=cmd_restore)
    for p in (actions.choices["check"], actions.choices["backup"], actions.choices["restore"]):
        p.add_argument("--data-dir", type=Path, help="the data folder (default: the cache's data folder)")
        p.add_argument("--json", action="store_true", help="one JSON object as the last line")
        p.add_argument(
            "--database-url",
            help="a postgresql:// URL: act on that database (default: TASTEBUD_DATABASE_URL; unset: the SQLite files)",
        )


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    from recsys.settings import Settings

    return Settings.from_env(cache_dir=getattr(args, "cache_dir", None)).data_dir


def _database_url(args: argparse.Namespace) -> str | None:
    if args.database_url is not None:
        from memory.backends import is_database_url

        if not is_database_url(args.database_url):
            raise StoreError(f"--database-url must be a postgresql:// URL, not {args.database_url!r}")
        return str(args.database_url)
    if args.data_dir is not None:  # a folder named outright means its files
        return None
    from recsys.settings import Settings

    return Settings.from_env(cache_dir=getattr(args, "cache_dir", None)).database_url


def _emit(args: argparse.Namespace, reports: list[FileReport], verb: str) -> None:
    for r in reports:
        state = "ok" if r.ok else f"PROBLEM: {r.problem}"
        if not r.exists:
            state = "absent (created empty when Tastebud first runs)"
        print(f"{verb} {r.kind}: {r.path} ({r.size} bytes, schema {r.schema_version}): {state}")  # noqa: T201
    if args.json:
        print(json.dumps({"files": [r.model_dump() for r in reports]}))  # noqa: T201


def cmd_check(args: argparse.Namespace) -> int:
    """Check both stores; exit status 2 when one has a problem."""
    url = _database_url(args)
    if url is not None:
        from memory.pg_health import check_database

        reports = check_database(url)
        where = "--database-url URL"
    else:
        folder = _data_dir(args)
        reports = [check_file(folder / name, kind, full=args.full) for kind, name in FILES.items()]
        where = f"--data-dir {folder}"
    _emit(args, reports, "checked")
    if not all(r.ok for r in reports):
        log.error("restore a backup with: tastebud store restore BACKUP_DIR %s", where)
        return 2
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up every file that exists (the online backup API: safe while Tastebud runs), or the database."""
    url = _database_url(args)
    if url is not None:
        from memory.pg_health import backup_database, check_database

        dump = backup_database(url, args.dest)
        _emit(args, check_database(url), f"backed up into {dump}:")
        return 0
    folder = _data_dir(args)
    present = [(kind, name) for kind, name in FILES.items() if (folder / name).exists()]
    if not present:
        raise StoreError(f"{folder}: no memory or conversation file to back up")
    reports = [backup_file(folder / name, args.dest / name) for _, name in present]
    _emit(args, reports, "backed up")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore every file the backup folder holds, or the database's dump; each is checked first."""
    url = _database_url(args)
    if url is not None:
        from memory.pg_health import DUMP_NAME, restore_database

        _emit(args, restore_database(args.source / DUMP_NAME, url), "restored")
        return 0
    folder = _data_dir(args)
    present = [name for name in FILES.values() if (args.source / name).exists()]
    if not present:
        raise StoreError(f"{args.source}: no {' or '.join(FILES.values())} to restore from")
    reports = restore_files([(args.source / name, folder / name) for name in present])
    _emit(args, reports, "restored")
    return 0
