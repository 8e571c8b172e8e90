"""The catalog's titles as normalised keys: exact lookups and the candidate spans of a message.

Keys follow ``memory.resolve.normalize_title`` (case, accents, punctuation and a leading article
ignored), and a title's bracketed alternative ("Seven (Se7en)") is a key too. Items sharing a
title and year are one film listed twice; a title with several years (remakes) stays ambiguous
until a year or the context decides.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from memory.resolve import normalize_title
from recsys.catalog import Catalog

_ALT = re.compile(r"^(.*?)\s*\(([^)]+)\)\s*$")
_WORD = re.compile(r"[\w'&]+(?:[-.:][\w'&]+)*")
_YEAR_AFTER = re.compile(r"^\s*[\(\[]?\s*((?:19|20)\d\d)\s*[\)\]]?")


@dataclass(frozen=True)
class Candidate:
    """A stretch of a message whose words are a catalog title.

    Attributes:
        start: First character.
        end: One past the last character (the year in brackets, when one follows, is included).
        key: The normalised title.
        items: Catalog indices with that title (one film, or remakes of one title).
        year: The year written right after the title, if any.
        words: Number of words of the title.
    """

    start: int
    end: int
    key: str
    items: tuple[int, ...]
    year: int | None
    words: int


class TitleIndex:
    """Normalised titles of one catalog.

    Args:
        catalog: The catalog.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @cached_property
    def keys(self) -> dict[str, tuple[int, ...]]:
        """Normalised title -> catalog indices, most popular first."""
        pop = self.catalog.popularity
        out: dict[str, list[int]] = defaultdict(list)
        for i, item in enumerate(self.catalog.items):
            names = [item.title]
            alt = _ALT.match(item.title)
            if alt:
                names += [alt.group(1), alt.group(2)]
            for name in names:
                key = normalize_title(name)
                if len(key) >= 2 and i not in out[key]:
                    out[key].append(i)
        order = (lambda i: -int(pop[i])) if len(pop) else (lambda i: i)
        return {k: tuple(sorted(v, key=order)) for k, v in out.items()}

    @cached_property
    def openings(self) -> frozenset[str]:
        """Normalised first words of longer titles ("star trek" of *Star Trek: First Contact*)."""
        return frozenset(" ".join(k.split()[:n]) for k in self.keys for n in range(1, len(k.split())))

    def holds(self, title: str, year: int | None = None) -> bool:
        """Whether the catalog has a film of this title, of about this year when one is given; without
        a year, films whose titles begin with it count too (a series: "Star Trek")."""
        key = normalize_title(title)
        years = [self.catalog.items[i].year for i in self.keys.get(key, ())]
        if year is not None:
            return any(y and abs(y - year) <= 1 for y in years)
        return bool(years) or key in self.openings

    @cached_property
    def max_words(self) -> int:
        """Words of the longest key."""
        return max((len(k.split()) for k in self.keys), default=1)

    @cached_property
    def log_popularity(self) -> np.ndarray:
        """log(1 + interactions) per catalog index, scaled to [0, 1]."""
        pop = np.log1p(np.asarray(self.catalog.popularity, np.float64))
        if not len(pop) or pop.max() <= 0:
            return np.zeros(len(self.catalog.items))
        return pop / pop.max()

    def films(self, items: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Group catalog indices into films: the same year means the same film listed twice."""
        by_year: dict[int | None, list[int]] = defaultdict(list)
        for i in items:
            by_year[self.catalog.items[i].year].append(i)
        return [tuple(v) for v in by_year.values()]

    def match(self, title: str, year: int | None = None, tolerance: int = 1) -> int | None:
        """The catalog index of a film named by title (and year, within ``tolerance``); None if absent or unclear."""
        items = self.keys.get(normalize_title(title), ())
        if year is not None:
            items = tuple(
                i for i in items if self.catalog.items[i].year and abs(self.catalog.items[i].year - year) <= tolerance
            )
        films = self.films(items)
        return films[0][0] if len(films) == 1 else None

    def candidates(self, text: str) -> list[Candidate]:
        """Every word span of ``text`` that is a catalog title (overlapping spans included)."""
        words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        out: list[Candidate] = []
        for i in range(len(words)):
            for n in range(1, min(self.max_words, len(words) - i) + 1):
                start, end = words[i][0], words[i + n - 1][1]
                key = normalize_title(text[start:end])
                items = self.keys.get(key)
                if not items:
                    continue
                year = None
                after = _YEAR_AFTER.match(text[end:])
                if after and (after.group(0).strip().startswith(("(", "[")) or n > 1):
                    year = int(after.group(1))
                    end += after.end()
                out.append(Candidate(start, end, key, items, year, n))
        return out
