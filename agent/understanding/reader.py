"""The learned reader of user turns: the understanding model, the title linker and the exact rules.

``LearnedUnderstander.read`` turns one message into a ``Turn``:

1. exact checks: unusable input, reaching another user's data, an answer to the options just offered;
2. one pass of the model: intent, lasting (none / preference / rule), situation, era, the stance
   on every catalog genre, and title/person tags; when clauses name different genres, each of
   those genres is read again in its own clause;
3. the linker picks the catalog films named; the model's opinion head says whether each is liked;
4. what this request asks (genres named outright become hard filters of this search; moods
   become soft boosts, a strongly ruled-out one a filter too), and what lasts (a rule, or a
   preference) with its scope.

Years stay with the exact year grammar of ``memory.instructions`` (after the titles' own years are
blanked out, so "Pitch Black (2000)" is a film, not a year).
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

from agent import scope
from agent.turn import FilmRef, PendingQuestion, Remember, Turn
from agent.understanding import exact
from agent.understanding.features import TokenEncoder
from agent.understanding.labels import ERAS, INTENTS, LASTING, OPINIONS, PREVIOUS, SITUATIONS
from agent.understanding.linker import Link, LinkerWeights, link
from agent.understanding.model import TAGS, ModelConfig, UnderstandingModel
from agent.understanding.titles import TitleIndex
from memory.instructions import PatternExtractor, scope_keys
from memory.resolve import Mention, Resolver
from memory.schema import Atom, Scope
from recsys.catalog import Catalog
from recsys.encoder import TextEncoder

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# Clauses: split after sentence ends, semicolons and commas, and before words that turn a sentence.
_CLAUSE = re.compile(
    r"(?:[^,;.!?]|[.,](?=\w))+?(?=[,;.!?](?!\w)|\s(?:but|though|although|whereas|however|yet|while)\b|$)[,;.!?]*", re.I
)
_LIST_WORDS = frozenset(
    {"and", "or", "nor", "also", "too", "either", "the", "a", "any", "movies", "movie", "films", "film"}
)
# Intents that win over matching a pending question's options ("why the first one?" is not option 1).
_NOT_ANSWERS = frozenset({"explain", "forget", "reset", "show_memory", "instruction", "out_of_domain", "item_question"})


@dataclass(frozen=True, kw_only=True)
class ReaderConfig:
    """How model probabilities become decisions.

    Attributes:
        weights: Folder of the trained model (``model.safetensors``, ``linker.json``, ``config.json``).
        genre_threshold: A genre is wanted / unwanted above this probability.
        hard_mood: A genre ruled out only by meaning ("nothing scary") is filtered above this probability;
            below it, it only lowers scores.
        soft_weight: Scale of soft genre boosts (added to log-probabilities).
        soft_floor: Below this probability a genre's stance is noise and moves nothing.
        lasting_threshold: Minimum P(preference) + P(rule) to store anything.
        situation_threshold: Minimum probability of a situation to scope by it.
        era_threshold: Minimum probability of an older/newer lean.
        clause_genres: Read each genre in its own clause when several genres are in play across the
            message's clauses ("big on action, not so much on dramas").
    """

    weights: Path = WEIGHTS_DIR
    genre_threshold: float = 0.5
    hard_mood: float = 0.75
    soft_weight: float = 1.0
    soft_floor: float = 0.2
    lasting_threshold: float = 0.5
    situation_threshold: float = 0.5
    era_threshold: float = 0.5
    clause_genres: bool = True


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


def _explicit_genre_patterns(catalog: Catalog) -> dict[str, re.Pattern[str]]:
    """A catalog genre written as its own name ("comedy", "comedies", "sci fi"): the genre asked for outright."""
    out = {}
    for folded, spelled in catalog.genres.items():
        forms = {folded, folded + "s", folded.replace("-", " "), folded.replace("-", "")}
        if folded.endswith("y"):
            forms.add(folded[:-1] + "ies")
        alternation = "|".join(sorted((re.escape(f) for f in forms), key=len, reverse=True))
        out[spelled] = re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])")
    return out


class LearnedUnderstander:
    """Reads user messages with the trained understanding model.

    Args:
        catalog: The catalog films are linked to and genres come from.
        resolver: Catalog lookups shared with memory (genres in answers, people, "the director of X").
        extractor: Memory's pattern extractor, used here only for its exact year grammar.
        encoder: The shared sentence encoder (its transformer gives the token states).
        config: Decision thresholds and the weights folder.
    """

    def __init__(
        self,
        catalog: Catalog,
        resolver: Resolver,
        extractor: PatternExtractor,
        encoder: TextEncoder,
        config: ReaderConfig | None = None,
    ) -> None:
        self.catalog = catalog
        self.resolver = resolver
        self.extractor = extractor
        self.config = config or ReaderConfig()
        self.encoder = encoder

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
    def _explicit(self) -> dict[str, re.Pattern[str]]:
        return _explicit_genre_patterns(self.catalog)

    @cached_property
    def _explicit_any(self) -> re.Pattern[str]:
        return re.compile("|".join(p.pattern for p in self._explicit.values()))

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
            for hit in self._explicit[name].finditer(folded):
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
        out: list[tuple[int, int]] = []
        start = end = None
        for t, (s, e) in enumerate(offsets):
            if e <= s:
                continue
            tag = TAGS[int(tags[t].argmax())]
            if tag == "B-PERSON" or (tag == "I-PERSON" and start is None):
                if start is not None:
                    out.append((start, end))  # type: ignore[arg-type]
                start, end = s, e
            elif tag == "I-PERSON":
                end = e
            elif start is not None:
                out.append((start, end))  # type: ignore[arg-type]
                start = end = None
        if start is not None:
            out.append((start, end))  # type: ignore[arg-type]
        # Word pieces: widen each span to whole words.
        widened = []
        for s, e in out:
            while s > 0 and text[s - 1].isalnum():
                s -= 1
            while e < len(text) and (text[e].isalnum() or text[e] in "'."):
                e += 1
            widened.append((s, e))
        return widened

    # ---- decisions -----------------------------------------------------------------------------
    def read(
        self,
        message: object,
        shown: Sequence[str] = (),
        question: PendingQuestion | None = None,
        said_before: Sequence[str] = (),
    ) -> Turn:
        """Understand one message, given the last list shown, the pending question and films named before."""
        text, problem = exact.check(message)
        if problem:
            return Turn(text=text, intent="invalid", problem=problem)
        folded = text.casefold()
        if exact.OTHER_USER.search(folded):
            return Turn(text=text, intent="other_user")
        if question is not None and question.attribute == scope.SCOPE:
            # Checked before the intent: "from now on" reads like an instruction.
            said = scope.parse(folded)
            if said:
                return Turn(text=text, intent="answer", answer=said)
        just = bool(exact.JUST_RECOMMEND.search(folded))
        echoed = exact.echoed_options(folded, question) if question is not None else []
        if echoed:
            return Turn(text=text, intent="answer", answer=echoed, just_recommend=just)
        prev = "asked" if question is not None else "recommended" if shown else "none"
        pointers = exact.reference_spans(folded, shown)
        mentions = [m for m in self.resolver.role_of_title(folded) + self.resolver.people(text) if m.kind == "entity"]
        seen = self.analyse(
            text, prev, said_before, [(s, e) for _, s, e in pointers] + [(m.start, m.end) for m in mentions]
        )
        intent = seen.top("intent")
        if question is not None and intent not in _NOT_ANSWERS:
            answer = exact.answer(folded, question, self.resolver)
            if answer:
                return Turn(text=text, intent="answer", answer=answer, just_recommend=just)
        if intent == "out_of_domain":
            return Turn(text=text, intent="out_of_domain")

        films, ambiguous = self._films(text, seen, mentions)
        for (item, start, end), opinion in zip(pointers, seen.span_opinions):
            best = max(opinion, key=opinion.__getitem__)
            films.append(FilmRef(item_id=item, surface=text[start:end], opinion=best))  # type: ignore[arg-type]
        items = list(dict.fromkeys([p[0] for p in pointers] + [f.item_id for f in films]))
        if not items and shown and exact.DEICTIC.search(folded) and len(shown) == 1:
            items = [shown[0]]
        wanted, unwanted = self._genres(seen)
        blanked = self._blank_titles(text, seen.links)
        explicit = {g for g in self.genre_names if self._explicit[g].search(blanked.casefold())}
        situation = seen.top("situation")
        if seen.situation[situation] < self.config.situation_threshold or situation == "none":
            situation = None
        lasting = "none"
        if seen.lasting["preference"] + seen.lasting["rule"] >= self.config.lasting_threshold:
            lasting = "rule" if seen.lasting["rule"] >= seen.lasting["preference"] else "preference"
        if intent == "instruction":
            lasting = "rule"

        years = self._years(blanked)
        atoms, weights = self._request(seen.genres, explicit, years)
        remember, maybe_remember = [], []
        entities = [(m, max(o, key=o.__getitem__)) for m, o in zip(mentions, seen.span_opinions[len(pointers) :])]
        if lasting != "none" and intent not in (
            "forget",
            "show_memory",
            "reset",
            "explain",
            "item_question",
            "chitchat",
        ):
            remember = self._lasting(text, lasting, wanted, unwanted, explicit, years, films, entities, seen, situation)
        asks_for_something = (
            wanted
            or any(w > 0 for w in weights.values())
            or any(f.opinion == "liked" for f in films)
            or situation is not None
            # A window ("the 1990s", "from 1985 to 1995") asks for those years; a single bound limits.
            or {a.op for a in years} >= {"year_min", "year_max"}
        )
        if lasting == "none" and intent in ("request", "preference") and (unwanted or years) and not asks_for_something:
            maybe_remember = self._lasting(text, "rule", {}, unwanted, explicit, years, [], [], seen, None)
        era = seen.top("era")
        return Turn(
            text=text,
            intent=intent,  # type: ignore[arg-type]
            atoms=atoms,
            standing=any(r.kind == "rule" for r in remember),
            items=items,
            films=films,
            ambiguous=ambiguous,
            remember=remember,
            maybe_remember=maybe_remember,
            situation=situation,
            era=era if era != "none" and seen.era[era] >= self.config.era_threshold else None,
            mood=sorted(g for g, w in weights.items() if w >= 0.5 * self.config.soft_weight),
            mood_genres=[g for g, w in weights.items() if w >= 0.5 * self.config.soft_weight],
            genre_weights=weights,
            just_recommend=just,
        )

    def _films(self, text: str, seen: Analysis, mentions: Sequence[Mention] = ()) -> tuple[list[FilmRef], list[str]]:
        """Linked films with the opinion of each; a title inside "the director of X" names a person, not X."""
        films, ambiguous = [], []
        for lk, opinion in zip(seen.links, seen.opinions):
            if any(m.start < lk.end and lk.start < m.end for m in mentions):
                continue
            surface = text[lk.start : lk.end]
            if lk.ambiguous:
                ambiguous.append(surface)
                continue
            best = max(opinion, key=opinion.__getitem__)
            films.append(FilmRef(item_id=self.catalog.items[lk.items[0]].id, surface=surface, opinion=best))  # type: ignore[arg-type]
        return films, ambiguous

    def _genres(self, seen: Analysis) -> tuple[dict[str, float], dict[str, float]]:
        t = self.config.genre_threshold
        wanted = {g: w for g, (w, u) in seen.genres.items() if w >= t and w > u}
        unwanted = {g: u for g, (w, u) in seen.genres.items() if u >= t and u > w}
        return wanted, unwanted

    @staticmethod
    def _blank_titles(text: str, links: list[Link]) -> str:
        """The text with linked titles (and their years) blanked, so their words are no genre or year."""
        out = text
        for lk in links:
            out = out[: lk.start] + " " * (lk.end - lk.start) + out[lk.end :]
        # Any "Title (Year)" form, linked or not, is a film's year, not a wish for that year.
        return re.sub(r"\((?:18|19|20)\d\d\)", "      ", out)

    def _years(self, blanked: str) -> list[Atom]:
        extraction = self.extractor.extract(blanked)
        atoms = [a for p in extraction.proposals for a in p.atoms] + list(extraction.request_atoms)
        return [a for a in atoms if a.field == "year"]

    def _request(
        self, genres: dict[str, tuple[float, float]], explicit: set[str], years: list[Atom]
    ) -> tuple[list[Atom], dict[str, float]]:
        """Hard atoms of this request, and soft genre weights.

        A genre named outright and wanted (or ruled out) above the threshold is a filter of this
        search; one reached only by meaning is a soft weight, unless it is ruled out strongly
        ("nothing scary"). Below the threshold a genre still moves scores by P(wanted) - P(unwanted),
        so "nothing scary" also lowers Thriller a little.
        """
        atoms: list[Atom] = []
        weights: dict[str, float] = {}
        t = self.config.genre_threshold
        for g, (w, u) in genres.items():
            if w >= t and w > u and g in explicit:
                atoms.append(Atom(op="only", field="genre", value=g, label=g))
            elif u >= t and u > w and (g in explicit or u >= self.config.hard_mood):
                atoms.append(Atom(op="exclude", field="genre", value=g, label=g))
            elif max(w, u) >= self.config.soft_floor:
                weights[g] = self.config.soft_weight * (w - u)
        atoms += [a for a in years if a.is_hard]
        return atoms, weights

    def _lasting(
        self,
        text: str,
        lasting: str,
        wanted: dict[str, float],
        unwanted: dict[str, float],
        explicit: set[str],
        years: list[Atom],
        films: list[FilmRef],
        entities: list[tuple[Mention, str]],
        seen: Analysis,
        situation: str | None,
    ) -> list[Remember]:
        """What to store: one rule or one preference, with its scope."""
        rule = lasting == "rule"
        negative = bool(unwanted) or any(f.opinion == "disliked" for f in films)
        atoms: list[Atom] = []
        for g in wanted:
            # "I only watch documentaries" restricts; "I love horror but never comedies" does not restrict to horror.
            op = "only" if rule and not negative else "prefer"
            atoms.append(Atom(op=op, field="genre", value=g, label=g))
        for g in unwanted:
            atoms.append(Atom(op="exclude" if rule else "avoid", field="genre", value=g, label=g))
        bounds = {a.op: a.value for a in years if a.op in ("year_min", "year_max")}
        for a in years:
            if rule or a.op in ("prefer", "avoid"):
                atoms.append(a)
            elif a.op == "exclude_years":
                atoms.append(Atom(op="avoid", field="year", value=a.value, label=f"films from {a.value}"))
        if bounds and not rule:
            # "the 70s" is one window (1970-1979), not two separate leanings.
            span = f"{bounds.get('year_min', '')}-{bounds.get('year_max', '')}"
            atoms.append(Atom(op="prefer", field="year", value=span, label=f"films from {span}"))
        era = seen.top("era")
        if era != "none" and seen.era[era] >= self.config.era_threshold and not any(a.field == "year" for a in atoms):
            atoms.append(Atom(op="prefer", field="year", value=era, label=f"{era} films"))
        for f in films:
            if f.opinion == "disliked" and rule:
                atoms.append(Atom(op="exclude", field="item", value=f.item_id, label=self.catalog.titles[f.item_id]))
        for m, opinion in entities:
            if opinion == "disliked":
                atoms.append(Atom(op="exclude" if rule else "avoid", field="entity", value=m.value, label=m.label))
            elif opinion == "liked":
                atoms.append(Atom(op="prefer", field="entity", value=m.value, label=m.label))
        unresolved = [
            text[s:e] for s, e, _ in seen.person_spans if not any(m.start < e and s < m.end for m, _ in entities)
        ]
        if not atoms and not unresolved:
            return []
        scope = None
        if situation is not None:
            words = scope_keys(text).get(situation) if situation != "other" else None
            scope = Scope(key=situation, text=words or text)
        return [
            Remember(kind="rule" if rule else "preference", text=text, atoms=atoms, scope=scope, unresolved=unresolved)
        ]
