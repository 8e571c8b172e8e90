"""Understanding one user turn without an LLM: intent, slots, item references, mood.

Intents are recognised by cue patterns in a fixed order (the first match wins);
slots come from the memory extractor (genres, years, people, titles, with
negation) so a request and a standing instruction are read by one parser. Moods
("something light", "a dark one") are matched by embedding similarity against
described prototypes, and become soft genre boosts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from memory.instructions import PatternExtractor, clean
from memory.resolve import Resolver
from memory.schema import Atom
from recsys.encoder import TextEncoder

Intent = Literal[
    "request",
    "answer",
    "accept",
    "reject",
    "critique",
    "instruction",
    "forget",
    "show_memory",
    "explain",
    "item_question",
    "like",
    "dislike",
    "chitchat",
    "reset",
    "other_user",
    "invalid",
]

MAX_MESSAGE_CHARS = 4000
# Intents an LLM may assign when no cue matched (the others need structure the patterns provide).
LLM_INTENTS = ("request", "accept", "reject", "critique", "explain", "chitchat", "show_memory", "reset")
INTENT_PROMPT = (
    "Classify the message a user sent to a film recommender. Answer with one word from: "
    + ", ".join(LLM_INTENTS)
    + ".\nMessage: {message}\nAnswer:"
)

# Moods -> (words that express them, genres they lean to). Message words are matched to
# these by embedding similarity, so "gritty" or "hilarious" find their mood too.
MOODS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "light": (
        ("light", "lighthearted", "fun", "easy", "feel-good", "relaxing", "breezy", "cheerful"),
        ("Comedy", "Romance", "Animation"),
    ),
    "funny": (("funny", "hilarious", "laugh", "comic", "silly", "witty"), ("Comedy",)),
    "dark": (("dark", "grim", "bleak", "gritty", "disturbing", "brutal"), ("Thriller", "Crime", "Film-Noir")),
    "exciting": (
        ("exciting", "thrilling", "fast-paced", "adrenaline", "explosive", "epic"),
        ("Action", "Adventure", "Thriller"),
    ),
    "thoughtful": (
        ("thoughtful", "serious", "moving", "deep", "profound", "meaningful"),
        ("Drama", "Documentary", "War"),
    ),
    "romantic": (("romantic", "love", "sweet", "heartfelt"), ("Romance",)),
    "scary": (("scary", "creepy", "frightening", "spooky", "terrifying"), ("Horror", "Thriller")),
    "mind-bending": (
        ("mind-bending", "surreal", "trippy", "weird", "strange", "twisty"),
        ("Sci-Fi", "Mystery", "Fantasy"),
    ),
    "uplifting": (("uplifting", "hopeful", "heartwarming", "inspiring", "cheering"), ("Comedy", "Drama", "Children's")),
}
_STOP = frozenset(
    "the a an and or but for with without some something anything film films movie movies one ones tonight today "
    "want would like please give show me find recommend suggest watch watching i im i'm you your it its this that "
    "not no never nothing none any really very more less too kind sort of to in on at from by about maybe just".split()
)
_NEGATOR = re.compile(r"\b(?:no|not|never|without|nothing|none|don'?t|avoid|hate)\b")

_ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
}
_LAST = re.compile(r"\b(?:the )?last one\b")
_ORDINAL = re.compile(rf"\b(?:the )?({'|'.join(_ORDINALS)})(?: one| film| movie| pick)?\b")
_NUMBER = re.compile(r"(?:#|\bnumber |\bno\.? ?)([1-9])\b")
_DEICTIC = re.compile(r"\b(?:this|that|it)\b")


def _cue(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


CUES: list[tuple[Intent, re.Pattern[str]]] = [
    (
        "reset",
        _cue(
            r"^(?:please )?(?:reset|start (?:over|again)|new (?:conversation|chat)|clear (?:the |this )?(?:chat|conversation))\b"
        ),
    ),
    (
        "show_memory",
        _cue(
            r"what (?:do you|did you) (?:know|remember) about me",
            r"(?:show|list|tell me) (?:me )?(?:my|your) (?:rules|instructions|preferences|memory|settings)",
            r"what are my (?:rules|instructions|preferences)",
        ),
    ),
    (
        "forget",
        _cue(
            r"^(?:please )?(?:forget|delete|remove|drop|erase|cancel|undo)\b",
            r"\b(?:forget|delete|remove|drop|erase|cancel) (?:that|what) i said\b",
            r"\b(?:forget|delete|remove|drop|erase|cancel) (?:the|my) (?:rule|instruction|preference)",
        ),
    ),
    ("explain", _cue(r"\bwhy\b", r"\bexplain\b", r"what makes (?:it|this|that)", r"how come")),
    (
        "item_question",
        _cue(
            r"\b(?:tell me (?:more )?about|what(?:'s| is) .+ about|who (?:directed|made|wrote|stars in|is in)|when (?:was|did) .+ (?:made|released|come out))\b",
            r"\bwhat (?:year|genre) is\b",
            r"\bis (?:it|this|that) (?:scary|funny|a \w+)\b",
        ),
    ),
    (
        "reject",
        _cue(
            r"\bnot for me\b",
            r"\bno thanks?\b",
            r"\bnone of (?:these|those|them)\b",
            r"\b(?:seen|watched) (?:it|that|them|those|these|all)",
            r"\bsomething else\b",
            r"\bnot (?:that|this|those|these)(?: one)?\b",
            r"\bnot interested\b",
            rf"\bnot (?:the )?(?:{'|'.join(_ORDINALS)}|last)(?: one| film| movie| pick)?\b",
            r"\bnot (?:#|number )[1-9]\b",
            r"^(?:nah|nope)\b",
            r"\bi (?:don'?t|do not) (?:like|want) (?:these|those|that one|this one|them)\b",
            r"\b(?:other|different) (?:options|ones|films|movies|picks)\b",
        ),
    ),
    (
        "accept",
        _cue(
            r"\bi(?:'?ll| will) (?:watch|take|go with|try)\b",
            r"\b(?:sounds|looks) (?:good|great|perfect)\b",
            r"^(?:perfect|great|awesome|excellent|love it)\b",
            r"\blet'?s (?:go with|watch)\b",
            r"\b(?:that|this) one (?:sounds|looks) (?:good|great)\b",
            r"\bi'?m (?:going|gonna) (?:to )?watch\b",
        ),
    ),
    (
        "critique",
        _cue(
            r"\btoo (?:old|long|slow|dark|violent|scary|sad|silly|serious|recent|new|childish|intense|boring)\b",
            r"\b(?:something|anything|one) (?:newer|older|lighter|darker|funnier|shorter|scarier|happier|more recent|less \w+|more \w+)\b",
            r"\b(?:less|more) (?:violent|violence|dark|scary|action|romance|romantic|serious|funny|recent)\b",
            r"^(?:newer|older|lighter|darker|funnier|shorter)\b",
        ),
    ),
    (
        "like",
        _cue(
            r"\bi (?:really |absolutely )?(?:loved|liked|enjoyed|adored|love|like|enjoy|adore)\b",
            r"\b(?:big )?fan of\b",
            r"\bmy favou?rite\b",
        ),
    ),
    ("dislike", _cue(r"\bi (?:really |absolutely )?(?:hated|disliked|hate|dislike|couldn'?t stand|can'?t stand)\b")),
    (
        "chitchat",
        _cue(
            r"^(?:hi|hello|hey|yo|howdy|good (?:morning|evening|afternoon)|thanks|thank you|cheers|bye|goodbye|ok|okay|cool)\b[\s!.,?]*$"
        ),
    ),
]

# Intents that win over answering a pending question ("why the first one?" is not option 1).
_FIRST = re.compile(r"\b(?:why|explain|forget|delete|remove|reset|start over|tell me about|what do you know)\b")
_STRONG_STANDING = re.compile(r"\b(?:never|always|from now on|don'?t ever|do not ever|in general|any ?more|no more)\b")
_OTHER_USER = re.compile(
    r"\b(?:(?!my\b)\w+'s|other (?:users?|people)'?s?|someone else'?s|another user'?s?|every(?:one|body)'?s)\s+"
    r"(?:preferences|rules|instructions|memory|data|history|profile|likes|account)"
)
_YES = re.compile(r"^(?:yes|yeah|yep|sure|definitely|absolutely|of course|ok|okay|y)\b")
_NO = re.compile(r"^(?:no|nope|nah|not really|n)\b")
_ANY = re.compile(r"\b(?:any|anything|don'?t care|doesn'?t matter|no preference|whatever|surprise me|either)\b")
_JUST_RECOMMEND = re.compile(
    r"\b(?:just (?:recommend|suggest|show|pick|give)|surprise me|stop asking|no more questions)\b"
)


class Turn(BaseModel):
    """What the user's message means, in structured form.

    Attributes:
        text: The cleaned message.
        intent: What the user wants this turn.
        atoms: Constraints the message states for this request (from the memory extractor).
        standing: Whether the message states standing instruction(s).
        items: Catalog item ids the message names (titles, or ordinals into the last list).
        answer: For an answer to a question: the chosen option values, "yes", "no" or "any".
        mood: Moods matched by embedding similarity.
        mood_genres: Genres the moods lean to (soft boosts).
        just_recommend: The user asked to stop asking and see picks.
        problem: Why the message could not be used (empty, junk, too long).
    """

    text: str
    intent: Intent
    atoms: list[Atom] = Field(default_factory=list)
    standing: bool = False
    items: list[str] = Field(default_factory=list)
    answer: list[str] = Field(default_factory=list)
    mood: list[str] = Field(default_factory=list)
    mood_genres: list[str] = Field(default_factory=list)
    just_recommend: bool = False
    problem: str | None = None


@dataclass(frozen=True)
class PendingQuestion:
    """The question the agent asked last turn: attribute type and (value, label) options."""

    attribute: str
    options: tuple[tuple[str, str], ...]


class Understander:
    """Reads user messages against one catalog.

    Args:
        resolver: Catalog lookups (genres, titles, people) shared with memory.
        extractor: The memory's pattern extractor (standing vs one-off constraints).
        encoder: Sentence encoder for moods; None disables mood matching.
        mood_threshold: Minimum cosine similarity for a mood to count.
    """

    def __init__(
        self,
        resolver: Resolver,
        extractor: PatternExtractor,
        encoder: TextEncoder | None = None,
        mood_threshold: float = 0.75,
        complete: Callable[[str], str] | None = None,
    ) -> None:
        self.resolver = resolver
        self.extractor = extractor
        self.encoder = encoder
        self.mood_threshold = mood_threshold
        self.complete = complete

    def classify(self, text: str) -> Intent | None:
        """Ask a capable LLM for the intent of a message the cue patterns could not place."""
        if self.complete is None:
            return None
        answer = self.complete(INTENT_PROMPT.format(message=text[:500])).strip().casefold()
        word = re.match(r"[a-z_]+", answer)
        return word.group(0) if word and word.group(0) in LLM_INTENTS else None  # type: ignore[return-value]

    @cached_property
    def _mood_words(self) -> tuple[np.ndarray, np.ndarray]:
        """(prototype word vectors, the mood index of each)."""
        assert self.encoder is not None
        words = [(w, n) for n, (ws, _) in enumerate(MOODS.values()) for w in ws]
        return self.encoder.encode([w for w, _ in words]), np.array([n for _, n in words])

    def titles_in(self, text: str) -> list[str]:
        """Item ids of catalog titles named in the text (longest match first, no overlaps).

        A one-word title ("Heat", "Ghost") counts only when it is capitalised, quoted, or the
        whole message: otherwise every "ghost story" would name a film.
        """
        spans = [(m.group(0), m.start()) for m in re.finditer(r"[\w'&:.-]+", text)]
        words = [w.casefold() for w, _ in spans]
        found: list[str] = []
        i = 0
        while i < len(words):
            hit = self.resolver.title_at(words[i:])
            if hit and (hit[1] > 1 or len(words) <= 2 or (spans[i][0][:1].isupper() and spans[i][1] > 0)):
                found.append(hit[0])
                i += hit[1]
            else:
                i += 1
        for quoted in re.findall(r"[\"“']([^\"”']{2,80})[\"”']", text):
            item = self.resolver.title(quoted)
            if item and item not in found:
                found.append(item)
        return found

    def references(self, folded: str, shown: Sequence[str]) -> list[str]:
        """Item ids the user points at in the last list ("the second one", "#3", "the last one")."""
        if not shown:
            return []
        refs: list[int] = []
        for m in _ORDINAL.finditer(folded):
            refs.append(_ORDINALS[m.group(1)])
        for m in _NUMBER.finditer(folded):
            refs.append(int(m.group(1)) - 1)
        if _LAST.search(folded):
            refs.append(len(shown) - 1)
        return [shown[i] for i in dict.fromkeys(refs) if 0 <= i < len(shown)]

    def moods(self, folded: str) -> list[str]:
        """Moods expressed by the message's content words (negated words do not count)."""
        if self.encoder is None:
            return []
        tokens = re.findall(r"[a-z][a-z'-]{2,}", folded[:500])
        words = []
        for n, tok in enumerate(tokens):
            if tok in _STOP or any(_NEGATOR.fullmatch(t) for t in tokens[max(0, n - 2) : n]):
                continue
            words.append(tok)
        if not words:
            return []
        vectors, owner = self._mood_words
        sims = self.encoder.encode(list(dict.fromkeys(words))) @ vectors.T  # (W, P)
        best = np.full(len(MOODS), -1.0)
        np.maximum.at(best, owner, sims.max(axis=0))
        return [name for name, s in zip(MOODS, best) if s >= self.mood_threshold]

    def answer(self, folded: str, question: PendingQuestion) -> list[str]:
        """The options a reply picks, or yes/no/any; empty when it answers nothing."""
        chosen = [
            value for value, label in question.options if re.search(rf"\b{re.escape(label.casefold())}\b", folded)
        ]
        if question.attribute == "genre":
            genres = {m.value for m in self.resolver.genres(folded)}
            chosen += [value for value, _ in question.options if value in genres and value not in chosen]
        if question.attribute == "decade":
            for value, _ in question.options:
                short = f"{value[2:4]}s"  # "90s"
                if re.search(rf"\b{short}\b|\b{value[:4]}\b", folded) and value not in chosen:
                    chosen.append(value)
        if not chosen and not re.search(r"\bnot\b", folded):
            ordinal = [
                question.options[i][0]
                for i in (_ORDINALS[m.group(1)] for m in _ORDINAL.finditer(folded))
                if i < len(question.options)
            ]
            chosen = ordinal
        if chosen:
            return chosen
        if _ANY.search(folded):
            return ["any"]
        if len(question.options) == 1 and _YES.search(folded):
            return ["yes"]
        if _NO.search(folded):
            return ["no"]
        return []

    def read(self, message: object, shown: Sequence[str] = (), question: PendingQuestion | None = None) -> Turn:
        """Understand one message, given the last list shown and the pending question."""
        if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS:
            return Turn(
                text=message[:200],
                intent="invalid",
                problem=f"the message is too long ({len(message)} characters; at most {MAX_MESSAGE_CHARS})",
            )
        text, problem = clean(message)
        if problem:
            return Turn(text=text, intent="invalid", problem=problem)
        folded = text.casefold()
        extraction = self.extractor.extract(text)
        atoms = [a for p in extraction.proposals for a in p.atoms] + list(extraction.request_atoms)
        titled = self.titles_in(text)
        items = self.references(folded, shown) + titled
        items = list(dict.fromkeys(items))
        if not items and shown and _DEICTIC.search(folded):
            items = [shown[0]] if len(shown) == 1 else []
        mood = self.moods(folded)
        turn = dict(
            text=text,
            atoms=atoms,
            standing=extraction.is_instruction or extraction.contradiction is not None,
            items=items,
            mood=mood,
            mood_genres=list(dict.fromkeys(g for m in mood for g in MOODS[m][1])),
            just_recommend=bool(_JUST_RECOMMEND.search(folded)),
        )
        if _OTHER_USER.search(folded):
            return Turn(intent="other_user", **turn)
        if question is not None and not _FIRST.search(folded) and not _STRONG_STANDING.search(folded):
            answer = self.answer(folded, question)
            if answer:
                return Turn(intent="answer", answer=answer, **{**turn, "standing": False})
        for intent, pattern in CUES:
            if not pattern.search(folded):
                continue
            if intent in ("like", "dislike") and not items:
                continue  # "I like comedies" is a request or an instruction, not item feedback
            only_items = bool(items) and all(a.field == "item" for a in atoms)
            if (
                intent in ("forget", "explain", "reset", "show_memory")
                or not turn["standing"]
                or (intent in ("like", "dislike") and only_items)
            ):
                return Turn(intent=intent, **turn)
        if turn["standing"]:
            return Turn(intent="instruction", **turn)
        if not atoms and not items and not mood:
            guessed = self.classify(text)
            if guessed is not None:
                return Turn(intent=guessed, **turn)
        return Turn(intent="request", **turn)
