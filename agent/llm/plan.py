"""The structured reply plan: what a reply must say, decided before any prose is written."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PlanKind = Literal["ask", "recommend", "explain", "confirm", "chitchat", "error"]


class PlannedItem(BaseModel):
    """An item the reply presents, with the one-line reason for it."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    title: str
    year: int | None = None
    reason: str = ""


class ReplyPlan(BaseModel):
    """Everything a reply may state. Backends turn it into prose and may not add facts.

    Attributes:
        kind: What the turn does.
        facts: Sentences the reply must convey (memory changes, answers about an item...).
        items: Items to present, in order.
        question: A question to ask the user.
        options: Answer options for the question.
    """

    model_config = ConfigDict(frozen=True)

    kind: PlanKind
    facts: tuple[str, ...] = ()
    items: tuple[PlannedItem, ...] = ()
    question: str | None = None
    options: tuple[str, ...] = Field(default=(), max_length=20)
