"""The trained model's reading of one message: probabilities of every head, linked titles, opinions of spans.

``MessageAnalyser.analyse`` gives an ``Analysis`` and decides nothing; ``agent.understanding.reader``
turns it into a ``Turn``. One pass of the model reads intent, lasting (none / preference / rule),
situation, era, the stance on every catalog genre, and title/person tags; when clauses name
different genres, each of those genres is read again in its own clause. The linker picks the
catalog films named, and the opinion head reads each of them and of any extra span asked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from agent.understanding.config import ReaderConfig
from agent.understanding.features import TokenEncoder
from agent.understanding.labels import ERAS, INTENTS, LASTING, OPINIONS, PREVIOUS, SITUATIONS
from agent.understanding.linker import Link, LinkerWeights, link
from agent.understanding.model import TAGS, ModelConfig, UnderstandingModel
from agent.understanding.titles import TitleIndex
from recsys.catalog import Catalog
from recsys.encoder import TextEncoder

# Clauses: split after sentence ends, semicolons and commas, and before words that turn a sentence.
_CLAUSE = re.compile(
    r"(?:[^,;.!?]|[.,](?=\w))+?(?=[,;.!?](?!\w)|\s(?:but|though|although|whereas|however|yet|while)\b|$)[,;.!?]*", re.I
)
_LIST_WORDS = frozenset(
    {"and", "or", "nor", "also", "too", "either", "the", "a", "any", "movies", "movie", "films", "film"}
)


@dataclass(frozen=True)
class Analysis:
    """The model's raw reading of one message (probabilities), before decisions.

    Attributes:
        intent: Probability per intent (``labels.INTENTS``).
        lasting: Probability of none / preference / rule.
        situation: Probability per situation.
        era: Probability of none / older / newer.
        genres: Catalog genre -> (P(wanted), P(unwanted)).
        links: Title mentions the linker accepted (and ambiguous ones).
        opinions: Per link, probability of neutral / liked / disliked.
        person_spans: Character spans the tagger reads as people.
        span_opinions: Opinion probabilities of the extra spans asked for (pointers into the last list such
            as "the first one", people and roles named such as "the director of Alien").
        title_spans: Character spans the tagger reads as titles, linked or not, with the mean title
            probability of their tokens (``tag_spans``).
    """

    intent: dict[str, float]
    lasting: dict[str, float]
    situation: dict[str, float]
    era: dict[str, float]
    genres: dict[str, tuple[float, float]]
    links: list[Link]
    opinions: list[dict[str, float]]
    person_spans: list[tuple[int, int, dict[str, float]]] = field(default_factory=list)
    span_opinions: list[dict[str, float]] = field(default_factory=list)
    title_spans: list[tuple[int, int, float]] = field(default_factory=list)

    def top(self, head: str) -> str:
        """The most probable value of a head."""
        probs: dict[str, float] = getattr(self, head)
        return max(probs, key=probs.__getitem__)


def load_weights(folder: Path) -> tuple[UnderstandingModel, LinkerWeights, dict]:
    """The trained model, linker and metadata in a folder; a missing or mismatched one is a clear error."""
    from safetensors.torch import load_file

    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"no understanding model in {folder}; train one with `tastebud train understanding` "
            "or choose AgentConfig(understanding='patterns')"
        )
    meta = json.loads(config_file.read_text())
    vocab = meta["vocab"]
    expected = {"intents": INTENTS, "lasting": LASTING, "situations": SITUATIONS, "eras": ERAS, "opinions": OPINIONS}
    for key, values in expected.items():
        if tuple(vocab[key]) != values:
            raise ValueError(f"{folder}: the model's {key} differ from this version's; retrain it")
    model = UnderstandingModel(ModelConfig(**meta["model"]))
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    model.eval()
    return model, LinkerWeights.load(folder / "linker.json"), meta


def explicit_genre_patterns(catalog: Catalog) -> dict[str, re.Pattern[str]]:
    """A catalog genre written as its own name ("comedy", "comedies", "sci fi"): the genre asked for outright."""
    out = {}
    for folded, spelled in catalog.genres.items():
        forms = {folded, folded + "s", folded.replace("-", " "), folded.replace("-", "")}
        if folded.endswith("y"):
            forms.add(folded[:-1] + "ies")
        alternation = "|".join(sorted((re.escape(f) for f in forms), key=len, reverse=True))
        out[spelled] = re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])")
    return out


class MessageAnalyser:
    """Reads messages with the trained understanding model, loaded on first use.

    Args:
        catalog: The catalog films are linked to and genres come from.
        encoder: The shared sentence encoder (its transformer gives the token states).
        config: The weights folder, the genre threshold and whether clauses are read alone.
    """

    def __init__(self, catalog: Catalog, encoder: TextEncoder, config: ReaderConfig) -> None:
        self.catalog = catalog
        self.encoder = encoder
        self.config = config

    # ---- loaded lazily ------------------------------------------------------------------------
    @cached_property
    def _weights(self) -> tuple[UnderstandingModel, LinkerWeights, dict]:
        return load_weights(self.config.weights)

    @cached_property
    def tokens(self) -> TokenEncoder:
        """Token states of the shared encoder."""
        return TokenEncoder(self.encoder, max_tokens=int(self._weights[2]["model"]["max_tokens"]))

    @cached_property
    def titles(self) -> TitleIndex:
        """The catalog's titles."""
        return TitleIndex(self.catalog)

    @cached_property
    def genre_names(self) -> list[str]:
        """The catalog's genres, as spelled there."""
        return list(self.catalog.genres.values())

    @cached_property
    def _genre_vectors(self) -> torch.Tensor:
        return self.tokens.names(self.genre_names)

    @cached_property
    def explicit(self) -> dict[str, re.Pattern[str]]:
        """Per catalog genre, the pattern of its own name written out."""
        return explicit_genre_patterns(self.catalog)

    @cached_property
    def _explicit_any(self) -> re.Pattern[str]:
        return re.compile("|".join(p.pattern for p in self.explicit.values()))

    # ---- the model's reading -------------------------------------------------------------------
    def analyse(
        self,
        text: str,
        prev: str = "none",
        said_before: Sequence[str] = (),
        extra: Sequence[tuple[int, int]] = (),
    ) -> Analysis:
        """Probabilities of every head for one message, its linked titles, and the opinion of each extra span."""
        model, linker, _ = self._weights
        enc = self.tokens.encode([text])
        with torch.inference_mode():
            x = model.encode(enc.states, enc.mask, torch.tensor([PREVIOUS.index(prev)]))
            pooled = model.pool(x, enc.mask)
            heads = {
                "intent": model.intent(pooled).softmax(-1)[0].numpy(),
                "lasting": model.lasting(pooled).softmax(-1)[0].numpy(),
                "situation": model.situation(pooled).softmax(-1)[0].numpy(),
                "era": model.era(pooled).softmax(-1)[0].numpy(),
            }
            genre = model.genres(x, enc.mask, self._genre_vectors).softmax(-1)[0].numpy()  # (G, 3)
            tags = model.tags(x).softmax(-1)[0].numpy()  # (T, 5)
        if self.config.clause_genres:
            genre = self._clause_stances(text, prev, genre)
        before = {self.catalog.index[i] for i in said_before if i in self.catalog.index}
        links = link(text, self.titles, linker, tags, lambda s, e: enc.span_mask(0, s, e), before)
        persons = self._person_spans(text, enc.offsets[0], tags)
        spans = [(lk.start, lk.end) for lk in links] + [(s, e) for s, e in persons] + list(extra)
        opinions: list[dict[str, float]] = []
        if spans:
            masks = torch.from_numpy(np.stack([enc.span_mask(0, s, e) for s, e in spans]))[None]
            with torch.inference_mode():
                probs = model.opinions(x, enc.mask, pooled, masks).softmax(-1)[0].numpy()
            opinions = [dict(zip(OPINIONS, map(float, p))) for p in probs]
        return Analysis(
            intent=dict(zip(INTENTS, map(float, heads["intent"]))),
            lasting=dict(zip(LASTING, map(float, heads["lasting"]))),
            situation=dict(zip(SITUATIONS, map(float, heads["situation"]))),
            era=dict(zip(ERAS, map(float, heads["era"]))),
            genres={g: (float(genre[i, 1]), float(genre[i, 2])) for i, g in enumerate(self.genre_names)},
            links=links,
            opinions=opinions[: len(links)],
            person_spans=[(s, e, o) for (s, e), o in zip(persons, opinions[len(links) : len(links) + len(persons)])],
            span_opinions=opinions[len(links) + len(persons) :],
            title_spans=tag_spans(text, enc.offsets[0], tags, "TITLE"),
        )

    def _clause_stances(self, text: str, prev: str, genre: np.ndarray) -> np.ndarray:
        """Each genre read in its own clause, when several genres are in play across clauses.

        "big on sci-fi, not on fantasy": the whole message's reading gives both genres one
        polarity; each clause read alone has one stance. The clauses are read when the message's
        reading holds two or more genres, or the clauses name different genres outright; a genre
        then takes the reading of the one clause that holds it above the threshold, which also
        reaches genres named by meaning ("Animated films are wonderful, but I find documentaries
        tedious"). A genre held by no clause or by several keeps the message's reading, so
        "Thrillers? Meh. They leave me cold" keeps the whole message for its one genre.
        """
        clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(text) if m.group().strip()]
        if len(clauses) < 2:
            return genre
        folded = text.casefold()
        t = self.config.genre_threshold
        named = set()  # clauses naming a genre outright
        for name in self.genre_names:
            for hit in self.explicit[name].finditer(folded):
                named.add(next(i for i, (s, e) in enumerate(clauses) if s <= hit.start() < e or i == len(clauses) - 1))
        if len(named) < 2 and int((genre[:, 1:].max(-1) >= t).sum()) < 2:
            return genre
        # A clause that only lists genres ("no horror, thrillers or war movies") takes the stance
        # of the message around it; read alone it would be a bare request.
        parts = [
            (s, e)
            for s, e in clauses
            if set(re.findall(r"[a-z']+", self._explicit_any.sub(" ", folded[s:e]))) - _LIST_WORDS
        ]
        if len(parts) < 2:
            return genre
        model, _, _ = self._weights
        enc = self.tokens.encode([text[s:e] for s, e in parts])
        with torch.inference_mode():
            x = model.encode(enc.states, enc.mask, torch.tensor([PREVIOUS.index(prev)] * len(parts)))
            read = model.genres(x, enc.mask, self._genre_vectors).softmax(-1).numpy()  # (C, G, 3)
        held = read[:, :, 1:].max(-1) >= t  # (C, G): the clause alone wants or rules out the genre
        if int(held.any(-1).sum()) < 2:
            return genre
        out = genre.copy()
        for g in np.flatnonzero(held.sum(0) == 1):
            out[g] = read[int(np.flatnonzero(held[:, g])[0]), g]
        return out

    @staticmethod
    def _person_spans(text: str, offsets: list[tuple[int, int]], tags: np.ndarray) -> list[tuple[int, int]]:
        """Character spans the tagger reads as people (B-PERSON then I-PERSON...)."""
        return [(s, e) for s, e, _ in tag_spans(text, offsets, tags, "PERSON")]


def tag_spans(text: str, offsets: list[tuple[int, int]], tags: np.ndarray, kind: str) -> list[tuple[int, int, float]]:
    """Spans the tagger reads as ``kind`` (B- then I- tags), widened to whole words, with the mean
    probability of the kind over their tokens."""
    begin, inside = TAGS.index(f"B-{kind}"), TAGS.index(f"I-{kind}")
    out: list[tuple[int, int, list[float]]] = []
    current: tuple[int, int, list[float]] | None = None
    for t, (s, e) in enumerate(offsets):
        if e <= s:
            continue
        tag = int(tags[t].argmax())
        p = float(tags[t, begin] + tags[t, inside])
        if tag == begin or (tag == inside and current is None):
            if current is not None:
                out.append(current)
            current = (s, e, [p])
        elif tag == inside and current is not None:
            current = (current[0], e, [*current[2], p])
        elif current is not None:
            out.append(current)
            current = None
    if current is not None:
        out.append(current)
    # Word pieces: widen each span to whole words.
    widened = []
    for s, e, probs in out:
        while s > 0 and text[s - 1].isalnum():
            s -= 1
        while e < len(text) and (text[e].isalnum() or text[e] in "'."):
            e += 1
        widened.append((s, e, float(np.mean(probs))))
    return widened
