"""Latent style preferences of simulated users, and the edits they make toward them (PRELUDE).

A simulated user holds a few styles ("short", "no exclamation marks", "mention the year",
"bullet points", "never reveal the plot") and rewrites every reply toward them, deterministically.
The word-level Levenshtein distance between the reply and the rewrite is the user's edit cost:
the PRELUDE metric, lower is better, 0 when the reply already suits the user. Each style's key is
the one ``memory.preferences.infer_from_edit`` infers from such an edit, so what memory learns
can be compared with what the user holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

from memory.preferences import PLOT

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_NUMBERED = re.compile(r"^(\s*)\d+[.)]\s+")
_LISTED = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
MAX_SHORT_WORDS = 10
"""Longest sentence a user who likes short replies keeps."""

Years = Mapping[str, int]
"""Title -> year of the films a reply names (from its list and items)."""


def _sentences(line: str) -> list[str]:
    return [s for s in _SENTENCE.split(line.strip()) if s]


def _is_agent_line(line: str) -> bool:
    return bool(_LISTED.match(line)) or line.lstrip().startswith("Options:")


def _map_prose(text: str, keep: Callable[[str, bool], str | None]) -> str:
    """Apply ``keep(sentence, first)`` to every sentence outside list and option lines; None drops it."""
    out, first = [], True
    for line in text.splitlines():
        if _is_agent_line(line):
            out.append(line)
            continue
        kept = []
        for sentence in _sentences(line):
            new = keep(sentence, first)
            first = False
            if new:
                kept.append(new)
        if kept:
            out.append(" ".join(kept))
    return "\n".join(out)


def short(text: str, years: Years) -> str:
    """Sentences over ``MAX_SHORT_WORDS`` words go (the reply's first one is cut instead); list reasons go."""

    def keep(sentence: str, first: bool) -> str | None:
        words = sentence.split()
        if len(words) <= MAX_SHORT_WORDS:
            return sentence
        return " ".join(words[:MAX_SHORT_WORDS]).rstrip(",;:") + "." if first else None

    lines = [line.split(" - ", 1)[0] if _LISTED.match(line) else line for line in text.splitlines()]
    return _map_prose("\n".join(lines), keep)


def plain(text: str, years: Years) -> str:
    """No exclamation marks and no emoji."""
    return _EMOJI.sub("", text.replace("!", ".")).replace(" .", ".").replace("..", ".")


def with_years(text: str, years: Years) -> str:
    """Every film the reply names is followed by its year."""
    for title, year in sorted(years.items(), key=lambda ty: -len(ty[0])):
        text = re.sub(rf"(?<!\w)({re.escape(title)})(?!\w)(?!\s*\((?:18|19|20)\d\d\))", rf"\1 ({year})", text)
    return text


def bullets(text: str, years: Years) -> str:
    """Lists as bullet points, not numbers."""
    return "\n".join(_NUMBERED.sub(r"\1- ", line) for line in text.splitlines())


def no_plot(text: str, years: Years) -> str:
    """Sentences that give away what happens go."""
    return _map_prose(text, lambda sentence, first: None if PLOT.search(sentence) else sentence)


@dataclass(frozen=True)
class Style:
    """One latent style preference.

    Attributes:
        key: The inferred-preference key an edit toward it teaches memory.
        text: The preference in words.
        edit: ``edit(text, years) -> text``: the user's deterministic rewrite toward it.
    """

    key: str
    text: str
    edit: Callable[[str, Years], str]

    def follows(self, text: str, years: Years) -> bool:
        """Whether a reply already suits this style (the user would not touch it)."""
        return self.edit(text, years) == text


# In the order a user applies them: what goes first, then how what is left is written.
STYLES: dict[str, Style] = {
    s.key: s
    for s in (
        Style("content:no-plot", "never reveal the plot", no_plot),
        Style("style:concise", "short replies", short),
        Style("tone:plain", "no exclamation marks or emoji", plain),
        Style("content:year", "mention each film's year", with_years),
        Style("format:bullets", "lists as bullet points", bullets),
    )
}


def edit(text: str, styles: Sequence[str], years: Years) -> str:
    """A reply rewritten toward some styles (keys of ``STYLES``), always in ``STYLES`` order."""
    unknown = set(styles) - set(STYLES)
    if unknown:
        raise ValueError(f"unknown styles {sorted(unknown)}; expected some of {list(STYLES)}")
    for key, style in STYLES.items():
        if key in styles:
            text = style.edit(text, years)
    return text


def edit_cost(before: str, after: str) -> int:
    """Word-level Levenshtein distance (insertions, deletions and substitutions of whitespace tokens)."""
    return int(Levenshtein.distance(before.split(), after.split()))


def draw_styles(rng: np.random.Generator, most: int = 3) -> tuple[str, ...]:
    """One to ``most`` distinct styles, in ``STYLES`` order."""
    keys = list(STYLES)
    n = 1 + int(rng.integers(min(most, len(keys))))
    chosen = set(rng.choice(len(keys), size=n, replace=False).tolist())
    return tuple(k for i, k in enumerate(keys) if i in chosen)
