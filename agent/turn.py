"""What one user message means, in structured form: the contract between understanding and the graph.

Two readers fill it: the learned one (``agent.understanding.reader``, the default) and the
pattern-based one kept as a baseline (``agent.understand``); an LLM can fill it too
(``agent.understanding.llm_reader``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from memory.schema import Atom, Scope

Intent = Literal[
    "request",
    "preference",
    "feedback",
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
    "out_of_domain",
    "reset",
    "other_user",
    "invalid",
]
Opinion = Literal["liked", "disliked", "neutral"]


class FilmRef(BaseModel):
    """A catalog film the message names.

    Attributes:
        item_id: The catalog item.
        surface: The words that name it.
        opinion: liked (including "something like X"), disliked, or neutral.
    """

    item_id: str
    surface: str = ""
    opinion: Opinion = "neutral"


class Remember(BaseModel):
    """Something lasting the message states, for memory to store.

    Attributes:
        kind: ``rule`` (a standing instruction; hard atoms are enforced) or ``preference``
            (a soft, inferred preference).
        text: The user's words.
        atoms: What it means (rules: exclude/only/year bounds; preferences: prefer/avoid).
        scope: When it applies (None: always).
        unresolved: Names the catalog does not know (kept as words, not enforced).
    """

    kind: Literal["rule", "preference"]
    text: str
    atoms: list[Atom] = Field(default_factory=list)
    scope: Scope | None = None
    unresolved: list[str] = Field(default_factory=list)


class Turn(BaseModel):
    """What the user's message means.

    Attributes:
        text: The cleaned message.
        intent: What the user wants this turn.
        atoms: Hard constraints of this request only (genres asked for or ruled out, explicit years).
        standing: Whether the message states a standing rule.
        items: Catalog item ids the message points at (titles, or ordinals into the last list).
        films: Catalog films named, with the user's opinion of each.
        ambiguous: Mentions left unlinked because they could mean several films.
        unknown_titles: Titles the message names that are not in the catalog ("Inception"), as written.
        remember: Lasting rules and preferences to store.
        maybe_remember: A constraint said on its own, with nothing asked for, that may be meant for
            every request ("nothing before 1990"): the rule to store if the user says so.
        situation: Who or when the message is about ("kids", "partner"...), if it says.
        era: A soft lean to older or newer films.
        answer: For an answer to a question: the chosen option values, "yes", "no" or "any".
        mood: Moods or genres the message leans to by meaning (names, for display).
        mood_genres: Genres to favour softly.
        genre_weights: Soft genre adjustments, positive or negative (e.g. "nothing scary" lowers Thriller).
        just_recommend: The user asked to stop asking and see picks.
        wants_others: The message asks for other films than those shown ("show me more", "anything else?").
        problem: Why the message could not be used (empty, junk, too long).
    """

    text: str
    intent: Intent
    atoms: list[Atom] = Field(default_factory=list)
    standing: bool = False
    items: list[str] = Field(default_factory=list)
    films: list[FilmRef] = Field(default_factory=list)
    ambiguous: list[str] = Field(default_factory=list)
    unknown_titles: list[str] = Field(default_factory=list)
    remember: list[Remember] = Field(default_factory=list)
    maybe_remember: list[Remember] = Field(default_factory=list)
    situation: str | None = None
    era: Literal["older", "newer"] | None = None
    answer: list[str] = Field(default_factory=list)
    mood: list[str] = Field(default_factory=list)
    mood_genres: list[str] = Field(default_factory=list)
    genre_weights: dict[str, float] = Field(default_factory=dict)
    just_recommend: bool = False
    wants_others: bool = False
    problem: str | None = None


@dataclass(frozen=True)
class PendingQuestion:
    """The question the agent asked last turn: attribute type and (value, label) options."""

    attribute: str
    options: tuple[tuple[str, str], ...]


class Understander(Protocol):
    """Reads one user message in its conversation."""

    def read(
        self,
        message: object,
        shown: Sequence[str] = (),
        question: PendingQuestion | None = None,
        said_before: Sequence[str] = (),
    ) -> Turn:
        """Understand a message, given the last list shown, the pending question and films named earlier."""
        ...
