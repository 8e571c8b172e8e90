"""The learned reader of user turns: the understanding model, the title linker and the exact rules.

``LearnedUnderstander.read`` turns one message into a ``Turn``:

1. exact checks: unusable input, reaching another user's data, an answer to the options just offered;
2. the model's reading (``agent.understanding.analysis``): every head's probabilities, the
   catalog films the linker picked and the opinion of each;
3. the decisions, here:
   what this request asks (genres named outright become hard filters of this search; moods
   become soft boosts, a strongly ruled-out one a filter too), and what lasts (a rule, or a
   preference) with its scope.

Years stay with the exact year grammar of ``memory.instructions`` (after the titles' own years are
blanked out, so "Pitch Black (2000)" is a film, not a year).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent import scope
from agent.turn import FilmRef, PendingQuestion, Remember, Turn
from agent.understanding import exact
from agent.understanding.analysis import Analysis, MessageAnalyser
from agent.understanding.config import ReaderConfig
from agent.understanding.linker import Link
from agent.understanding.titles import TitleIndex
from memory.instructions import PatternExtractor, scope_keys
from memory.resolve import Mention, Resolver
from memory.schema import Atom, Scope
from recsys.catalog import Catalog
from recsys.encoder import TextEncoder

# A title's year as written after it ("Pitch Black (2000)"), whole or cut by the tagger's span.
_TRAILING_YEAR = re.compile(r"\s*\(\s*(?:18|19|20)\d\d\s*\)?\s*$")
_YEAR_NEXT = re.compile(r"^\s*\(\s*(?:18|19|20)\d\d\s*\)")
_WHOLE_YEAR = re.compile(r"\((?:18|19|20)\d\d\)$")
# Words that are never a title on their own (the tagger sometimes tags a lone "the").
_FUNCTION_WORDS = frozenset(
    {"the", "a", "an", "in", "of", "and", "or", "to", "it", "that", "this", "one", "movie", "movies", "film", "films"}
)
# Intents that win over matching a pending question's options ("why the first one?" is not option 1).
_NOT_ANSWERS = frozenset({"explain", "forget", "reset", "show_memory", "instruction", "out_of_domain", "item_question"})


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
        self.analyser = MessageAnalyser(catalog, encoder, self.config)

    @property
    def titles(self) -> TitleIndex:
        """The catalog's titles."""
        return self.analyser.titles

    @property
    def genre_names(self) -> list[str]:
        """The catalog's genres, as spelled there."""
        return self.analyser.genre_names

    def analyse(
        self,
        text: str,
        prev: str = "none",
        said_before: Sequence[str] = (),
        extra: Sequence[tuple[int, int]] = (),
    ) -> Analysis:
        """The model's reading of one message (``MessageAnalyser.analyse``); the LLM reader replaces it."""
        return self.analyser.analyse(text, prev, said_before, extra)

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
        explicit = {g for g in self.genre_names if self.analyser.explicit[g].search(blanked.casefold())}
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
            unknown_titles=self._unknown_titles(text, seen),
            remember=remember,
            maybe_remember=maybe_remember,
            situation=situation,
            era=era if era != "none" and seen.era[era] >= self.config.era_threshold else None,
            mood=sorted(g for g, w in weights.items() if w >= 0.5 * self.config.soft_weight),
            mood_genres=[g for g, w in weights.items() if w >= 0.5 * self.config.soft_weight],
            genre_weights=weights,
            just_recommend=just,
            wants_others=bool(exact.OTHERS.search(folded)),
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

    def _unknown_titles(self, text: str, seen: Analysis) -> list[str]:
        """Titles the tagger reads in the message that name no catalog film ("Inception"), as written."""
        taken = [(lk.start, lk.end) for lk in seen.links]
        merged: list[tuple[int, int, float]] = []
        for s, e, p in seen.title_spans:
            if merged and s <= merged[-1][1] + 1:  # word pieces of one title read as two spans
                merged[-1] = (merged[-1][0], e, max(merged[-1][2], p))
            else:
                merged.append((s, e, p))
        out = []
        for s, e, p in merged:
            if p < self.config.unknown_title_threshold or any(s < b and a < e for a, b in taken):
                continue
            surface = text[s:e] + (year.group(0) if (year := _YEAR_NEXT.match(text[e:])) else "")
            bare = _TRAILING_YEAR.sub("", surface).strip(" .,;:!?\"'“”")
            words = re.findall(r"[\w']+", bare)
            if not words or all(w.casefold() in _FUNCTION_WORDS for w in words):
                continue
            written = _WHOLE_YEAR.search(surface)
            # Without a capitalised word or a year, a rare lower-case word is as likely a typo ("speilberg"),
            # and a lone number or decade ("1990's") is no title.
            if not (written or _TRAILING_YEAR.search(surface) or any(w[:1].isupper() for w in words)):
                continue
            if self.titles.holds(bare, int(written.group(0)[1:5]) if written else None):
                continue  # the linker passed it over, but the catalog has it, or a series of that name
            # The year stays when whole: "Jumanji (2017)" is not the catalog's Jumanji (1995).
            out.append(f"{bare} {written.group(0)}" if written else bare)
        return list(dict.fromkeys(out))

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
