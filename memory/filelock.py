"""Advisory file locks (``flock``) that coordinate Tastebud processes sharing one data folder.

SQLite serialises single writes across processes, but not a read-modify-write that spans
several statements (a conversation turn reads its checkpoint, thinks, then writes the next
one), and not a restore that replaces a file under a running process. These locks do.
The kernel drops them when a process dies, so a SIGKILL never leaves a folder locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class LockBusy(RuntimeError):
    """A non-blocking lock is held by another process (or another handle in this one)."""


class FileLock:
    """A shared or exclusive lock on one lock file, created on first use.

    Two handles on the same file conflict even inside one process (``flock`` locks belong
    to the open file description), so threads may use separate handles safely.

    Args:
        path: The lock file (its folder is created).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, *, shared: bool = False, blocking: bool = True) -> FileLock:
        """Take (or convert to) a shared or exclusive lock.

        Raises:
            LockBusy: ``blocking=False`` and another holder is in the way.
        """
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(self._fd, flags)
        except BlockingIOError as err:
            raise LockBusy(f"{self.path} is locked by another process") from err
        return self

    def release(self) -> None:
        """Drop the lock and close the handle (a no-op when not held)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()
