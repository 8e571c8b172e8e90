"""What ``Agent.chat`` returns: a typed reply an app can render without parsing text."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Recommendation(BaseModel):
    """One recommended item with the reason it was picked."""

    item_id: str
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    reason: str


class Option(BaseModel):
    """One answer option of a question."""

    value: str
    label: str


class Question(BaseModel):
    """A question the agent asks, with options to click."""

    text: str
    attribute: str
    options: list[Option] = Field(default_factory=list)


class AppliedInstruction(BaseModel):
    """A standing instruction that shaped this reply, and why it applied."""

    text: str
    reason: str


class Reply(BaseModel):
    """The agent's answer to one message.

    Attributes:
        text: The reply as prose (grounded: it names only the items below).
        action: What the turn did: ask, recommend, explain, about, inform or error.
        intent: How the message was understood.
        recommendations: Items recommended, each with a one-line reason.
        question: The question asked, if any.
        items: Items this reply talks about (explanations, item questions).
        applied_instructions: Standing instructions that filtered the results.
        memory_changes: What this turn changed in the user's memory.
        user_id: Whose reply this is.
        thread_id: The conversation.
    """

    text: str
    action: str
    intent: str
    recommendations: list[Recommendation] = Field(default_factory=list)
    question: Question | None = None
    items: list[Recommendation] = Field(default_factory=list)
    applied_instructions: list[AppliedInstruction] = Field(default_factory=list)
    memory_changes: list[str] = Field(default_factory=list)
    user_id: str = ""
    thread_id: str = ""
