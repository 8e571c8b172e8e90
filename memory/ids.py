"""Who and which conversation: the one validation of user and thread ids, used everywhere.

Ids reach Tastebud from authentication headers, request bodies, command lines and the demo.
They are keys in SQLite and in conversation checkpoints, so they must encode as UTF-8 (a lone
surrogate does not) and must not hold control characters: ``\\x1f`` separates the user from
the thread in a conversation key (``agent.limits.conversation_key``), and refusing it in both
parts is what makes that key unambiguous.
"""

from __future__ import annotations

import unicodedata

MAX_ID_CHARS = 256


def unicode_problem(text: str) -> str | None:
    """Why a string is not valid Unicode text (a lone surrogate), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"invalid Unicode (a lone surrogate at position {err.start})"
    return None


def _shown(value: object) -> str:
    text = repr(value)  # repr escapes surrogates and control characters, so the message always prints
    return text if len(text) <= 60 else text[:57] + "..."


def _check_id(value: object, what: str) -> str:
    expected = f"expected a non-empty string of at most {MAX_ID_CHARS} characters without control characters"
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
        raise ValueError(f"invalid {what} {_shown(value)}: {expected}")
    problem = unicode_problem(value)
    if problem is not None:
        raise ValueError(f"invalid {what} {_shown(value)}: {problem}")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError(f"invalid {what} {_shown(value)}: {expected}")
    return value


def check_user_id(user_id: object) -> str:
    """Validate a user id and return it.

    Args:
        user_id: Whose memory and conversations; from the caller's authentication.

    Raises:
        ValueError: Not a string, empty, over 256 characters, invalid Unicode or holding a control character.
    """
    return _check_id(user_id, "user_id")


def check_thread_id(thread_id: object) -> str:
    """Validate a thread (conversation) id and return it; the same rules as ``check_user_id``.

    Raises:
        ValueError: Not a string, empty, over 256 characters, invalid Unicode or holding a control character.
    """
    return _check_id(thread_id, "thread_id")
