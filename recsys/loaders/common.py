"""Pieces every loader shares: typed field parsing with exact error locations, interaction columns."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from recsys.catalog import Interactions
from recsys.errors import CatalogFormatError
from recsys.schema import Item

_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An)(?P<tail> \(.*\))?$")


def display_title(title: str) -> str:
    """MovieLens writes "Usual Suspects, The"; people write "The Usual Suspects"."""
    m = _ARTICLE.match(title.strip())
    if not m:
        return title.strip()
    return f"{m['article']} {m['rest']}{m['tail'] or ''}"


def parse_int(text: str, path: str | Path, line: int, field: str) -> int:
    """An integer field, or a CatalogFormatError naming file, line and field."""
    try:
        return int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise CatalogFormatError(path, line, field, f"expected an integer, got {text[:40]!r}") from None
        if not value.is_integer():
            raise CatalogFormatError(path, line, field, f"expected an integer, got {text[:40]!r}") from None
        return int(value)


def parse_float(text: str, path: str | Path, line: int, field: str) -> float:
    """A finite float field, or a CatalogFormatError naming file, line and field."""
    try:
        value = float(text)
    except ValueError:
        raise CatalogFormatError(path, line, field, f"expected a number, got {text[:40]!r}") from None
    if not np.isfinite(value):
        raise CatalogFormatError(path, line, field, f"expected a finite number, got {text[:40]!r}")
    return value


class InteractionColumns:
    """Accumulates interactions row by row, checking each item id against the catalog."""

    def __init__(self, items: list[Item] | tuple[Item, ...]) -> None:
        self._item_index = {item.id: i for i, item in enumerate(items)}
        self._user_index: dict[str, int] = {}
        self._users: list[int] = []
        self._items: list[int] = []
        self._ratings: list[float] = []
        self._times: list[int] = []

    def add(self, user: str, item: str, rating: float, timestamp: int, path: str | Path, line: int) -> None:
        """Append one event; an unknown item id is an error at this file and line."""
        if not user:
            raise CatalogFormatError(path, line, "user", "empty user id")
        idx = self._item_index.get(item)
        if idx is None:
            raise CatalogFormatError(path, line, "item", f"item id {item[:40]!r} is not in the item file")
        self._users.append(self._user_index.setdefault(user, len(self._user_index)))
        self._items.append(idx)
        self._ratings.append(rating)
        self._times.append(timestamp)

    def build(self) -> Interactions:
        """The finished columns."""
        return Interactions(
            user_ids=tuple(self._user_index),
            users=np.asarray(self._users, np.int32),
            items=np.asarray(self._items, np.int32),
            ratings=np.asarray(self._ratings, np.float32),
            timestamps=np.asarray(self._times, np.int64),
        )


def check_unique_ids(items: list[Item], path: str | Path, lines: list[int]) -> None:
    """Fail on the first repeated item id, naming both lines."""
    seen: dict[str, int] = {}
    for item, line in zip(items, lines):
        if item.id in seen:
            raise CatalogFormatError(path, line, "id", f"item id {item.id!r} already defined on line {seen[item.id]}")
        seen[item.id] = line
