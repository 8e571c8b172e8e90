"""Training and evaluation data of the understanding model.

Two sources, one ``Example`` type:

- **redial-dev** (``../shared/data/redial-dev/utterances.jsonl``, real seekers): split by dialogue
  into a *study* part (trained on) and a *measure* part (only ``benchmarks/understanding.py``
  reads it), joined with the labels in ``data/understanding/redial_labels.jsonl``. Study messages
  naming catalog films are also seen with the titles in lower case and without their year, the
  way people type them.
- **the written corpus** (``data/understanding/written_train.jsonl``): messages the team wrote for
  what real seekers rarely say (rules, memory control, accept/reject, out-of-domain...), with
  placeholders ({GENRE}, {TITLE}, {PERSON}, {DECADE}...) filled from ``fillers.json`` and the
  catalog, several times each with different values.

The recommenders' turns of the study part add real title mentions for the tagger alone
(``agent.understanding.recommender_turns``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from agent.understanding.labels import MessageLabel, NamedFilm, NamedPerson
from agent.understanding.titles import TitleIndex

REPO_DATA = Path(__file__).resolve().parents[2] / "data" / "understanding"
"""The repository's data folder (labels, written corpus, fillers, the frozen statement set)."""
REDIAL_SPLIT_SALT = "tastebud-redial-split-v1:"
_FILM_MENTION = re.compile(r"\(((?:18|19|20)\d\d)\)")
Part = Literal["study", "measure"]


def default_redial_path() -> Path:
    """Where redial-dev lives beside a checkout of the repository (``../shared/data/redial-dev``)."""
    return REPO_DATA.parents[2] / "shared" / "data" / "redial-dev" / "utterances.jsonl"


def redial_part(dialog_id: str) -> Part:
    """The part a dialogue belongs to: a fixed hash, so every run and every tool agree."""
    digest = hashlib.sha256((REDIAL_SPLIT_SALT + dialog_id).encode()).hexdigest()
    return "measure" if int(digest, 16) % 2 else "study"


@dataclass(frozen=True)
class RedialMessage:
    """One real seeker message of redial-dev."""

    id: str
    dialog_id: str
    turn_index: int
    text: str
    context: tuple[tuple[str, str], ...]
    utterance_movies: tuple[str, ...]
    target_ids: tuple[str, ...]
    named_movies: tuple[str, ...] = ()  # every film named in the dialogue so far and in the next turn
    response: str = ""  # the recommender's next turn

    @property
    def part(self) -> Part:
        """study or measure."""
        return redial_part(self.dialog_id)

    @property
    def prev(self) -> str:
        """What the recommender's last turn did: named a film (recommended), asked, or neither."""
        for role, text in reversed(self.context):
            if role == "recommender":
                if _FILM_MENTION.search(text):
                    return "recommended"
                return "asked" if text.rstrip().endswith("?") else "none"
        return "none"


def load_redial(path: Path) -> list[RedialMessage]:
    """Read redial-dev; a missing or malformed file is a clear error naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"redial-dev not found at {path} (see ../shared/README.md)")
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                row = json.loads(line)
                out.append(
                    RedialMessage(
                        id=row["id"],
                        dialog_id=str(row["dialog_id"]),
                        turn_index=int(row["turn_index"]),
                        text=row["utterance"],
                        context=tuple((c["role"], c["text"]) for c in row["context"]),
                        utterance_movies=tuple(row["utterance_movies"]),
                        target_ids=tuple(str(i) for i in row["target_ml100k_ids"]),
                        named_movies=tuple(row.get("mentioned_movies", ())) + tuple(row.get("target_movies", ())),
                        response=row.get("response", ""),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}, line {n}: not a redial-dev message ({exc})") from exc
    return out


def load_labels(path: Path) -> dict[str, MessageLabel]:
    """Labels by message id; a malformed line is an error naming the line."""
    out: dict[str, MessageLabel] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                label = MessageLabel.model_validate_json(line)
            except ValueError as exc:
                raise ValueError(f"{path}, line {n}: {exc}") from exc
            out[label.id] = label
    return out


@dataclass(frozen=True)
class Span:
    """A named film or person in an example's text.

    Attributes:
        start: First character.
        end: One past the last character.
        kind: ``TITLE`` or ``PERSON``.
        opinion: The speaker's opinion of it.
        item: For a title: the catalog index it names, or None when it is not in the catalog.
    """

    start: int
    end: int
    kind: Literal["TITLE", "PERSON"]
    opinion: str
    item: int | None = None


@dataclass(frozen=True)
class Example:
    """One message with its labels, ready for training or measurement."""

    id: str
    text: str
    prev: str
    label: MessageLabel
    spans: tuple[Span, ...] = field(default=())
    source: str = "redial"
    tags_only: bool = False  # only the title spans are labelled (a recommender's turn): train the tags alone


def locate(text: str, surface: str, taken: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The first occurrence of ``surface`` not overlapping a taken span (case-insensitive fallback)."""
    for haystack, needle in ((text, surface), (text.casefold(), surface.casefold())):
        start = haystack.find(needle)
        while start >= 0:
            end = start + len(needle)
            if not any(start < e and s < end for s, e in taken):
                return start, end
            start = haystack.find(needle, start + 1)
    return None


def catalog_film(titles: TitleIndex, title: str, year: int | None) -> int | None:
    """The catalog film a labelled title names, or None.

    A year-less label names the film only when the title has one film in the catalog. With a year,
    a title with a colon also names the catalog film of exactly that year titled by either side of
    the colon: the labels write titles as the seeker did ("Léon: The Professional", 1994), the
    catalog may keep one part (*The Professional*, 1994).
    """
    if not title:
        return None
    if year is None:
        return titles.match(title, None)
    item = titles.match(title, year)
    if item is None and ":" in title:
        for part in title.split(":", 1):
            item = titles.match(part, year, tolerance=0) if part.strip() else None
            if item is not None:
                break
    return item


def spans_of(text: str, label: MessageLabel, titles: TitleIndex) -> tuple[Span, ...]:
    """Locate a label's films and people in the text (and link films to the catalog by title and year)."""
    taken: list[tuple[int, int]] = []
    out: list[Span] = []
    for film in label.films:
        where = locate(text, film.surface, taken)
        if where is None:
            continue
        taken.append(where)
        item = catalog_film(titles, film.title or film.surface, film.year)
        out.append(Span(where[0], where[1], "TITLE", film.opinion, item))
    for person in label.people:
        where = locate(text, person.surface, taken)
        if where is not None:
            taken.append(where)
            out.append(Span(where[0], where[1], "PERSON", person.opinion))
    return tuple(sorted(out, key=lambda s: s.start))


def redial_examples(
    messages: Iterable[RedialMessage], labels: dict[str, MessageLabel], titles: TitleIndex, part: Part
) -> list[Example]:
    """Labelled messages of one part of redial-dev."""
    out = []
    for m in messages:
        if m.part != part or m.id not in labels:
            continue
        label = labels[m.id]
        out.append(Example(m.id, m.text, m.prev, label, spans_of(m.text, label, titles), "redial"))
    return out


def _rewrite(example: Example, edits: list[tuple[int, int, str]], source: str) -> Example:
    """Replace character ranges of the text (non-overlapping), moving spans and surfaces along."""
    text, spans = example.text, list(example.spans)
    films = list(example.label.films)
    for start, end, new in sorted(edits, reverse=True):
        old = text[start:end]
        text = text[:start] + new + text[end:]
        shift = len(new) - (end - start)
        moved = []
        for s in spans:
            if s.start == start and s.end == end:
                moved.append(replace(s, end=start + len(new)))
            elif s.start >= end:
                moved.append(replace(s, start=s.start + shift, end=s.end + shift))
            else:
                moved.append(s)
        spans = moved
        films = [f.model_copy(update={"surface": new}) if f.surface == old else f for f in films]
    label = example.label.model_copy(update={"films": films})
    return Example(f"{example.id}~{source}", text, example.prev, label, tuple(spans), source, example.tags_only)


def title_variants(example: Example, rewrite: Callable[[Span, str], bool] | None = None) -> list[Example]:
    """The same message with its titles written year-less, then also in lower case.

    ``rewrite(span, year_less_surface)`` says which titles are rewritten (default: those naming a
    catalog film); the others stay as written.
    """
    chosen = rewrite or (lambda span, _: span.item is not None)
    bare = []
    for s in example.spans:
        if s.kind != "TITLE":
            continue
        stripped = re.sub(r"\s*\((?:18|19|20)\d\d\)\s*$", "", example.text[s.start : s.end])
        if chosen(s, stripped):
            bare.append((s.start, s.end, stripped))
    if not bare:
        return []
    no_year = _rewrite(example, bare, "noyear")
    lower = _rewrite(example, [(s, e, t.casefold()) for s, e, t in bare], "lower")
    return [v for v in (no_year, lower) if v.text != example.text] or [lower]


# ---- the written corpus ---------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{(GENRES?2?|TITLE2?|NEWTITLE|PERSON|DECADE|YEAR)\}")


@dataclass(frozen=True)
class Fillers:
    """What fills the written corpus' placeholders."""

    genres: dict[str, dict[str, list[str]]]
    new_titles: list[tuple[str, int]]
    people: list[str]
    decades: dict[str, list[str]]

    @classmethod
    def load(cls, path: Path) -> Fillers:
        """Read ``fillers.json``."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(raw["genres"], [tuple(t) for t in raw["new_titles"]], raw["people"], raw["decades"])


def _render_title(title: str, year: int | None, rng: np.random.Generator) -> str:
    """A title as people type it: as is, with its year, quoted, or in lower case."""
    r = rng.random()
    if r < 0.3:
        return title
    if r < 0.55 and year:
        return f"{title} ({year})"
    if r < 0.65:
        return f'"{title}"'
    if r < 0.9:
        return title.casefold()
    return f"{title.casefold()} ({year})" if year else title.casefold()


def fill(
    row: dict, fillers: Fillers, titles: TitleIndex, rng: np.random.Generator, popular: np.ndarray, n: int
) -> Example:
    """One filled copy of a written row (``n`` numbers the copy)."""
    genres = list(fillers.genres)
    g1, g2 = rng.choice(len(genres), 2, replace=False)
    items = titles.catalog.items
    t1, t2 = (int(i) for i in rng.choice(popular, 2, replace=False))
    new = fillers.new_titles[int(rng.integers(len(fillers.new_titles)))]
    decade = list(fillers.decades)[int(rng.integers(len(fillers.decades)))]
    values: dict[str, str] = {
        "GENRE": rng.choice(fillers.genres[genres[g1]]["word"]),
        "GENRES": rng.choice(fillers.genres[genres[g1]]["plural"]),
        "GENRE2": rng.choice(fillers.genres[genres[g2]]["word"]),
        "GENRES2": rng.choice(fillers.genres[genres[g2]]["plural"]),
        "TITLE": _render_title(items[t1].title, items[t1].year, rng),
        "TITLE2": _render_title(items[t2].title, items[t2].year, rng),
        "NEWTITLE": _render_title(new[0], new[1], rng),
        "PERSON": fillers.people[int(rng.integers(len(fillers.people)))],
        "DECADE": rng.choice(fillers.decades[decade]),
        "YEAR": str(int(rng.integers(1930, 1999))),
    }
    if rng.random() < 0.3:
        values["PERSON"] = values["PERSON"].casefold()
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], row["text"])

    refs = {"{GENRE}": genres[g1], "{GENRES}": genres[g1], "{GENRE2}": genres[g2], "{GENRES2}": genres[g2]}

    def genre(value: str) -> str:
        return refs.get(value, value)

    label = dict(row)
    for key in ("text", "prev", "_line"):
        label.pop(key, None)
    label["genres_wanted"] = [genre(g) for g in row.get("genres_wanted", [])]
    label["genres_unwanted"] = [genre(g) for g in row.get("genres_unwanted", [])]
    if row.get("era") == "{DECADE}":
        label["era"] = decade
    item_of = {"{TITLE}": t1, "{TITLE2}": t2}
    films, film_items = [], []
    for f in row.get("films", []):
        surface = _PLACEHOLDER.sub(lambda m: values[m.group(1)], f["surface"])
        films.append(NamedFilm(surface=surface, opinion=f.get("opinion", "neutral")))
        film_items.append(item_of.get(f["surface"]))
    people = [
        NamedPerson(
            surface=_PLACEHOLDER.sub(lambda m: values[m.group(1)], p["surface"]), opinion=p.get("opinion", "neutral")
        )
        for p in row.get("people", [])
    ]
    label.update(films=films, people=people, id=f"written-{row['_line']}-{n}")
    parsed = MessageLabel.model_validate(label)
    spans = []
    taken: list[tuple[int, int]] = []
    for film, item in zip(films, film_items):
        where = locate(text, film.surface, taken)
        if where is not None:
            taken.append(where)
            spans.append(Span(where[0], where[1], "TITLE", film.opinion, item))
    for person in people:
        where = locate(text, person.surface, taken)
        if where is not None:
            taken.append(where)
            spans.append(Span(where[0], where[1], "PERSON", person.opinion))
    return Example(
        parsed.id, text, row.get("prev") or "none", parsed, tuple(sorted(spans, key=lambda s: s.start)), "written"
    )


def _genre_nouns(fillers: Fillers) -> dict[str, tuple[list[str], list[str]]]:
    """Per genre, the names that are nouns (singular, plural): what a swap replaces and puts in.

    Adjectives ("funny", "scary", "animated") reach a genre by meaning and are not swapped: another
    genre's noun in their place would not be English.
    """
    out = {}
    for genre, forms in fillers.genres.items():
        name = genre.casefold()
        singular = [w for w in forms["word"] if w in (name, name.replace("-", " "))] or [name]
        stems = {*singular, *(w + "s" for w in singular), *(w[:-1] + "ies" for w in singular if w.endswith("y"))}
        plural = [f for f in forms["plural"] if f in stems or f.split()[0] in stems] or singular
        out[genre] = (singular, plural)
    return out


def _genre_forms(fillers: Fillers) -> dict[str, re.Pattern[str]]:
    """Per genre, its noun names as written ("action", "action movies", "comedies")."""
    out = {}
    for genre, (singular, plural) in _genre_nouns(fillers).items():
        names = {*singular, *plural}
        alternation = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
        out[genre] = re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", re.I)
    return out


def genre_swapped(row: dict, fillers: Fillers, rng: np.random.Generator) -> dict | None:
    """The row with each genre it names outright swapped for another genre, labels to match; None if it can't be.

    Counterfactual augmentation: written rows name some genres mostly with liking (comedies) and
    others mostly with aversion (horror), and a model learns the genre as a cue of polarity
    ("nothing with action" read as wanting action). A copy with the names swapped keeps each phrasing's polarity
    and takes the genre's identity out of it. Rows with placeholders are filled at random already;
    a row whose labelled genre is not named outright ("something funny") is left as it is.
    """
    labelled = [*row.get("genres_wanted", []), *row.get("genres_unwanted", [])]
    if not labelled or _PLACEHOLDER.search(row["text"]) or len(set(labelled)) != len(labelled):
        return None
    forms, nouns = _genre_forms(fillers), _genre_nouns(fillers)
    hits = {g: list(forms[g].finditer(row["text"])) for g in labelled if g in forms}
    if len(hits) != len(labelled) or any(not h for h in hits.values()):
        return None
    named = {g for g, p in forms.items() if p.search(row["text"])}
    others = [g for g in fillers.genres if g not in named]
    if len(others) < len(labelled):
        return None
    new = dict(zip(labelled, (others[int(i)] for i in rng.choice(len(others), len(labelled), replace=False))))
    spans = sorted((m.start(), m.end(), g) for g, ms in hits.items() for m in ms)
    text, last = "", 0
    for start, end, g in spans:
        if start < last:
            return None
        plural = row["text"][start:end].casefold() in nouns[g][1]
        word = str(rng.choice(nouns[new[g]][1 if plural else 0]))
        before = row["text"][last:start]
        article = re.search(r"(?i)\b(an?) $", before)
        if article:  # "an animation movie" -> "a western movie"
            a = "an" if word[:1] in "aeiou" else "a"
            before = before[: article.start(1)] + (a.capitalize() if article.group(1)[0].isupper() else a) + " "
        text += before + word
        last = end
    text += row["text"][last:]
    swapped = dict(row, text=text)
    swapped["genres_wanted"] = [new[g] for g in row.get("genres_wanted", [])]
    swapped["genres_unwanted"] = [new[g] for g in row.get("genres_unwanted", [])]
    return swapped


def written_examples(
    path: Path, fillers: Fillers, titles: TitleIndex, seed: int, copies: int = 3, genre_swaps: int = 0
) -> list[Example]:
    """The written corpus: rows without placeholders once, rows with them ``copies`` times.

    ``genre_swaps`` adds that many copies of each row that names its genres outright, with the
    names swapped (``genre_swapped``).
    """
    rng = np.random.default_rng(seed)
    swap_rng = np.random.default_rng([seed, 1])
    pop = np.asarray(titles.catalog.popularity, np.float64)
    popular = np.argsort(-pop)[: max(50, len(pop) // 3)] if len(pop) else np.arange(len(titles.catalog.items))
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            row["_line"] = n
            k = copies if _PLACEHOLDER.search(row["text"]) else 1
            variants = [row] * k
            for _ in range(genre_swaps):
                swapped = genre_swapped(row, fillers, swap_rng)
                if swapped is None:
                    break
                variants.append(swapped)
            for c, variant in enumerate(variants):
                try:
                    out.append(fill(variant, fillers, titles, rng, popular, c))
                except ValueError as exc:
                    raise ValueError(f"{path}, line {n}: {exc}") from exc
    return out
