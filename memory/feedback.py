"""The feedback log: each accept, reject, like, "not for me", critique and edit, with what the user saw.

An entry keeps the turn's context as it was when the user reacted: the user's message, the
reply plan, the reply text, the list on screen and a snapshot of the user's memory. That is
what preference data needs later (``agent.tuning``): the same reply can be right in one
context and wrong in another. Entries live in the memory file (table ``feedback_log``), so
they are exported and forgotten with the user, and every query filters on ``user_id``.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from memory.health import damaged, is_damage
from memory.ids import check_thread_id, check_user_id
from memory.schema import InferredPreference, utcnow

if TYPE_CHECKING:
    from memory.service import Memory
    from memory.store import SQLiteStore

FeedbackKind = Literal["accept", "reject", "like", "not_for_me", "critique", "edit"]
FEEDBACK_KINDS: tuple[str, ...] = ("accept", "reject", "like", "not_for_me", "critique", "edit")
STYLE_PREFIXES: tuple[str, ...] = ("style:", "format:", "tone:", "content:")
"""Keys of inferred preferences about how replies are written (not which films)."""
MIN_STYLE_CONFIDENCE = 0.3
"""Inferred style preferences below this confidence are not acted on (prompts, rewards)."""
HISTORY = 50
"""Liked items kept in a snapshot (the recommenders read at most the last 50)."""


class SnapshotPreference(BaseModel):
    """One inferred preference as it stood when the feedback came."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    text: str
    confidence: float


class MemorySnapshot(BaseModel):
    """What the user's memory held at one moment (the context a reply was written in).

    Attributes:
        instructions: Texts of the active standing instructions.
        preferences: Inferred preferences (key, text, confidence).
        interests: Names of the strongest interests, strongest first.
        history: Items the user liked or accepted, oldest first (the last ``HISTORY``; what the
            sequential recommender reads).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    instructions: list[str] = Field(default_factory=list)
    preferences: list[SnapshotPreference] = Field(default_factory=list)
    interests: list[str] = Field(default_factory=list)
    history: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, memory: Memory, user_id: str, k_interests: int = 10) -> MemorySnapshot:
        """The user's memory now."""
        return cls(
            instructions=[si.text for si in memory.instructions(user_id)],
            preferences=[
                SnapshotPreference(key=p.key, text=p.text, confidence=p.confidence) for p in memory.preferences(user_id)
            ],
            interests=[i.name or i.entity for i in memory.top_interests(user_id, k=k_interests)],
            history=[e.item_id for e in memory.store.feedback(user_id) if e.kind in ("like", "accept") and e.item_id][
                -HISTORY:
            ],
        )

    def style(self, min_confidence: float = 0.0) -> list[SnapshotPreference]:
        """Preferences about how replies are written, most confident first."""
        return style_preferences(self.preferences, min_confidence)


P = TypeVar("P", SnapshotPreference, InferredPreference)


def style_preferences(preferences: Sequence[P], min_confidence: float = MIN_STYLE_CONFIDENCE) -> list[P]:
    """The preferences about how replies are written, at or above ``min_confidence``, most confident first."""
    found = [p for p in preferences if p.key.startswith(STYLE_PREFIXES) and p.confidence >= min_confidence]
    return sorted(found, key=lambda p: -p.confidence)


class FeedbackEntry(BaseModel):
    """One piece of feedback with its context.

    Attributes:
        id: Stable id (``fl_<hex>``).
        thread_id: The conversation.
        turn: The turn of the conversation the feedback is about (1-based).
        kind: accept, reject, like, not_for_me, critique or edit.
        item_id: The item concerned (accept, like, not_for_me; a reject without one is the whole list).
        text: The critique, or the user's rewrite of the reply for ``edit``.
        request: What the user said in that turn.
        reply: The agent's reply text.
        action: What the turn did (ask, recommend, ...).
        plan: The reply plan (``ReplyPlan.model_dump()``).
        shown: Item ids of the list on screen after that turn.
        memory: The user's memory when the feedback came.
        created_at: When it came.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    thread_id: str
    turn: int = Field(ge=1)
    kind: FeedbackKind
    item_id: str | None = None
    text: str = ""
    request: str = ""
    reply: str = ""
    action: str = ""
    plan: dict[str, Any] = Field(default_factory=dict)
    shown: list[str] = Field(default_factory=list)
    memory: MemorySnapshot = Field(default_factory=MemorySnapshot)
    created_at: datetime = Field(default_factory=utcnow)


T = TypeVar("T")


def _damage_named(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: FeedbackLog, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as err:
            if is_damage(err):
                raise damaged(self.store.path, f"damaged ({err})") from err
            raise

    return wrapper


class FeedbackLog:
    """The ``feedback_log`` table of a memory file.

    Args:
        store: The memory file's repository (its ``forget`` deletes these rows too).
    """

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    @_damage_named
    def add(self, user_id: str, entry: FeedbackEntry) -> FeedbackEntry:
        """Append an entry for this user."""
        check_user_id(user_id)
        check_thread_id(entry.thread_id)
        with self.store.writing(user_id) as con:
            con.execute(
                "INSERT INTO feedback_log (user_id, id, thread_id, turn, kind, body, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    user_id,
                    entry.id,
                    entry.thread_id,
                    entry.turn,
                    entry.kind,
                    entry.model_dump_json(),
                    entry.created_at.isoformat(),
                ),
            )
        return entry

    @_damage_named
    def entries(
        self, user_id: str, thread_id: str | None = None, kinds: Sequence[str] | None = None
    ) -> list[FeedbackEntry]:
        """This user's entries, oldest first (of one conversation and some kinds, when given)."""
        check_user_id(user_id)
        query, args = "SELECT body FROM feedback_log WHERE user_id = ?", [user_id]
        if thread_id is not None:
            query, args = query + " AND thread_id = ?", [*args, check_thread_id(thread_id)]
        if kinds is not None:
            unknown = set(kinds) - set(FEEDBACK_KINDS)
            if unknown:
                raise ValueError(f"unknown feedback kinds {sorted(unknown)}; expected some of {FEEDBACK_KINDS}")
            query += f" AND kind IN ({', '.join('?' * len(kinds))})"
            args += list(kinds)
        with self.store.reading() as con:
            rows = con.execute(query + " ORDER BY seq", args).fetchall()
        return [FeedbackEntry.model_validate_json(r[0]) for r in rows]

    @_damage_named
    def users(self) -> list[str]:
        """Every user with at least one entry (for building datasets over the whole log)."""
        with self.store.reading() as con:
            return sorted(r[0] for r in con.execute("SELECT DISTINCT user_id FROM feedback_log"))

    def export(self, user_id: str) -> list[dict[str, Any]]:
        """This user's entries as JSON-ready dicts."""
        return [e.model_dump(mode="json") for e in self.entries(user_id)]
