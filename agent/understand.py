"""The pattern-based reader of user turns: the baseline the learned reader replaced.

Kept so ``benchmarks/understanding.py`` measures old and new side by side, and selectable with
``AgentConfig(understanding="patterns")``. Intents are recognised by cue patterns in a fixed order (the first match wins);
slots come from the memory extractor (genres, years, people, titles, with
negation) so a request and a standing instruction are read by one parser. Moods
("something light", "a dark one") are matched by embedding similarity against
described prototypes, and become soft genre boosts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from agent.turn import Intent, PendingQuestion, Turn
from agent.understanding import exact
from memory.instructions import PatternExtractor
from memory.resolve import Resolver
from recsys.encoder import TextEncoder

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
            rf"\bnot (?:the )?(?:{'|'.join(exact.ORDINALS)}|last)(?: one| film| movie| pick)?\b",
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


class PatternUnderstander:
    """Reads user messages against one catalog with cue patterns (the baseline).

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

    def read(
        self,
        message: object,
        shown: Sequence[str] = (),
        question: PendingQuestion | None = None,
        said_before: Sequence[str] = (),
    ) -> Turn:
        """Understand one message, given the last list shown and the pending question."""
        text, problem = exact.check(message)
        if problem:
            return Turn(text=text, intent="invalid", problem=problem)
        folded = text.casefold()
        extraction = self.extractor.extract(text)
        atoms = [a for p in extraction.proposals for a in p.atoms] + list(extraction.request_atoms)
        titled = self.titles_in(text)
        items = exact.references(folded, shown) + titled
        items = list(dict.fromkeys(items))
        if not items and shown and exact.DEICTIC.search(folded):
            items = [shown[0]] if len(shown) == 1 else []
        mood = self.moods(folded)
        turn = dict(
            text=text,
            atoms=atoms,
            standing=extraction.is_instruction or extraction.contradiction is not None,
            items=items,
            mood=mood,
            mood_genres=list(dict.fromkeys(g for m in mood for g in MOODS[m][1])),
            just_recommend=bool(exact.JUST_RECOMMEND.search(folded)),
            wants_others=bool(exact.OTHERS.search(folded)),
        )
        if exact.OTHER_USER.search(folded):
            return Turn(intent="other_user", **turn)
        if question is not None and not _FIRST.search(folded) and not _STRONG_STANDING.search(folded):
            answer = exact.answer(folded, question, self.resolver)
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
