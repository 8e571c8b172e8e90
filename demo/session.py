"""Per-browser-session state of the demo and the pure helpers around it (no Gradio here).

A ``Session`` lives in a ``gr.State``: Gradio gives every browser tab its own copy, so
one visitor's user name, conversation and cards never leak to another. Module globals
would be shared by all visitors, which is why nothing per-user lives at module level.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from agent.reply import Option, Recommendation, Reply

MAX_CARDS = 5
"""Cards shown at most: the agent understands ordinals up to "the fifth one"."""

MAX_OPTIONS = 8
"""Option buttons shown at most for one question."""

MAX_NAME_CHARS = 64
MAX_SHOWN_MESSAGE_CHARS = 1500
"""Longer chat messages are shortened on screen (the agent still gets the full text)."""

ORDINALS = ("first", "second", "third", "fourth", "fifth")

CardAction = Literal["like", "reject", "why"]


@dataclass(frozen=True)
class Session:
    """What one browser tab knows: who is chatting, in which conversation, and what is on screen.

    Attributes:
        user: The user id (the normalised name); memory and conversations are kept per user.
        threads: Each user's current conversation id in this tab ("default" until "New conversation").
        cards: The recommendations on screen, in the agent's order (ordinals refer to them).
        options: The options of the pending question, as buttons.
    """

    user: str = ""
    threads: dict[str, str] = field(default_factory=dict)
    cards: tuple[Recommendation, ...] = ()
    options: tuple[Option, ...] = ()

    @property
    def thread(self) -> str:
        """The current conversation of the current user."""
        return self.threads.get(self.user, "default")

    def switch(self, user: str) -> Session:
        """The same tab, chatting as another user (their conversation resumes; nothing on screen)."""
        return replace(self, user=user, cards=(), options=())

    def new_conversation(self) -> Session:
        """A fresh conversation for the current user; memory is kept."""
        threads = {**self.threads, self.user: uuid.uuid4().hex[:12]}
        return replace(self, threads=threads, cards=(), options=())

    def after(self, reply: Reply) -> Session:
        """What is on screen after a reply.

        New recommendations replace the cards. A question removes them: while a question is
        pending the agent reads "the second one" as its second option, so card buttons would
        mean something else. Other replies (explanations, notes) leave the cards as they are.
        """
        cards = self.cards
        if reply.recommendations:
            cards = tuple(reply.recommendations[:MAX_CARDS])
        elif reply.question is not None or reply.intent == "reset":
            cards = ()
        options = tuple(reply.question.options[:MAX_OPTIONS]) if reply.question else ()
        return replace(self, cards=cards, options=options)


def guest_name() -> str:
    """A random name for a new tab, so two visitors never share memory by accident."""
    return f"guest-{secrets.token_hex(3)}"


def normalise_name(name: object) -> str:
    """The user id for a typed name: trimmed, inner spaces collapsed, case-folded ("Alice " -> "alice").

    Raises:
        ValueError: Empty, too long, or not printable text.
    """
    if not isinstance(name, str):
        raise ValueError("a name must be text")
    text = " ".join(name.split()).casefold()
    if not text:
        raise ValueError("please type a name")
    if len(text) > MAX_NAME_CHARS:
        raise ValueError(f"a name has at most {MAX_NAME_CHARS} characters")
    if not text.isprintable():
        raise ValueError("a name must be printable text")
    return text


def card_message(action: CardAction, index: int) -> str:
    """The chat message a card button sends, in words the agent understands.

    Ordinals are used rather than titles: a title such as "The First Wives Club" would
    itself read as an ordinal.
    """
    if not 0 <= index < len(ORDINALS):
        raise ValueError(f"card index {index} out of range")
    ordinal = ORDINALS[index]
    if action == "like":
        return f"I liked the {ordinal} one"
    if action == "reject":
        return f"The {ordinal} one is not for me"
    if action == "why":
        return f"Why the {ordinal} one?"
    raise ValueError(f"unknown card action {action!r}")


def shorten(text: str, limit: int = MAX_SHOWN_MESSAGE_CHARS) -> str:
    """Text as shown in the chat: very long messages are cut, with their length noted."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters in all)"


def chat_messages(history: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Gradio chat messages from ``Agent.history`` pairs."""
    return [{"role": role, "content": shorten(text)} for role, text in history]


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+|!])")


def escape_md(text: str) -> str:
    """Text safe to put inside Markdown (titles like "Star Wars: Episode IV" or "Face/Off")."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def card_markdown(rec: Recommendation, index: int) -> str:
    """A card's text: number, title, year, genres, and the reason it was picked."""
    year = f" ({rec.year})" if rec.year else ""
    genres = " · ".join(rec.genres) or "no genre listed"
    return f"**{index + 1}. {escape_md(rec.title)}**{year}\n\n*{escape_md(genres)}*\n\n{escape_md(rec.reason)}"
