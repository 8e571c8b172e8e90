"""Title mentions in the recommenders' turns of redial-dev: more real text for the title tagger.

ReDial's crowd workers named films through a picker that wrote "Title (Year)", and redial-dev
lists every film named in a dialogue, so the titles in the *recommenders'* turns can be located
without labelling by hand. These turns are real people's text about films (1,245 turns with 1,652
titles in the study part, 296 of them in the catalog), and many
name films outside the catalog ("Maid in Manhattan (2002)"), which teaches the tagger that a
catalog title inside a longer title ("Manhattan") is a fragment.

Nothing else about these turns is labelled (intent, preferences, opinions), so they train the title
tags alone (``Example.tags_only``), and a capitalised word outside the located titles is left
unlabelled rather than called "not a name": a recommender may name an actor, or a film typed
without the picker.

``tastebud train understanding --recommender-turns`` trains with them. The shipped model does not:
measured once, they raised the tagger's development F1 but not title-linking precision on the
measure part, and fewer statements were stored right (EVALUATION.md section 6).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.understanding.corpus import Example, Part, RedialMessage, Span, catalog_film, locate, title_variants
from agent.understanding.labels import MessageLabel
from agent.understanding.titles import TitleIndex
from memory.resolve import normalize_title

_NAME = re.compile(r"^(?P<title>.*\S)\s*\((?P<year>(?:18|19|20)\d\d)\)$")
_CAPITALISED = re.compile(r"\b[A-Z][\w'&]*")


def recommender_texts(messages: Iterable[RedialMessage], part: Part) -> dict[str, tuple[list[str], set[str]]]:
    """Per dialogue of ``part``: its recommenders' turns in order (each once) and every film it names."""
    out: dict[str, tuple[list[str], set[str]]] = {}
    for m in sorted(messages, key=lambda m: (int(m.dialog_id), m.turn_index)):
        if m.part != part:
            continue
        turns, names = out.setdefault(m.dialog_id, ([], set()))
        names.update(m.named_movies)
        for text in [t for role, t in m.context if role == "recommender"] + [m.response]:
            if text.strip() and text not in turns:
                turns.append(text)
    return out


def title_spans(text: str, names: Iterable[str], titles: TitleIndex) -> list[Span]:
    """Where the dialogue's film names ("Title (Year)") occur in a text, longest first, never overlapping."""
    taken: list[tuple[int, int]] = []
    out: list[Span] = []
    for name in sorted(set(names), key=len, reverse=True):
        parsed = _NAME.match(name.strip())
        if parsed is None:
            continue
        item = catalog_film(titles, parsed["title"], int(parsed["year"]))
        while (where := locate(text, name, taken)) is not None:
            taken.append(where)
            out.append(Span(where[0], where[1], "TITLE", "neutral", item))
    return sorted(out, key=lambda s: s.start)


def unlabelled_ranges(example: Example) -> list[tuple[int, int]]:
    """Character ranges of capitalised words outside the example's titles ("I" aside): names, maybe."""
    out = []
    for m in _CAPITALISED.finditer(example.text):
        inside = any(s.start <= m.start() and m.end() <= s.end for s in example.spans)
        if not inside and m.group() != "I":
            out.append((m.start(), m.end()))
    return out


def recommender_examples(messages: Iterable[RedialMessage], titles: TitleIndex, part: Part) -> list[Example]:
    """The recommenders' turns of ``part`` that name films, as tag-only examples.

    Ids follow the seeker messages' (``redial-valid-<dialogue>-r<k>``), so the development split
    and the cross-fitting folds keep a dialogue's turns together.
    """
    out = []
    for dialog, (turns, names) in recommender_texts(messages, part).items():
        for k, text in enumerate(turns):
            spans = title_spans(text, names, titles)
            if not spans:
                continue
            ident = f"redial-valid-{dialog}-r{k}"
            # The label is required by the type but unused: tags_only rows train the title tags alone.
            label = MessageLabel(id=ident, intent="chitchat", note="recommender turn: title spans only")
            out.append(Example(ident, text, "none", label, tuple(spans), "recommender", tags_only=True))
    return out


def recommender_variants(example: Example, titles: TitleIndex) -> list[Example]:
    """A turn with its titles year-less, then also in lower case ("maid in manhattan").

    Titles outside the catalog are rewritten too, so a catalog title inside one is seen as a fragment
    without the year's help, except those whose words are a catalog title ("Jumanji (2017)"): without
    the year they would read as the catalog film, so they keep it.
    """
    return title_variants(example, lambda span, bare: span.item is not None or normalize_title(bare) not in titles.keys)
