"""Errors raised by the catalog, asset and training layers."""

from __future__ import annotations

from pathlib import Path


class CatalogFormatError(ValueError):
    """A catalog file is malformed.

    The message always names the file, the 1-based line and the field, so a user
    can open the file and fix the exact spot.
    """

    def __init__(self, path: str | Path, line: int | None, field: str | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        where = self.path if line is None else f"{self.path}, line {line}"
        if field:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")


class AssetError(RuntimeError):
    """An embedded asset is missing or corrupt and could not be obtained.

    The message ends with the exact command(s) a user can run to fix it.
    """


class CheckpointError(ValueError):
    """A training checkpoint cannot be resumed: unreadable, incomplete, or written for another model.

    The message names the file and says what to do (delete it, or resume with the run's own settings).
    """
