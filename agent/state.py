"""The conversation state LangGraph checkpoints per thread. Plain JSON-able fields only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

Action = Literal["ask", "recommend", "explain", "about", "inform", "error"]


class InputState(TypedDict):
    """What a caller sends: the new user message."""

    messages: Annotated[list[AnyMessage], add_messages]


class State(InputState, total=False):
    """Everything the agent keeps about one conversation.

    Attributes:
        turn: User turns so far.
        understanding: The current turn, read by ``Understander`` (``Turn.model_dump()``).
        search: Constraint groups of the current search (each a list of atom dicts; groups AND together).
        wanted: Attribute labels the user asked for in this search (used in reasons).
        mood_genres: Genres the current search leans to (soft).
        genre_weights: Soft genre adjustments of the current search (positive favours, negative lowers).
        era: The current search's lean to "older" or "newer" films, if any.
        mentioned: Catalog films named in this conversation (context for linking titles).
        query: Free text of the current search (matched against item texts).
        asked: "type=value" keys of the values offered in this search's questions, and attribute types
            the request settled (not asked at all).
        questions: Questions asked in this search.
        no_questions: The user asked for picks without questions in this search ("just recommend something").
        pending: The question awaiting an answer: {"attribute": str, "options": [[value, label], ...]}.
        shown: Item ids of the last recommendation list.
        rejected: Item ids rejected in this conversation (never shown again here).
        accepted: Item ids accepted in this conversation.
        rejected_lists: Recommendation lists rejected in this search.
        action: What this turn does.
        facts: Sentences this turn's reply must carry (memory changes, answers).
        memory_changes: What changed in the user's memory this turn.
        applied: Standing instructions applied this turn: [{"text", "reason"}].
        focus: Item ids this turn talks about (explanations, item questions).
        discussed: Item ids the last explanation or item answer of this list talked about: what "it"
            means next ("tell me about the second one", then "who directed it?").
        plan: The reply plan of this turn (``ReplyPlan.model_dump()``).
        reply: The finished reply (``Reply.model_dump()``).
    """

    turn: int
    understanding: dict[str, Any]
    search: list[list[dict[str, Any]]]
    wanted: list[str]
    mood_genres: list[str]
    genre_weights: dict[str, float]
    era: str | None
    mentioned: list[str]
    query: str
    asked: list[str]
    questions: int
    no_questions: bool
    pending: dict[str, Any] | None
    shown: list[str]
    rejected: list[str]
    accepted: list[str]
    rejected_lists: int
    action: Action | None
    facts: list[str]
    memory_changes: list[str]
    applied: list[dict[str, str]]
    focus: list[str]
    discussed: list[str]
    plan: dict[str, Any]
    reply: dict[str, Any]
