"""The exact parts of understanding: rules where the language is closed, not learned.

Checking a message is usable, pointing into the list just shown ("the second one", "#3"),
matching an answer to the options just offered, a request to stop asking, and attempts to reach
another user's data. Both readers (learned and pattern-based) share these.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.turn import PendingQuestion
from memory.instructions import clean
from memory.resolve import Resolver

MAX_MESSAGE_CHARS = 4000

ORDINALS = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
}
_LAST = re.compile(r"\b(?:the )?last one\b")
ORDINAL = re.compile(rf"\b(?:the )?({'|'.join(ORDINALS)})(?: one| film| movie| pick)?\b")
_NUMBER = re.compile(r"(?:#|\bnumber |\bno\.? ?)([1-9])\b")
DEICTIC = re.compile(r"\b(?:this|that|it)\b")
OTHER_USER = re.compile(
    r"\b(?:(?!my\b)\w+'s|other (?:users?|people)'?s?|someone else'?s|another user'?s?|every(?:one|body)'?s)\s+"
    r"(?:preferences|rules|instructions|memory|data|history|profile|likes|account)"
)
_YES = re.compile(r"^(?:yes|yeah|yep|sure|definitely|absolutely|of course|ok|okay|y)\b")
_NO = re.compile(r"^(?:no|nope|nah|not really|n)\b")
_ANY = re.compile(r"\b(?:any|anything|don'?t care|doesn'?t matter|no preference|whatever|surprise me|either)\b")
# A message that adds nothing to the search but asks for other films than those shown.
OTHERS = re.compile(r"\b(?:more|else|others?|another|different)\b")
JUST_RECOMMEND = re.compile(
    r"\b(?:just (?:recommend|suggest|show|pick|give)|surprise me|stop asking|no more questions|"
    r"(?:recommend|suggest|show me|give me|pick) (?:me )?(?:something|anything|a (?:movie|film)) (?:already|now)|"
    r"whatever you (?:think|like|want|recommend))\b"
)


def check(message: object) -> tuple[str, str | None]:
    """(clean text, problem or None): too long, empty, binary or undecodable messages have a problem."""
    if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS:
        return message[:200], f"the message is too long ({len(message)} characters; at most {MAX_MESSAGE_CHARS})"
    return clean(message)


def reference_spans(folded: str, shown: Sequence[str]) -> list[tuple[str, int, int]]:
    """(item id, start, end) of each pointer into the last list ("the second one", "#3", "the last one")."""
    if not shown:
        return []
    refs: list[tuple[int, int, int]] = []
    for m in ORDINAL.finditer(folded):
        refs.append((ORDINALS[m.group(1)], m.start(), m.end()))
    for m in _NUMBER.finditer(folded):
        refs.append((int(m.group(1)) - 1, m.start(), m.end()))
    for m in _LAST.finditer(folded):
        refs.append((len(shown) - 1, m.start(), m.end()))
    out: dict[str, tuple[str, int, int]] = {}
    for i, start, end in refs:
        if 0 <= i < len(shown) and shown[i] not in out:
            out[shown[i]] = (shown[i], start, end)
    return list(out.values())


def references(folded: str, shown: Sequence[str]) -> list[str]:
    """Item ids the user points at in the last list ("the second one", "#3", "the last one")."""
    return [item for item, _, _ in reference_spans(folded, shown)]


_JOINERS = re.compile(r"[\s,.;:!&+/]+|\b(?:and|or|both|please|maybe|either)\b")


def echoed_options(folded: str, question: PendingQuestion) -> list[str]:
    """The options a reply repeats word for word when it says nothing else ("an actor in Heat and Rudy").

    Options named through films read like a question about those films, so a reply made only of
    offered labels (joined by "and", "or", commas) is taken as the answer before any intent is read.
    """
    rest, chosen = folded, []
    for value, label in sorted(question.options, key=lambda o: -len(o[1])):  # "Heat 2" before "Heat"
        pattern = rf"(?<!\w){re.escape(label.casefold())}(?!\w)"
        if re.search(pattern, rest):
            chosen.append(value)
            rest = re.sub(pattern, " ", rest)
    if not chosen or _JOINERS.sub("", rest):
        return []
    order = [value for value, _ in question.options]
    return sorted(chosen, key=order.index)


def answer(folded: str, question: PendingQuestion, resolver: Resolver) -> list[str]:
    """The options a reply picks, or yes/no/any; empty when it answers nothing."""
    chosen = [value for value, label in question.options if re.search(rf"\b{re.escape(label.casefold())}\b", folded)]
    if question.attribute == "genre":
        genres = {m.value for m in resolver.genres(folded)}
        chosen += [value for value, _ in question.options if value in genres and value not in chosen]
    if question.attribute == "decade":
        for value, _ in question.options:
            short = f"{value[2:4]}s"  # "90s"
            if re.search(rf"\b{short}\b|\b{value[:4]}\b", folded) and value not in chosen:
                chosen.append(value)
    if not chosen and not re.search(r"\bnot\b", folded):
        chosen = [
            question.options[i][0]
            for i in (ORDINALS[m.group(1)] for m in ORDINAL.finditer(folded))
            if i < len(question.options)
        ]
    if chosen:
        return chosen
    if _ANY.search(folded):
        return ["any"]
    if len(question.options) == 1 and _YES.search(folded):
        return ["yes"]
    if _NO.search(folded):
        return ["no"]
    return []
