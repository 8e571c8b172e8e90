"""Simulated users: a hidden target item, truthful answers, and the same answers in plain words.

``TruthfulUser`` answers structurally (for the fast simulator); ``TemplateUser`` says the same
thing as a message the agent's ``Understander`` reads, so both modes share one user model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.policy import Ask
from recsys.attributes import AttributeSpace, AttributeValue


@dataclass(frozen=True)
class Target:
    """One held-out (user, item) pair, or (user, item, item2) under a two-target protocol: an MCR episode.

    Attributes:
        user_id: The dataset user.
        item: Catalog index of the target item.
        history: Catalog indices the user interacted with before the target(s), oldest first.
        stage: "test" (last item) or "valid" (second-to-last item) of the leave-one-out split, "pair"
            (both, two targets), "episode" (an episodes file's row).
        item2: Catalog index of the second target (MCMIPL's protocol), None with one target.
    """

    user_id: str
    item: int
    history: tuple[int, ...]
    stage: str = "test"
    item2: int | None = None

    @property
    def items(self) -> tuple[int, ...]:
        """The target items, first target first."""
        return (self.item,) if self.item2 is None else (self.item, self.item2)


@dataclass(frozen=True)
class Answer:
    """A structured answer to a question.

    Attributes:
        chosen: Values the user picks (multi-choice), or the asked value for "yes".
        yes: For a yes/no question: the answer; None for multiple choice.
    """

    chosen: tuple[AttributeValue, ...]
    yes: bool | None = None


@dataclass(frozen=True)
class TruthfulUser:
    """Answers every question truthfully about its hidden target; accepts a list iff it holds the target.

    With two targets (``Target.item2``), a value is accepted when either target has it, the opening is
    a value both targets have, and a list is accepted when it holds either (MCMIPL's user).

    Attributes:
        target: The episode's (user, item).
        space: The askable attributes (the user knows which ones its target has).
    """

    target: Target
    space: AttributeSpace

    def has(self, value: AttributeValue) -> bool:
        """Whether a target has an attribute value."""
        j = self.space.position[(value.type, value.value)]
        return any(bool(self.space.membership[item, j]) for item in self.target.items)

    def opening_values(self) -> list[AttributeValue]:
        """The values the user may open with: the target's, or those both targets have."""
        values = self.space.of_item(self.target.item)
        if self.target.item2 is not None:
            other = {v.key for v in self.space.of_item(self.target.item2)}
            values = [v for v in values if v.key in other]
        return values

    def opening(self, rng: np.random.Generator, types: tuple[str, ...] = ()) -> AttributeValue:
        """One random attribute value of the target(s) (of ``types`` when given and possible)."""
        values = self.opening_values()
        assert values, f"target {self.target.items} has no (shared) askable attribute"
        preferred = [v for v in values if v.type in types] if types else []
        pool = preferred or values
        return pool[int(rng.integers(len(pool)))]

    def answer(self, ask: Ask) -> Answer:
        """Yes iff the target has the asked value; for several options, the ones the target has."""
        if len(ask.options) == 1:
            value = ask.options[0]
            yes = self.has(value)
            return Answer(chosen=(value,) if yes else (), yes=yes)
        return Answer(chosen=tuple(v for v in ask.options if self.has(v)))

    def accepts(self, items: np.ndarray) -> int | None:
        """1-based rank of the target in a recommended list, or None (the list is rejected).

        With two targets: the rank of the first target (in episode order) the list holds, as MCMIPL's
        environment reports it (``RL/env_multi_choice_question.py``, ``_recommend_update``).
        """
        for target in self.target.items:
            hits = np.flatnonzero(np.asarray(items) == target)
            if len(hits):
                return int(hits[0]) + 1
        return None


@dataclass(frozen=True)
class TemplateUser:
    """The truthful user in plain words, for the end-to-end agent.

    Attributes:
        user: The structured user it speaks for.
        titles: Item id -> title (to name the accepted film).
    """

    user: TruthfulUser

    def open(self, value: AttributeValue) -> str:
        """The first message: one attribute of the target."""
        return f"I want to watch a film: {value.label}"

    def say(self, ask: Ask) -> str:
        """The answer to a question, as the agent's ``Understander`` expects it."""
        answer = self.user.answer(ask)
        if answer.yes is not None:
            return "yes" if answer.yes else "no"
        if not answer.chosen:
            return "any"
        return " and ".join(v.label for v in answer.chosen)

    def react(self, rank: int | None, title: str | None = None) -> str:
        """Accept ("I'll watch ...") or reject the list."""
        if rank is None:
            return "not for me"
        return f"I'll watch the {_ORDINAL.get(rank, 'first')} one" if title is None else f"I'll watch {title}"


_ORDINAL = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
