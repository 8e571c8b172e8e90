"""Input limits checked before a turn touches any store, and the conversation key.

A message is refused here, not by the reader: anything the graph receives is checkpointed in
the conversation's history, so an over-long or undecodable message must never reach it (a
10 MB message once cost 80 MB on disk plus ~70 MB for each later turn of that conversation).
"""

from __future__ import annotations

from agent.understanding.exact import MAX_MESSAGE_CHARS
from memory.ids import check_thread_id, check_user_id, unicode_problem

__all__ = ["DEFAULT_THREAD", "MAX_MESSAGE_CHARS", "InputError", "check_message", "conversation_key", "split_key"]

DEFAULT_THREAD = "default"
_SEP = "\x1f"  # a control character: check_user_id and check_thread_id refuse it in either part


class InputError(ValueError):
    """A message that cannot be taken: too long, or not valid Unicode text."""


def check_message(message: object) -> str:
    """The message as text, or ``InputError`` saying why it cannot be used.

    Bytes must be UTF-8; other non-string values are turned into text. Empty or junk text
    passes: the reader answers it, and it costs nothing to keep.

    Raises:
        InputError: Over ``MAX_MESSAGE_CHARS`` characters, invalid UTF-8, or a lone surrogate.
    """
    if isinstance(message, bytes | bytearray):
        if len(message) > 4 * MAX_MESSAGE_CHARS:  # a UTF-8 character has at most 4 bytes
            raise InputError(f"the message is too long ({len(message)} bytes; at most {MAX_MESSAGE_CHARS} characters)")
        try:
            message = bytes(message).decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(f"the message is not valid UTF-8 (byte {err.start})") from None
    text = message if isinstance(message, str) else str(message)
    if len(text) > MAX_MESSAGE_CHARS:
        raise InputError(f"the message is too long ({len(text)} characters; at most {MAX_MESSAGE_CHARS})")
    problem = unicode_problem(text)
    if problem is not None:
        raise InputError(f"the message is {problem}")
    return text


def conversation_key(user_id: str, thread_id: str | None) -> str:
    """The checkpoint key of a user's conversation; distinct (user, thread) pairs never share one.

    Both ids are validated here, so neither can hold the separator and the key splits back
    into exactly one pair (``split_key``). The format is the one earlier versions wrote, so
    existing conversations stay reachable.

    Raises:
        ValueError: An invalid user or thread id.
    """
    thread = DEFAULT_THREAD if thread_id is None else thread_id
    return f"{check_user_id(user_id)}{_SEP}{check_thread_id(thread)}"


def split_key(key: str) -> tuple[str, str]:
    """The (user, thread) pair of a conversation key: the inverse of ``conversation_key``."""
    user_id, thread_id = key.split(_SEP)  # exactly one separator: a second one fails to unpack
    return user_id, thread_id
