"""``Agent.feedback``: a user's reaction to one reply, logged with its context and learned from.

The request is validated here (pydantic), the turn is looked up in the conversation's
checkpoints (so the plan, the reply and the list are the ones the user saw, not what a
client claims), the entry goes to the feedback log (``memory.feedback``) with a snapshot
of the user's memory, and memory learns from it as from the same signal in conversation.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.limits import DEFAULT_THREAD, check_message, conversation_key
from memory.feedback import FeedbackEntry, FeedbackKind, MemorySnapshot
from memory.ids import check_thread_id, check_user_id

if TYPE_CHECKING:
    from agent.api import Agent
    from memory.service import Memory

ITEM_KINDS = frozenset({"accept", "like", "not_for_me"})
"""Kinds about one item of the list: they need ``item_id``."""
TEXT_KINDS = frozenset({"critique", "edit"})
"""Kinds that carry the user's words: they need ``text``."""
# How each kind reaches memory's learning (``Memory.record_feedback``).
_MEMORY_KIND = {"accept": "accept", "reject": "reject", "like": "like", "not_for_me": "dislike"}


class FeedbackError(ValueError):
    """Feedback that cannot be matched to what the user saw (unknown conversation, turn or item)."""


class FeedbackRequest(BaseModel):
    """What a caller sends: who, which conversation and turn, and the reaction.

    Attributes:
        user_id: The user, from the caller's authentication.
        thread_id: The conversation ("default" when not given).
        kind: accept, reject, like, not_for_me, critique or edit.
        turn: The turn reacted to (1-based); None means the latest.
        item_id: The item (needed by accept, like and not_for_me; a reject without one is the whole list).
        text: The critique, or for ``edit`` the user's rewrite of the reply.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str
    thread_id: str = DEFAULT_THREAD
    kind: FeedbackKind
    turn: int | None = Field(default=None, ge=1)
    item_id: str | None = None
    text: str | None = None

    @field_validator("user_id")
    @classmethod
    def _user(cls, value: str) -> str:
        return check_user_id(value)

    @field_validator("thread_id")
    @classmethod
    def _thread(cls, value: str) -> str:
        return check_thread_id(value)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else check_message(value)

    @model_validator(mode="after")
    def _fits_kind(self) -> FeedbackRequest:
        if self.kind in ITEM_KINDS and not self.item_id:
            raise ValueError(f"feedback {self.kind!r} needs item_id: the item of the list it is about")
        if self.kind in TEXT_KINDS and not (self.text or "").strip():
            what = "the critique" if self.kind == "critique" else "the rewritten reply"
            raise ValueError(f"feedback {self.kind!r} needs text: {what}")
        if self.kind not in TEXT_KINDS and self.text is not None:
            raise ValueError(f"feedback {self.kind!r} takes no text")
        return self


class FeedbackResult(BaseModel):
    """What ``Agent.feedback`` did.

    Attributes:
        entry: The logged entry (with the turn's plan, reply, list and the memory snapshot).
        learned: Preferences memory created or reinforced from it.
    """

    entry: FeedbackEntry
    learned: list[str] = Field(default_factory=list)


def _turn_state(agent: Agent, request: FeedbackRequest) -> dict[str, Any]:
    """The state at the end of the requested turn, from the conversation's checkpoints."""
    config = {"configurable": {"thread_id": conversation_key(request.user_id, request.thread_id)}}
    with agent._damage_named():
        latest = agent.graph.get_state(config)
        if not latest.values or "reply" not in latest.values:
            raise FeedbackError(f"no conversation {request.thread_id!r} for this user")
        last_turn = int(latest.values.get("turn", 0))
        wanted = last_turn if request.turn is None else request.turn
        if wanted > last_turn:
            raise FeedbackError(f"no turn {wanted} in conversation {request.thread_id!r}: it has turns 1-{last_turn}")
        for snapshot in agent.graph.get_state_history(config):
            values = snapshot.values or {}
            if not snapshot.next and values.get("turn") == wanted and "reply" in values:
                return dict(values)
    raise FeedbackError(f"turn {wanted} of conversation {request.thread_id!r} has no finished reply")


def _entry(
    values: dict[str, Any],
    turn: int,
    thread_id: str,
    kind: str,
    item_id: str | None,
    text: str,
    memory: Memory,
    user_id: str,
) -> FeedbackEntry:
    """An entry about the reply in ``values`` (the state at the end of turn ``turn``)."""
    reply = values.get("reply") or {}
    humans = [str(m.content) for m in values.get("messages", []) if isinstance(m, HumanMessage)]
    return FeedbackEntry(
        id=f"fl_{uuid.uuid4().hex[:12]}",
        thread_id=thread_id,
        turn=turn,
        kind=kind,  # type: ignore[arg-type]
        item_id=item_id,
        text=text,
        request=humans[turn - 1] if len(humans) >= turn else "",
        reply=reply.get("text", ""),
        action=reply.get("action", ""),
        plan=values.get("plan") or {},
        shown=[r["item_id"] for r in reply.get("recommendations", [])],
        memory=MemorySnapshot.of(memory, user_id),
    )


def log_said(memory: Memory, user_id: str, state: dict[str, Any], kind: str, items: list[str], text: str = "") -> None:
    """Log feedback said in the conversation ("not for me", "I'll watch the second one") about the last reply.

    Called by the graph before this turn's reply replaces the last one, so the entry carries the
    reply the user reacted to; memory learns from it in the graph itself, not here. No entry
    without an earlier reply, or outside a conversation (a bare graph run has no thread).
    """
    from langgraph.config import get_config

    from agent.limits import split_key

    key = get_config().get("configurable", {}).get("thread_id")
    turn = int(state.get("turn", 1)) - 1
    if not key or turn < 1 or not state.get("reply"):
        return
    try:
        _, thread_id = split_key(key)
    except ValueError:  # a graph compiled by a caller with its own thread keys: no user conversation to name
        return
    for item_id in items or [None]:
        memory.feedback_log.add(
            user_id, _entry(state, turn, thread_id, kind, item_id, text if kind == "critique" else "", memory, user_id)
        )


def record(agent: Agent, request: FeedbackRequest) -> FeedbackResult:
    """Log the feedback with its context and let memory learn from it.

    Raises:
        FeedbackError: No such conversation, turn, or item in that turn's reply.
    """
    state = _turn_state(agent, request)
    reply = state["reply"]
    listed = [r["item_id"] for r in reply.get("recommendations", [])]
    talked_about = [r["item_id"] for r in reply.get("items", [])]
    turn = int(state["turn"])
    if request.item_id is not None and request.item_id not in listed + talked_about:
        shown = ", ".join(listed + talked_about) or "none"
        raise FeedbackError(f"item {request.item_id!r} was not in the reply of turn {turn} (items: {shown})")
    if request.kind == "reject" and not listed:
        raise FeedbackError(f"turn {turn} showed no list to reject")
    memory = agent.memory
    entry = _entry(
        state, turn, request.thread_id, request.kind, request.item_id, request.text or "", memory, request.user_id
    )
    memory.feedback_log.add(request.user_id, entry)
    context = state.get("query") or entry.request
    learned = []
    if request.kind in _MEMORY_KIND:
        targets = [request.item_id] if request.item_id else listed
        for item_id in targets:
            learned += memory.record_feedback(request.user_id, _MEMORY_KIND[request.kind], item_id, context=context)
    elif request.kind == "critique":
        item = request.item_id or (listed[0] if listed else None)
        learned = memory.record_feedback(request.user_id, "critique", item, context=context, text=entry.text)
    else:
        learned = memory.record_feedback(
            request.user_id, "edit", context=context, text=entry.text, original=entry.reply
        )
    return FeedbackResult(entry=entry, learned=list(dict.fromkeys(p.text for p in learned)))
