"""Standing-instruction extraction without an LLM: clean the text, find the scope, find atoms, decide standing vs one-off.

The output is a proposal (``Extraction``); nothing here writes to the store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from memory.constraints import is_satisfiable
from memory.lexicon import (
    CLAUSE_OPENERS,
    CONDITION_WORDS,
    FEEDBACK_CUES,
    GENRE_SURFACES,
    HARD_EXCLUDE_CUES,
    LIFT_CUES,
    ONE_OFF_CUES,
    ONLY_CUES,
    REQUEST_CUES,
    RULE_OPENERS,
    SCOPE_NEGATIONS,
    SCOPE_TRIGGERS,
    SOFT_AVOID_CUES,
    SOFT_PREFER_CUES,
    STANDING_CUES,
)
from memory.resolve import Mention, Resolver
from memory.schema import Atom, Scope

MAX_CHARS = 2000
"""Longer utterances are not taken as instructions (a standing rule fits in a few sentences)."""


def _any(patterns: tuple[str, ...]) -> re.Pattern[str]:
    # Cues are words: none starts inside another word ("less" in "Sleepless", "ok with" in "Hook with").
    # A cue that begins with punctuation ("'s fine") may follow a word.
    return re.compile("|".join(f"(?:(?<!\\w)|(?=\\W))(?:{p})" for p in patterns))


_LIFT = _any(LIFT_CUES)
_ONLY = _any(ONLY_CUES + (r"always (?:recommend|suggest|show|give|pick)\s+(?:me\s+)?(?:only\b)",))
_SOFT_AVOID = _any(SOFT_AVOID_CUES)
_SOFT_PREFER = _any(SOFT_PREFER_CUES + (r"always (?:recommend|suggest|include|show)",))
_HARD = _any(HARD_EXCLUDE_CUES)
_STANDING = _any(STANDING_CUES)
_STRONG_STANDING = re.compile(
    r"\b(?:never|always|from now on|going forward|in general|generally|by default|every ?time|whenever|remember|"
    r"anymore|no longer|as a rule|ever)\b"
)
_ONE_OFF = _any(ONE_OFF_CUES)
_RULE_OPENER = _any(RULE_OPENERS)
_CLAUSE_OPENER = _any(CLAUSE_OPENERS)
_FEEDBACK = _any(FEEDBACK_CUES)
_FILLER = re.compile(r"\b(?:please|ever|again|thanks|thank you|at all|for me|period|either)\b|[\s.!]+")
_REQUEST = _any(REQUEST_CUES)
_TRIGGERS = {key: _any(pats) for key, pats in SCOPE_TRIGGERS.items()}
_NEGATED = {key: _any(pats) for key, pats in SCOPE_NEGATIONS.items()}
_SIMILAR = re.compile(r"(?:nothing|anything|no ?thing|films?|movies?|stuff) (?:like|similar to|resembling)\s*$")
_DEICTIC = re.compile(
    r"\b(?:this one|that one|this film|that film|this movie|that movie|the (?:first|second|last) one)\b"
)
_SEGMENT_SPLIT = re.compile(
    r"\s*(?:[,;:]|\bbut\b|\bthough\b|\bhowever\b|\bexcept\b|\balthough\b|\bwhereas\b|\bplus\b|\band then\b|"
    r"\band (?=(?:i|i'm|you|it|they|that|please|also|also,|\w+ (?:is|are) (?:fine|ok|okay))\b))\s*"
)
_SENTENCE_SPLIT = re.compile(r"(?<=[!?;])\s+|(?<![A-Z]\.[A-Z])(?<!\b(?:mr|ms|dr|st|jr|vs))(?<!\bmrs)\.\s+|\n+", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_VACUOUS_SCOPE = re.compile(
    r"^(?:when(?:ever)?|if|any ?time|every ?time)\s+(?:you\s+)?(?:recommend|suggest|show|pick|give|ask|"
    r"i ask(?: you)?(?: for (?:something|anything|a (?:movie|film|recommendation)|recommendations|suggestions))?)"
    r"(?:\s+(?:me\s+)?(?:something|anything|films?|movies?|stuff))?\s*$"
)

_DECADE_WORDS = {
    "twenties": 1920,
    "thirties": 1930,
    "forties": 1940,
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
}
_T = (
    r"(?:(?:the\s+)?(?:(?P<c>1[89]|20)?'?(?P<d>\d)0'?s\b)|(?P<y>\b1[89]\d\d\b|\b20\d\d\b)|"
    r"(?:the\s+)?(?P<w>twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties))"
)


def _point(m: re.Match[str], suffix: str = "") -> tuple[int, int]:
    """(first year, last year) of a year or decade match."""
    g = {k[: -len(suffix)] if suffix else k: v for k, v in m.groupdict().items() if k.endswith(suffix)}
    if g.get("y"):
        y = int(g["y"])
        return y, y
    if g.get("w"):
        d = _DECADE_WORDS[g["w"]]
        return d, d + 9
    century = g.get("c")
    d = int(g["d"]) * 10
    base = int(century) * 100 if century else (2000 if d < 30 else 1900)
    return base + d, base + d + 9


def _t(suffix: str) -> str:
    return (
        _T.replace("?P<c>", f"?P<c{suffix}>")
        .replace("?P<d>", f"?P<d{suffix}>")
        .replace("?P<y>", f"?P<y{suffix}>")
        .replace("?P<w>", f"?P<w{suffix}>")
    )


_BETWEEN = re.compile(rf"\b(?:between|from)\s+{_t('1')}\s+(?:and|to|through|till|until)\s+{_t('2')}")
_OR_LATER = re.compile(
    rf"(?:{_t('1')}\s+(?:or|and)\s+(?:later|newer|after|up|onwards?|beyond|more recent)(?!\s+(?:the\s+)?'?\d)|{_t('2')}\s+onwards?|"
    rf"{_t('3')}\s+on\b|\bsince\s+{_t('4')}|(?:starting|from)\s+(?:in\s+)?{_t('5')}\s+(?:on|onwards?))"
)
_OR_EARLIER = re.compile(
    rf"(?:{_t('1')}\s+(?:or|and)\s+(?:earlier|older|before|prior)(?!\s+(?:the\s+)?'?\d)|\b(?:up to|until|till|through)\s+{_t('2')})"
)
_BEFORE = re.compile(
    rf"\b(?:older than|earlier than|before|prior to|pre-?|predating|made before|released before|from before)\s*{_t('1')}"
)
_AFTER = re.compile(
    rf"\b(?:newer than|later than|more recent than|after|post-?|made after|released after|from after)\s*{_t('1')}"
)
_BARE = re.compile(_t("1"))
_OLD_WORDS = re.compile(r"\b(?:old(?:er)?|classic|vintage|black[- ]and[- ]white|oldies)\b")
_NEW_WORDS = re.compile(r"\b(?:new(?:er)?|recent|modern|latest|contemporary)\b")
_ANY_YEAR = re.compile(
    r"\b(?:any (?:year|decade|era)|(?:year|age|release date) (?:doesn'?t|does not) matter|no year limit)"
)
_UNKNOWN_NAME = re.compile(
    r"\b(?:with|starring|featuring|by|from|directed by|written by|of|like|about)\s+"
    r"((?:[A-Z][\w'.-]*|de|van|von|da|di|le|la|del)(?:\s+(?:[A-Z][\w'.-]*|de|van|von|da|di|le|la|del)){0,3})"
    r"|\b(?:[Nn]o|[Aa]ny|[Aa]nything|[Nn]othing|[Nn]ever|[Hh]ate|[Ll]ove|[Ss]kip|[Aa]void|"
    r"(?:[Nn]ever|[Dd]on'?t|[Dd]o not|[Ss]top|[Pp]lease don'?t) (?:ever )?(?:recommend|suggest|show)(?:ing)?(?: me)?)\s+"
    r"((?:[A-Z][\w'.-]*)(?:\s+[A-Z][\w'.-]*){0,2})(?=\s+(?:movies?|films?|stuff|flicks?|pictures?))"
    r"|\b(?:[Kk]eep|[Ll]eave)\s+((?:[A-Z][\w'.-]*)(?:\s+[A-Z][\w'.-]*){0,2})(?=\s+(?:away|out)\b)"
)
_NOT_NAMES = frozenset(
    {
        "i",
        "i'm",
        "i'll",
        "you",
        "me",
        "my",
        "it",
        "the",
        "a",
        "an",
        "this",
        "that",
        "no",
        "nothing",
        "any",
        "please",
        "also",
        "and",
    }
)


@dataclass(frozen=True)
class Proposal:
    """One standing instruction proposed from an utterance (not yet stored).

    Attributes:
        text: The user's words for this instruction.
        atoms: Structured meaning (may be empty for a soft rule).
        scope: When it applies (None: always).
        unresolved: Names not found in the catalog (and ambiguous partial names).
    """

    text: str
    atoms: tuple[Atom, ...]
    scope: Scope | None
    unresolved: tuple[str, ...] = ()


@dataclass(frozen=True)
class Extraction:
    """What one utterance says.

    Attributes:
        proposals: Standing instructions found (empty for a one-off request).
        request_atoms: Constraints meant for the current request only.
        problem: Why the input was rejected, if it was (empty, too long, binary).
        contradiction: Why the utterance contradicts itself, if it does.
        ambiguous: Messages about partial names that match several people.
    """

    proposals: tuple[Proposal, ...] = ()
    request_atoms: tuple[Atom, ...] = ()
    problem: str | None = None
    contradiction: str | None = None
    ambiguous: tuple[str, ...] = field(default=())

    @property
    def is_instruction(self) -> bool:
        """True when the utterance states at least one standing instruction."""
        return bool(self.proposals)


def clean(text: object) -> tuple[str, str | None]:
    """Make any input safe to parse: (clean text, problem or None)."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return "", f"expected text, got {type(text).__name__}"
    if len(text) > MAX_CHARS:
        return "", f"too long to be a standing instruction ({len(text)} characters; at most {MAX_CHARS})"
    raw = text
    junk = len(raw) - len(_CONTROL.sub("", raw))
    text = _CONTROL.sub(" ", text).strip()
    if junk and junk > 0.1 * len(raw):
        return "", "the message does not look like text"
    if not text:
        return "", "empty message"
    letters = sum(ch.isalnum() for ch in text)  # digits are words too ("the 1990s.")
    if letters < max(2, 0.5 * len(text.replace(" ", ""))):
        return "", "the message does not look like text"
    return re.sub(r"\s+", " ", text), None


def scope_keys(text: str, resolver: Resolver | None = None) -> dict[str, str]:
    """Situations a text mentions: canonical key -> the words that matched.

    Mentions negated in the text ("the kids are asleep") are left out. With a
    resolver, genres mentioned in the text add ``genre:<Genre>`` keys.
    """
    folded = text.casefold()
    keys: dict[str, str] = {}
    for key, pattern in _TRIGGERS.items():
        m = pattern.search(folded)
        if m and not (key in _NEGATED and _NEGATED[key].search(folded)):
            keys[key] = m.group()
    if resolver is not None:
        for mention in resolver.genres(folded):
            keys.setdefault(f"genre:{mention.value}", folded[mention.start : mention.end])
    return keys


def situation_absent(key: str, text: str) -> bool:
    """True when the text says a situation does not hold ("the kids are asleep" for ``kids``)."""
    pattern = _NEGATED.get(key)
    return bool(pattern and pattern.search(text.casefold()))


COMPANION_SITUATIONS: frozenset[str] = frozenset(_NEGATED)
"""Situations defined by who is watching (a request naming one excludes the others)."""


def _polarity(segment: str) -> str | None:
    """The rule kind a clause segment expresses, by its cue words."""
    if _LIFT.search(segment):
        return "allow"
    if _ONLY.search(segment):
        return "only"
    if _SOFT_AVOID.search(segment):
        return "avoid"
    if _HARD.search(segment):
        return "exclude"
    if _SOFT_PREFER.search(segment):
        return "prefer"
    return None


def _years(segment: str, polarity: str | None) -> list[Atom]:
    """Year atoms in one segment, read with the segment's polarity."""
    neg = polarity in ("exclude", "avoid")
    soft = polarity in ("prefer", "avoid")
    atoms: list[tuple[str, int | None, int | None]] = []  # (kind, lo, hi) where kind is 'range'|'excl'
    rest = segment

    def take(m: re.Match[str]) -> None:
        nonlocal rest
        rest = rest[: m.start()] + " " * (m.end() - m.start()) + rest[m.end() :]

    for m in list(_BETWEEN.finditer(rest)):
        lo, hi = _point(m, "1")[0], _point(m, "2")[1]
        atoms.append(("excl" if neg else "range", lo, hi))
        take(m)
    for m in list(_OR_LATER.finditer(rest)):
        suffix = next(s for s in "12345" if m.group(f"d{s}") or m.group(f"y{s}") or m.group(f"w{s}"))
        start = _point(m, suffix)[0]
        atoms.append(("range", None, start - 1) if neg else ("range", start, None))
        take(m)
    for m in list(_OR_EARLIER.finditer(rest)):
        suffix = next(s for s in "12" if m.group(f"d{s}") or m.group(f"y{s}") or m.group(f"w{s}"))
        end = _point(m, suffix)[1]
        atoms.append(("range", end + 1, None) if neg else ("range", None, end))
        take(m)
    for m in list(_BEFORE.finditer(rest)):
        start = _point(m, "1")[0]
        atoms.append(("range", start, None) if neg else ("range", None, start - 1))
        take(m)
    for m in list(_AFTER.finditer(rest)):
        end = _point(m, "1")[1]
        atoms.append(("range", None, end) if neg else ("range", end + 1, None))
        take(m)
    for m in list(_BARE.finditer(rest)):
        lo, hi = _point(m, "1")
        atoms.append(("excl" if neg else "range", lo, hi))
        take(m)
    out: list[Atom] = []
    for kind, lo, hi in atoms:
        span = f"{lo or ''}-{hi or ''}"
        if soft:
            out.append(Atom(op="avoid" if neg else "prefer", field="year", value=span, label=f"films from {span}"))
        elif kind == "excl":
            out.append(Atom(op="exclude_years", field="year", value=span, label=f"films from {span}"))
        else:
            if lo is not None:
                out.append(Atom(op="year_min", field="year", value=str(lo)))
            if hi is not None:
                out.append(Atom(op="year_max", field="year", value=str(hi)))
    if not out:
        if _ANY_YEAR.search(rest):
            out += [Atom(op="allow", field="year", value="min"), Atom(op="allow", field="year", value="max")]
        elif polarity == "allow" and _OLD_WORDS.search(rest):
            out.append(Atom(op="allow", field="year", value="min", label="older films"))
        elif polarity == "allow" and _NEW_WORDS.search(rest):
            out.append(Atom(op="allow", field="year", value="max", label="newer films"))
        elif polarity in ("prefer", "avoid", "exclude", "only") and _OLD_WORDS.search(rest):
            op = "prefer" if polarity in ("prefer", "only") else "avoid"
            out.append(Atom(op=op, field="year", value="older", label="older films"))
        elif polarity in ("prefer", "avoid", "exclude", "only") and _NEW_WORDS.search(rest):
            op = "prefer" if polarity in ("prefer", "only") else "avoid"
            out.append(Atom(op=op, field="year", value="newer", label="newer films"))
    return out


def _clauses(folded: str) -> list[tuple[int, int, str | None]]:
    """(start, end, polarity) of each clause segment of a case-folded sentence.

    A cue's scope is its own clause. It carries forward over a comma to a list item ("no horror,
    westerns or musicals") but not to a new clause ("no comedies tonight, something from the 80s"),
    nor over "but", "though", "and then" and the like ("action but not horror"). It reaches back only
    from a trailing cue-only clause ("westerns, never"). A clause with no cue has no polarity: its
    mentions are what the user asks for.
    """
    raw: list[tuple[int, int, str]] = []  # (start, end, separator before the clause)
    pos, sep = 0, ""
    for m in [*_SEGMENT_SPLIT.finditer(folded), None]:
        start, end = (m.start(), m.end()) if m else (len(folded), len(folded))
        if folded[pos:start].strip():
            raw.append((pos, start, sep))
            sep = ""
        sep += m.group() if m else ""
        pos = end
    pols = [_polarity(folded[s:e]) for s, e, _ in raw]
    own = list(pols)

    def list_item(i: int) -> bool:
        """True when clause i continues the previous clause's list (joined by a bare comma)."""
        s, e, sep = raw[i]
        return sep.strip() == "," and not _CLAUSE_OPENER.search(folded[s:e].strip())

    for i in range(1, len(raw)):
        if pols[i] is None and list_item(i):
            pols[i] = pols[i - 1]
    back = [p is not None and not _FILLER.sub("", _strip_cues(folded[s:e])) for (s, e, _), p in zip(raw, own)]
    for i in range(len(raw) - 2, -1, -1):
        if pols[i] is None and raw[i + 1][2].strip() == "," and back[i + 1]:
            pols[i], back[i] = pols[i + 1], True
    return [(s, e, p) for (s, e, _), p in zip(raw, pols, strict=True)]


def _strip_cues(segment: str) -> str:
    """The segment without its cue words (what is left names what the cue is about)."""
    for pattern in (_LIFT, _ONLY, _SOFT_AVOID, _HARD, _SOFT_PREFER, _STANDING):
        segment = pattern.sub(" ", segment)
    return segment


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _blank_mentions(text: str, mentions: Sequence[Mention]) -> str:
    for mention in mentions:
        text = _blank(text, mention.start, mention.end)
    return text


@dataclass
class PatternExtractor:
    """Extract standing instructions with patterns, the catalog and (optionally) embeddings.

    Args:
        resolver: Catalog lookups.
    """

    resolver: Resolver

    # ---- scope --------------------------------------------------------------------
    def split_scope(self, sentence: str) -> tuple[Scope | None, str]:
        """(scope, the rest of the sentence) for one sentence."""
        lead = re.match(rf"^\s*({CONDITION_WORDS}\b[^,]{{2,120}}?),\s*(.+)$", sentence, re.I)
        trail = re.match(r"^(.+?)[\s,]+((?:when(?:ever)?|if|while|any ?time|every ?time)\b.{2,120})$", sentence, re.I)
        scope_text, main = None, sentence
        titles = self._titles(sentence, sentence.casefold())
        cues = _blank_mentions(sentence.casefold(), titles)
        if lead and any(t.start <= lead.start(1) < t.end for t in titles):
            lead = None
        if trail and any(t.start <= trail.start(2) < t.end for t in titles):
            trail = None
        if lead:
            scope_text, main = lead.group(1), lead.group(2)
        elif trail:
            scope_text, main = trail.group(2), trail.group(1)
        if scope_text is not None:
            key = self._scope_key(scope_text)
            if key is None:
                if _VACUOUS_SCOPE.match(scope_text.casefold().strip()) or scope_text.casefold().startswith(
                    ("for ", "on ", "at ", "during ")
                ):
                    return None, (main if _VACUOUS_SCOPE.match(scope_text.casefold().strip()) else sentence)
                return Scope(key="other", text=scope_text.strip()), main
            return Scope(key=key, text=scope_text.strip()), main
        folded = cues
        for key, pattern in _TRIGGERS.items():
            m = pattern.search(folded)
            if m and not (key in _NEGATED and _NEGATED[key].search(folded)):
                words = sentence[m.start() : m.end()]
                rest = (sentence[: m.start()] + " " + sentence[m.end() :]).strip()
                rest = re.sub(r"\s+(?:around|over|here|present)\b", "", rest)
                return Scope(key=key, text=words), rest
        return None, sentence

    def _scope_key(self, scope_text: str) -> str | None:
        folded = scope_text.casefold()
        for key, pattern in _TRIGGERS.items():
            if pattern.search(folded):
                return key
        genres = self.resolver.genres(folded)
        if genres:
            return f"genre:{genres[0].value}"
        return None

    # ---- atoms ----------------------------------------------------------------------
    def atoms(self, main: str, cues: str | None = None) -> tuple[list[Atom], list[str], list[str]]:
        """(atoms, unresolved names, ambiguity messages) for the rule part of a sentence.

        ``cues`` is ``cue_view(main)`` when the caller has it already.
        """
        folded = main.casefold()
        segments = _clauses(self.cue_view(main) if cues is None else cues)
        if not segments:
            return [], [], []

        def pol_at(start: int, end: int | None = None) -> str | None:
            """Polarity of the clause(s) a mention lies in; a name with a comma ("Boot, Das") is one unit."""
            end = start + 1 if end is None else end
            hit = [p for s, e, p in segments if s < end and start < e] or [p for s, e, p in segments[-1:] if start >= e]
            return next((p for p in hit if p), None)

        atoms: list[Atom] = []
        unresolved: list[str] = []
        ambiguous: list[str] = []
        work = folded

        def add(field_: str, pol: str | None, value: str, label: str, start: int) -> None:
            if pol is None and field_ == "genre":
                pol = "only"  # a bare genre mention asks for that genre ("comedy please"; several: any of them)
            if pol is None:
                return
            prefix = folded[max(0, start - 40) : start]
            op = pol
            if field_ in ("item", "entity") and _SIMILAR.search(prefix) and pol in ("exclude", "avoid"):
                op = "avoid"
            atoms.append(Atom(op=op, field=field_, value=value, label=label))  # type: ignore[arg-type]

        # roles of titles: "the director of Alien"
        for mention in self.resolver.role_of_title(work):
            if mention.kind == "entity":
                add("entity", pol_at(mention.start, mention.end), mention.value, mention.label, mention.start)
            else:
                unresolved.append(mention.label)
                add("unknown", pol_at(mention.start, mention.end), mention.value, mention.label, mention.start)
            work = _blank(work, mention.start, mention.end)
        # people by name (case matters for partial names)
        cased = "".join(c if w != " " else " " for c, w in zip(main, work))
        for mention in self.resolver.people(cased):
            if work[mention.start : mention.end].strip() == "":
                continue
            if mention.kind == "ambiguous":
                ambiguous.append(mention.label)
                unresolved.append(mention.label)
                add("unknown", pol_at(mention.start, mention.end), mention.value, mention.label, mention.start)
            else:
                add("entity", pol_at(mention.start, mention.end), mention.value, mention.label, mention.start)
            work = _blank(work, mention.start, mention.end)
        # titles
        for mention in self._titles(main, work):
            add("item", pol_at(mention.start, mention.end), mention.value, mention.label, mention.start)
            work = _blank(work, mention.start, mention.end)
        # unknown names (capitalised words after "with", "starring", "by"...)
        cased = "".join(c if w != " " else " " for c, w in zip(main, work))
        for m in _UNKNOWN_NAME.finditer(cased):
            group = next(g for g in (1, 2, 3) if m.group(g))
            name = m.group(group).strip(" .'")
            words = name.split()
            while words and words[-1].casefold() in _NOT_NAMES | {"films", "movies", "again", "ever"}:
                words.pop()
            while words and words[0].casefold() in _NOT_NAMES:
                words.pop(0)
            name = " ".join(words)
            if not name or self.resolver.genre(name) or name.casefold() in _NOT_NAMES:
                continue
            if re.fullmatch(
                r"[A-Z][a-z]+day|January|February|March|April|May|June|July|August|September|"
                r"October|November|December|Christmas|Halloween|Netflix|Hollywood",
                name,
            ):
                continue
            start = m.start(group)
            unresolved.append(name)
            add("unknown", pol_at(start), name.casefold(), name, start)
            work = _blank(work, start, start + len(name))
        # genres
        for mention in self.resolver.genres(work):
            add("genre", pol_at(mention.start, mention.end), mention.value, mention.value, mention.start)
            work = _blank(work, mention.start, mention.end)
        # years, segment by segment
        for s, e, p in segments:
            atoms += _years(work[s:e], p)
        seen: set[tuple[str, str, str]] = set()
        unique = [a for a in atoms if not (a.key in seen or seen.add(a.key))]  # type: ignore[func-returns-value]
        return unique, unresolved, ambiguous

    def cue_view(self, text: str) -> str:
        """The case-folded text with the catalog titles it names blanked, for reading cue words.

        A title's words are never the user's stance: "films like Tomorrow Never Dies" holds no
        "never", and "A Life Less Ordinary" no "less". Offsets are kept.
        """
        return _blank_mentions(text.casefold(), self._titles(text, text.casefold()))

    def _titles(self, main: str, work: str) -> list[Mention]:
        """Titles named in the text: quoted, multi-word, or a capitalised single word."""
        found: list[Mention] = []
        words = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", work)]
        all_lower = main == main.casefold()
        i = 0
        while i < len(words):
            hit = self.resolver.title_at([w for w, _, _ in words[i : i + 12]])
            if hit is None:
                i += 1
                continue
            item_id, n = hit
            start, end = words[i][1], words[i + n - 1][2]
            original = main[start:end]
            ok = False
            if n >= 2:
                ok = all_lower or any(ch.isupper() for ch in original)
            else:
                word = original.strip("\"'.,!?")
                ok = (
                    word[:1].isupper()
                    and i > 0
                    and self.resolver.genre(word) is None
                    and word.casefold() not in _NOT_NAMES
                ) or (original.startswith(("'", '"')))
            if ok:
                found.append(Mention("item", item_id, self.resolver.catalog.titles[item_id], start, end))
                i += n
            else:
                i += 1
        return found

    # ---- whole utterance ------------------------------------------------------------
    def extract(self, text: object) -> Extraction:
        """Read one utterance. Never raises on bad input; problems come back in ``Extraction``."""
        clean_text, problem = clean(text)
        if problem:
            return Extraction(problem=problem)
        proposals: list[Proposal] = []
        request_atoms: list[Atom] = []
        ambiguous: list[str] = []
        for sentence in _SENTENCE_SPLIT.split(clean_text):
            sentence = sentence.strip(" .")
            if not sentence:
                continue
            scope, main = self.split_scope(sentence)
            main_cues = self.cue_view(main)
            atoms, unresolved, amb = self.atoms(main, main_cues)
            ambiguous += amb
            sentence_cues = main_cues if main == sentence else self.cue_view(sentence)
            standing = self._is_standing(sentence_cues, main_cues, scope, atoms)
            if standing is None:
                continue
            if standing:
                proposals.append(Proposal(sentence, tuple(atoms), scope, tuple(unresolved)))
            else:
                request_atoms += atoms
        contradiction = self._self_contradiction(proposals)
        if contradiction:
            return Extraction(contradiction=contradiction, request_atoms=tuple(request_atoms))
        return Extraction(tuple(proposals), tuple(request_atoms), ambiguous=tuple(ambiguous))

    @staticmethod
    def _is_standing(folded: str, main_cues: str, scope: Scope | None, atoms: list[Atom]) -> bool | None:
        """True: standing instruction; False: one-off request; None: neither (chit-chat, feedback).

        ``folded`` and ``main_cues`` are the cue views of the sentence and of its rule part.
        """
        strong = bool(_STRONG_STANDING.search(folded))
        standing_cue = bool(_STANDING.search(folded))
        one_off = bool(_ONE_OFF.search(folded))
        request = bool(_REQUEST.search(folded))
        if one_off and not strong:
            return False if atoms or request else None
        if atoms:
            # standing needs a cue: a standing word, a rule's form ("No westerns."), a lift, or a scope
            # outside a request; a bare attribute phrase ("the 1990s") is a one-off request
            if standing_cue or _RULE_OPENER.search(main_cues.strip()) or any(a.op == "allow" for a in atoms):
                return True
            if scope is not None and not request:
                return True
            if _FEEDBACK.search(folded) and not request:
                return None  # "I hated Heat": feedback on a film, not a rule nor a request
            return False
        # no atoms: a soft rule only with a clear standing cue about films or recommendations
        if request or _DEICTIC.search(folded) or not standing_cue:
            return False if request else None
        if re.search(
            r"\b(?:films?|movies?|recommend\w*|suggest\w*|shows?|stories|endings?|plots?|actors?|"
            r"runtime|long|short|length|subtitles?|violen\w+|gore|sex|swearing|language|dubbed|"
            r"black[- ]and[- ]white|sequels?|remakes?|true stor\w+|based on)\b",
            folded,
        ):
            return True
        return None

    @staticmethod
    def _self_contradiction(proposals: list[Proposal]) -> str | None:
        """A message that both forbids and asks for the same thing (in the same scope)."""
        from memory.conflicts import conflicts

        for i, p in enumerate(proposals):
            if not is_satisfiable(list(p.atoms)):
                return f"'{p.text}' asks for an impossible year range"
            for q in proposals[i:]:
                if (p.scope.key if p.scope else "") != (q.scope.key if q.scope else ""):
                    continue
                for a in p.atoms:
                    for b in q.atoms:
                        if a is not b and conflicts(b, a):
                            return f"the message both says '{a.describe()}' and '{b.describe()}'"
        return None


def genre_words() -> dict[str, tuple[str, ...]]:
    """The genre vocabulary (for prompts and documentation)."""
    return dict(GENRE_SURFACES)
