"""A throwaway PostgreSQL server for the tests and ``benchmarks/reliability.py``.

``initdb`` a cluster in a temporary folder, serve it on a unix socket in that folder (no TCP port
to collide with), and delete it all on ``stop``. PostgreSQL refuses to run as root, so under root
the server runs as an unprivileged account (``postgres`` where Debian's package created it, else
``nobody``). Durability is switched off (``fsync=off``): the data is thrown away anyway.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Debian and Ubuntu install the server binaries here, off PATH, one folder per major version.
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
SUPERUSER = "tastebud"


class NoServer(RuntimeError):
    """No PostgreSQL server binaries were found (or the throwaway server would not start)."""


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest, else None."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = sorted(Path("/").glob(DEBIAN_BINDIRS.lstrip("/")), key=lambda p: _major(p.parent.name))
    found = [p for p in candidates if (p / "initdb").is_file() and (p / "pg_ctl").is_file()]
    return found[-1] if found else None


def _major(name: str) -> int:
    return int(name) if name.isdigit() else -1


def _account() -> pwd.struct_passwd | None:
    """The unprivileged account the server runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise NoServer("running as root and no unprivileged account (postgres, nobody) to run PostgreSQL as")


class TempServer:
    """One throwaway PostgreSQL cluster; a context manager (``with TempServer() as server``).

    Args:
        bindir: Folder of the server binaries (default: ``find_bindir()``).

    Raises:
        NoServer: No binaries found, or ``initdb``/``pg_ctl`` failed (the message has their output).
    """

    def __init__(self, bindir: Path | None = None) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise NoServer(f"no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in {DEBIAN_BINDIRS}")
        self.bindir = found
        self.folder: Path | None = None
        self._account = _account()

    @property
    def url(self) -> str:
        """The server's admin database as a URL (the unix socket folder is the host)."""
        assert self.folder is not None, "the server is not started"
        return f"postgresql://{SUPERUSER}@/postgres?host={self.folder}"

    def _run(self, *args: str) -> None:
        account = self._account
        done = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
            env={**os.environ, "LC_ALL": "C"},
            cwd=self.folder,
            timeout=120,
        )
        if done.returncode != 0:
            raise NoServer(f"{args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def start(self) -> TempServer:
        """Create the cluster and start the server; returns self."""
        # A short path: a unix socket path must stay under ~100 bytes.
        self.folder = Path(tempfile.mkdtemp(prefix="tastebud-pg-"))
        if self._account is not None:
            os.chown(self.folder, self._account.pw_uid, self._account.pw_gid)
        data = self.folder / "data"
        try:
            self._run("initdb", "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync")
            options = f"-c listen_addresses='' -k {self.folder} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.folder / "server.log"), "-w", "start")
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
            raise
        return self

    def stop(self) -> None:
        """Stop the server and delete the cluster (a no-op when not started)."""
        if self.folder is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> TempServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_database(admin_url: str, prefix: str = "tastebud") -> str:
    """Create a fresh, empty database on a server; returns its URL (``drop_database`` removes it).

    Args:
        admin_url: A ``postgresql://`` URL of the server whose user may ``CREATE DATABASE``.
        prefix: Start of the new database's name.
    """
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # Copying the template's files is ~4x faster than WAL-logging them (PostgreSQL 15's default).
        strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
        conn.execute(sql.SQL("CREATE DATABASE {}" + strategy).format(sql.Identifier(name)))
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def drop_database(url: str, admin_url: str) -> None:
    """Drop a database ``create_database`` made, closing whatever is still connected to it."""
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
