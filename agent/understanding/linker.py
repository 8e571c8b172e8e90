"""Entity linking: which catalog titles a message really names.

Every word span whose normalised words are a catalog title is a candidate ("Black Panther"
holds the title *Panther*; "my family" is the title *My Family*). A logistic model trained on
labelled messages scores each candidate from evidence in context: the tagger's belief that the
span is a title (and not a person, and not a fragment of a longer title), capitalisation,
quotes, a year in brackets and whether it fits, the whole message being the title, popularity,
and whether the film came up earlier in the conversation. The best non-overlapping candidates
above the threshold are linked. A title shared by several films (remakes) with no year to tell
them apart is reported as ambiguous and not linked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.understanding.titles import Candidate, TitleIndex

FEATURES: tuple[str, ...] = (
    "bias",
    "one_word",
    "words",
    "whole_message",
    "capitalised",
    "message_lower",
    "quoted",
    "year_given",
    "year_fits",
    "year_wrong",
    "title_tag",
    "title_begins",
    "title_continues",
    "person_tag",
    "title_left",
    "title_right",
    "capital_neighbour",
    "popularity",
    "said_before",
    "sentence_start",
    "several_films",
    "pieces_per_word",
    "title_follows",
    "title_tag_uncapitalised",
)
_QUOTES = "\"'“”‘’"
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n)$")
_TITLE_NEXT = re.compile(r"^\s*(?:,|&|and\b|or\b|\+)\s*", re.I)


@dataclass(frozen=True)
class Link:
    """A linked or ambiguous title mention.

    Attributes:
        start: First character.
        end: One past the last character.
        items: Catalog indices meant: one film (possibly listed twice) when linked, several when ambiguous.
        score: The linker's probability.
        ambiguous: True when the title names several films and nothing tells which.
    """

    start: int
    end: int
    items: tuple[int, ...]
    score: float
    ambiguous: bool = False


def _capitalised(word: str) -> bool:
    return word[:1].isupper() or word[:1].isdigit()


def candidate_features(
    text: str,
    cand: Candidate,
    titles: TitleIndex,
    tag_probs: np.ndarray,
    span_tokens: np.ndarray,
    said_before: set[int],
    following: Sequence[Candidate] = (),
) -> np.ndarray:
    """The feature vector of one candidate (order of ``FEATURES``).

    Args:
        text: The message.
        cand: The candidate span.
        titles: The catalog's title index.
        tag_probs: (T, 5) tag probabilities of the message (O, B-TITLE, I-TITLE, B-PERSON, I-PERSON).
        span_tokens: (T,) 0/1 mask of the candidate's tokens.
        said_before: Catalog indices named earlier in the conversation.
        following: Candidates starting right after this one (a list of titles: "Tommy Boy and Fargo").
    """
    surface = text[cand.start : cand.end]
    words = re.findall(r"[\w'&]+", surface)
    title_words = words[: cand.words] or words
    inside = span_tokens > 0
    idx = np.flatnonzero(inside)
    title_tag = float((tag_probs[inside, 1] + tag_probs[inside, 2]).mean()) if idx.size else 0.0
    title_begins = float(tag_probs[idx[0], 1]) if idx.size else 0.0
    title_continues = float(tag_probs[idx[0], 2]) if idx.size else 0.0
    person_tag = float((tag_probs[inside, 3] + tag_probs[inside, 4]).mean()) if idx.size else 0.0
    left = float(tag_probs[idx[0] - 1, 1] + tag_probs[idx[0] - 1, 2]) if idx.size and idx[0] > 1 else 0.0
    right_i = idx[-1] + 1 if idx.size else 0
    # A title continuing past the candidate ("Star Wars" in "Star Wars: Episode VIII") makes it a fragment.
    right = float(tag_probs[right_i, 2]) if idx.size and right_i < len(tag_probs) and cand.year is None else 0.0
    # Word pieces per word: everyday words are one piece in the encoder's vocabulary, rare names
    # ("jumanji", "candyman") several, so the tokenizer's statistics say how title-like the words are.
    pieces = float(inside.sum()) / max(1, len(title_words)) if idx.size else 1.0
    before = re.search(r"([\w'&]+)\W*$", text[: cand.start])
    after = re.match(r"^\W*([\w'&]+)", text[cand.end :])
    sentence_start = bool(_SENTENCE_START.search(text[: cand.start]))
    neighbour = (before is not None and _capitalised(before.group(1)) and not sentence_start) or (
        after is not None and _capitalised(after.group(1)) and cand.year is None
    )
    years = [titles.catalog.items[i].year for i in cand.items]
    year_fits = cand.year is not None and any(y and abs(y - cand.year) <= 1 for y in years)
    stripped = text.strip().strip(".!?" + _QUOTES).strip()
    capitalised = float(np.mean([_capitalised(w) for w in title_words])) if title_words else 0.0
    quoted = cand.start > 0 and text[cand.start - 1] in _QUOTES and cand.end < len(text) and text[cand.end] in _QUOTES
    return np.array(
        [
            1.0,
            float(cand.words == 1),
            min(cand.words, 6) / 6.0,
            float(stripped.casefold() == surface.strip().casefold()),
            capitalised,
            float(text == text.casefold()),
            float(quoted),
            float(cand.year is not None),
            float(year_fits),
            float(cand.year is not None and not year_fits),
            title_tag,
            title_begins,
            title_continues,
            person_tag,
            left,
            right,
            float(neighbour),
            float(titles.log_popularity[cand.items[0]]),
            float(bool(said_before & set(cand.items))),
            float(sentence_start),
            float(len(titles.films(cand.items)) > 1),
            min(pieces, 4.0) / 4.0,
            float(bool(_TITLE_NEXT.match(text[cand.end :])) and any(c.start >= cand.end for c in following)),
            # Without capitals the tagger's reading of the context ("have you seen seven?") is the
            # main evidence left, so its weight may differ from that in capitalised text.
            title_tag * (1.0 - capitalised),
        ],
        np.float32,
    )


@dataclass(frozen=True)
class LinkerWeights:
    """A fitted scorer over ``FEATURES`` and its decision threshold.

    ``layers`` are (weight, bias) pairs with ReLU between them: one layer is logistic regression,
    two a small MLP, whose hidden units can weigh evidence jointly (a popular, capitalised word
    that the tagger reads as part of a name).
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    threshold: float = 0.5

    @classmethod
    def logistic(cls, coef: np.ndarray, threshold: float = 0.5) -> LinkerWeights:
        """One linear layer over the features (the ``bias`` feature carries the intercept)."""
        coef = np.asarray(coef, np.float32)
        return cls(((coef[:, None], np.zeros(1, np.float32)),), threshold)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(link) for rows of features."""
        h = np.asarray(x, np.float32)
        for k, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if k < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return 1.0 / (1.0 + np.exp(-h[..., 0]))

    def save(self, path: Path) -> None:
        """Write as JSON (feature names, layers, threshold)."""
        layers = [{"weight": w.tolist(), "bias": b.tolist()} for w, b in self.layers]
        path.write_text(json.dumps({"features": list(FEATURES), "layers": layers, "threshold": self.threshold}))

    @classmethod
    def load(cls, path: Path) -> LinkerWeights:
        """Read what ``save`` wrote; features must match this code's."""
        raw = json.loads(path.read_text())
        if tuple(raw["features"]) != FEATURES or "layers" not in raw:
            raise ValueError(
                f"{path}: linker features differ from this version's; retrain with `tastebud train understanding`"
            )
        layers = tuple(
            (np.asarray(layer["weight"], np.float32), np.asarray(layer["bias"], np.float32)) for layer in raw["layers"]
        )
        return cls(layers, float(raw["threshold"]))


def following_candidates(cand: Candidate, cands: Sequence[Candidate], text: str) -> list[Candidate]:
    """Candidates starting just after ``cand`` (past a comma, "and", "or")."""
    gap = _TITLE_NEXT.match(text[cand.end :])
    start = cand.end + (gap.end() if gap else 0)
    return [c for c in cands if c.start == start] if gap else []


def link(
    text: str,
    titles: TitleIndex,
    weights: LinkerWeights,
    tag_probs: np.ndarray,
    span_mask: Callable[[int, int], np.ndarray],
    said_before: set[int] = frozenset(),  # type: ignore[assignment]
) -> list[Link]:
    """Title mentions of one message, best non-overlapping candidates first.

    Args:
        text: The message.
        titles: The catalog's titles.
        weights: The fitted linker.
        tag_probs: (T, 5) tag probabilities from the understanding model.
        span_mask: ``(start, end) -> (T,)`` token mask of a character range.
        said_before: Catalog indices named earlier in the conversation.
    """
    cands = titles.candidates(text)
    if not cands:
        return []
    x = np.stack(
        [
            candidate_features(
                text, c, titles, tag_probs, span_mask(c.start, c.end), said_before, following_candidates(c, cands, text)
            )
            for c in cands
        ]
    )
    p = weights.probability(x)
    order = np.argsort(-p, kind="stable")
    taken: list[tuple[int, int]] = []
    out: list[Link] = []
    for k in order:
        c = cands[int(k)]
        if p[k] < weights.threshold:
            break
        if any(c.start < e and s < c.end for s, e in taken):
            continue
        taken.append((c.start, c.end))
        items = c.items
        if c.year is not None:
            fitting = tuple(
                i for i in items if titles.catalog.items[i].year and abs(titles.catalog.items[i].year - c.year) <= 1
            )
            items = fitting or items
        films = titles.films(items)
        out.append(Link(c.start, c.end, films[0] if len(films) == 1 else items, float(p[k]), len(films) > 1))
    return sorted(out, key=lambda lk: lk.start)
